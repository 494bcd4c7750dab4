//! RBAC's escalation prevention over real HTTP: a namespace admin (ClusterRole `admin`
//! bound in the namespace) may write roles and bindings, but grant only what they hold,
//! unless they have `escalate` on roles or `bind` on the role they bind.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use wasmkube_pki::{Subject, Usage};

use crate::support::{Cluster, Reply, start_cluster};
use crate::tls::HttpsClient;

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";
const TEAM_ROLES: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles";
const TEAM_BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings";
/// How long a policy change may take to reach RBAC's index, which follows the store's
/// watch; only a broken server takes longer.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);
/// alice's groups as Kubernetes prints them in an escalation refusal.
const ALICE: &str = r#"user "alice" (groups=["dev" "system:authenticated"])"#;

/// A client acting as alice, a user with a client certificate of the cluster CA.
struct Alice<'a> {
    cluster: &'a Cluster,
    client: HttpsClient<Full<Bytes>>,
}

impl Alice<'_> {
    async fn request(&self, method: Method, path: &str, content_type: &str, body: &Value) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(self.cluster.uri(path))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a well-formed request");
        let response = tokio::time::timeout(POLICY_PATIENCE, self.client.request(request))
            .await
            .unwrap_or_else(|_| panic!("no response to {path}"))
            .unwrap_or_else(|error| panic!("sending the request to {path}: {error:?}"));
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|error| panic!("reading the response to {path}: {error}"))
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, "application/json", &Value::Null)
            .await
    }

    async fn post(&self, path: &str, object: &Value) -> Reply {
        self.request(Method::POST, path, "application/json", object)
            .await
    }

    async fn put(&self, path: &str, object: &Value) -> Reply {
        self.request(Method::PUT, path, "application/json", object)
            .await
    }

    async fn merge_patch(&self, path: &str, patch: &Value) -> Reply {
        self.request(Method::PATCH, path, "application/merge-patch+json", patch)
            .await
    }

    /// Posts until the answer is `status`, for requests that depend on a policy change
    /// RBAC's index has yet to see.
    async fn post_until(&self, path: &str, object: &Value, status: u16) -> Reply {
        let deadline = tokio::time::Instant::now() + POLICY_PATIENCE;
        loop {
            let reply = self.post(path, object).await;
            if reply.status.as_u16() == status || tokio::time::Instant::now() > deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A cluster with the namespace `team`, where alice (group `dev`) is bound to the
/// ClusterRole `admin`, once RBAC lets her act on it.
async fn namespace_admin_alice(cluster: &Cluster) -> Alice<'_> {
    cluster
        .create("/api/v1/namespaces", &json!({"metadata": {"name": "team"}}))
        .await;
    cluster
        .create(
            TEAM_BINDINGS,
            &binding("alice-admin", "ClusterRole", "admin", "alice"),
        )
        .await;
    let identity = crate::tls::identity(
        &cluster.plane,
        &Subject::new("alice", &["dev"]),
        Usage::Client,
        &[],
    );
    let alice = Alice {
        cluster,
        client: crate::tls::https_client_as(&cluster.plane, Some(&identity)),
    };
    let deadline = tokio::time::Instant::now() + POLICY_PATIENCE;
    while !alice.get(TEAM_ROLES).await.status.is_success() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice never became an admin of team"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    alice
}

fn role(kind: &str, name: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "rules": rules,
    })
}

fn binding(name: &str, role_kind: &str, role_name: &str, user: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
    })
}

fn cluster_role_binding(name: &str, role_name: &str, user: &str) -> Value {
    let mut object = binding(name, "ClusterRole", role_name, user);
    object["kind"] = json!("ClusterRoleBinding");
    object
}

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": [group], "resources": resources})
}

/// The refusal's message, after checking it is Kubernetes' 403 for `kind` and `name`.
fn refusal(reply: &Reply, kind: &str, name: &str) -> String {
    let status = reply.expect_failure(403, "Forbidden");
    assert_eq!(
        status["details"],
        json!({"name": name, "group": "rbac.authorization.k8s.io", "kind": kind}),
        "{status}"
    );
    status["message"].as_str().expect("a message").to_owned()
}

#[tokio::test]
async fn roles_grant_only_what_their_writer_holds() {
    let cluster = start_cluster().await;
    let alice = namespace_admin_alice(&cluster).await;

    let pod_reader = role(
        "Role",
        "pod-reader",
        json!([rule(&["get", "list"], "", &["pods"])]),
    );
    alice.post(TEAM_ROLES, &pod_reader).await.expect(201);

    // admin reads quotas but does not write them: a Role that creates them escalates.
    let quota_maker = role(
        "Role",
        "quota-maker",
        json!([rule(&["create"], "", &["resourcequotas"])]),
    );
    let refused = alice.post(TEAM_ROLES, &quota_maker).await;
    assert_eq!(
        refusal(&refused, "roles", "quota-maker"),
        format!(
            "roles.rbac.authorization.k8s.io \"quota-maker\" is forbidden: {ALICE} is attempting \
             to grant RBAC permissions not currently held:\n\
             {{APIGroups:[\"\"], Resources:[\"resourcequotas\"], Verbs:[\"create\"]}}"
        )
    );
    let dry_run = alice
        .post(&format!("{TEAM_ROLES}?dryRun=All"), &quota_maker)
        .await;
    refusal(&dry_run, "roles", "quota-maker");

    // Updates and patches are checked as creates are.
    let pod_reader_path = format!("{TEAM_ROLES}/pod-reader");
    let mut widened = pod_reader.clone();
    widened["rules"] = json!([
        rule(&["get", "list"], "", &["pods"]),
        rule(&["create", "delete"], "", &["resourcequotas"]),
    ]);
    let refused = alice.put(&pod_reader_path, &widened).await;
    assert!(refusal(&refused, "roles", "pod-reader").ends_with(
        "not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"resourcequotas\"], Verbs:[\"create\" \"delete\"]}"
    ));
    let refused = alice
        .merge_patch(&pod_reader_path, &json!({"rules": widened["rules"]}))
        .await;
    refusal(&refused, "roles", "pod-reader");
    let dry_run = alice
        .merge_patch(
            &format!("{pod_reader_path}?dryRun=All"),
            &json!({"rules": widened["rules"]}),
        )
        .await;
    refusal(&dry_run, "roles", "pod-reader");
    let narrowed = alice
        .merge_patch(
            &pod_reader_path,
            &json!({"metadata": {"labels": {"team": "yes"}}, "rules": [rule(&["get"], "", &["pods"])]}),
        )
        .await
        .expect(200);
    assert_eq!(narrowed["rules"], json!([rule(&["get"], "", &["pods"])]));
    let stored = cluster.get(&pod_reader_path).await.expect(200);
    assert_eq!(
        stored["rules"], narrowed["rules"],
        "nothing refused was written"
    );

    // With `escalate` on roles in the namespace, anything goes there.
    cluster
        .create(
            TEAM_ROLES,
            &role(
                "Role",
                "escalator",
                json!([rule(&["escalate"], "rbac.authorization.k8s.io", &["roles"])]),
            ),
        )
        .await;
    cluster
        .create(
            TEAM_BINDINGS,
            &binding("alice-escalator", "Role", "escalator", "alice"),
        )
        .await;
    alice
        .post_until(TEAM_ROLES, &quota_maker, 201)
        .await
        .expect(201);
    alice.put(&pod_reader_path, &widened).await.expect(200);
}

#[tokio::test]
async fn cluster_roles_grant_only_what_is_held_cluster_wide_and_aggregate_only_for_cluster_admins()
{
    let cluster = start_cluster().await;
    let alice = namespace_admin_alice(&cluster).await;
    let cluster_roles = format!("{RBAC}/clusterroles");
    cluster
        .create(
            &cluster_roles,
            &role(
                "ClusterRole",
                "clusterrole-writer",
                json!([rule(
                    &["create", "update", "patch"],
                    "rbac.authorization.k8s.io",
                    &["clusterroles"]
                )]),
            ),
        )
        .await;
    cluster
        .create(
            &format!("{RBAC}/clusterrolebindings"),
            &cluster_role_binding("alice-clusterrole-writer", "clusterrole-writer", "alice"),
        )
        .await;

    let copy = role(
        "ClusterRole",
        "writer-copy",
        json!([rule(
            &["create"],
            "rbac.authorization.k8s.io",
            &["clusterroles"]
        )]),
    );
    alice
        .post_until(&cluster_roles, &copy, 201)
        .await
        .expect(201);

    // alice's admin rights in `team` are not hers cluster-wide.
    let pod_reader = role(
        "ClusterRole",
        "pod-reader",
        json!([rule(&["get"], "", &["pods"])]),
    );
    let refused = alice.post(&cluster_roles, &pod_reader).await;
    assert_eq!(
        refusal(&refused, "clusterroles", "pod-reader"),
        format!(
            "clusterroles.rbac.authorization.k8s.io \"pod-reader\" is forbidden: {ALICE} is \
             attempting to grant RBAC permissions not currently held:\n\
             {{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}}"
        )
    );

    // An aggregationRule can gather anything, so only those who hold everything set it.
    let mut aggregator = role("ClusterRole", "aggregator", json!([]));
    aggregator["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate": "true"}}]});
    let refused = alice.post(&cluster_roles, &aggregator).await;
    assert_eq!(
        refusal(&refused, "clusterroles", "aggregator"),
        "clusterroles.rbac.authorization.k8s.io \"aggregator\" is forbidden: must have \
         cluster-admin privileges to use the aggregationRule"
    );
    let refused = alice
        .merge_patch(
            &format!("{cluster_roles}/writer-copy"),
            &json!({"aggregationRule": aggregator["aggregationRule"]}),
        )
        .await;
    refusal(&refused, "clusterroles", "writer-copy");
    cluster.create(&cluster_roles, &aggregator).await;
}

#[tokio::test]
async fn bindings_grant_only_roles_their_writer_holds_or_may_bind() {
    let cluster = start_cluster().await;
    let alice = namespace_admin_alice(&cluster).await;

    // Everything `view` grants is part of `admin`.
    alice
        .post(
            TEAM_BINDINGS,
            &binding("bob-view", "ClusterRole", "view", "bob"),
        )
        .await
        .expect(201);
    alice
        .post(
            TEAM_ROLES,
            &role("Role", "pod-reader", json!([rule(&["get"], "", &["pods"])])),
        )
        .await
        .expect(201);
    alice
        .post_until(
            TEAM_BINDINGS,
            &binding("bob-pod-reader", "Role", "pod-reader", "bob"),
            201,
        )
        .await
        .expect(201);

    let cluster_admin = binding(
        "alice-cluster-admin",
        "ClusterRole",
        "cluster-admin",
        "alice",
    );
    let refused = alice.post(TEAM_BINDINGS, &cluster_admin).await;
    assert_eq!(
        refusal(&refused, "rolebindings", "alice-cluster-admin"),
        format!(
            "rolebindings.rbac.authorization.k8s.io \"alice-cluster-admin\" is forbidden: \
             {ALICE} is attempting to grant RBAC permissions not currently held:\n\
             {{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}}\n\
             {{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}}"
        )
    );
    refusal(
        &alice
            .post(&format!("{TEAM_BINDINGS}?dryRun=All"), &cluster_admin)
            .await,
        "rolebindings",
        "alice-cluster-admin",
    );

    // A role that does not exist can be bound only with `bind`: without it, its absence
    // is the answer.
    let missing = alice
        .post(
            TEAM_BINDINGS,
            &binding("bob-missing", "ClusterRole", "no-such-role", "bob"),
        )
        .await;
    let status = missing.expect_failure(404, "NotFound");
    assert_eq!(
        status["message"],
        "clusterroles.rbac.authorization.k8s.io \"no-such-role\" not found"
    );

    // Adding oneself to someone else's binding of cluster-admin is refused as well.
    cluster
        .create(
            TEAM_BINDINGS,
            &binding("dave-cluster-admin", "ClusterRole", "cluster-admin", "dave"),
        )
        .await;
    let join = json!({"subjects": [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "dave"},
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
    ]});
    let joined_path = format!("{TEAM_BINDINGS}/dave-cluster-admin");
    refusal(
        &alice.merge_patch(&joined_path, &join).await,
        "rolebindings",
        "dave-cluster-admin",
    );

    // `bind` on clusterroles/cluster-admin in the namespace lets her bind it there.
    cluster
        .create(
            TEAM_ROLES,
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "cluster-admin-binder"},
                "rules": [{
                    "verbs": ["bind"],
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["clusterroles"],
                    "resourceNames": ["cluster-admin"],
                }],
            }),
        )
        .await;
    cluster
        .create(
            TEAM_BINDINGS,
            &binding("alice-binder", "Role", "cluster-admin-binder", "alice"),
        )
        .await;
    alice
        .post_until(TEAM_BINDINGS, &cluster_admin, 201)
        .await
        .expect(201);
    alice.merge_patch(&joined_path, &join).await.expect(200);
}
