//! Impersonation over real HTTPS and with the real kubectl (`--as`, `--as-group`): each
//! impersonated part is authorized, verb `impersonate`, against the real requester, and
//! the request then acts as the impersonated user.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use wasmkube_pki::tls::TlsIdentity;
use wasmkube_pki::{Subject, Usage};

use crate::kubectl_cli::Kubectl;
use crate::support::{Cluster, start_cluster};

const CLUSTER_ROLES: &str = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
const CLUSTER_ROLE_BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
/// How long a policy change may take to reach RBAC's index, which follows the store's
/// watch; only a broken server takes longer.
const POLICY_PATIENCE: Duration = Duration::from_secs(10);

/// Binds `user` to a new ClusterRole of `rules`.
async fn grant(cluster: &Cluster, user: &str, rules: serde_json::Value) {
    cluster
        .create(
            CLUSTER_ROLES,
            &json!({"metadata": {"name": format!("{user}-role")}, "rules": rules}),
        )
        .await;
    cluster
        .create(
            CLUSTER_ROLE_BINDINGS,
            &json!({
                "metadata": {"name": format!("{user}-binding")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{user}-role")},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
            }),
        )
        .await;
}

/// The message of the 403 a GET of the namespaces with these headers gets, sent over
/// HTTPS as `identity`.
async fn refusal(cluster: &Cluster, identity: &TlsIdentity, headers: &[(&str, &str)]) -> String {
    let client = crate::tls::https_client_as(&cluster.plane, Some(identity));
    let mut request = Request::builder().uri(cluster.uri("/api/v1/namespaces"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::new()))
        .expect("a well-formed request");
    let response = client.request(request).await.expect("a response");
    assert_eq!(response.status().as_u16(), 403);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    let status: serde_json::Value = serde_json::from_slice(&body).expect("a Status");
    assert_eq!(status["reason"], "Forbidden", "{status}");
    status["message"].as_str().expect("a message").to_owned()
}

/// Runs kubectl until it succeeds, for a policy change RBAC's index has yet to see.
async fn run_until_allowed(kubectl: &Kubectl, arguments: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + POLICY_PATIENCE;
    loop {
        let run = kubectl.run(arguments).await;
        if run.success || tokio::time::Instant::now() > deadline {
            return run.expect_success(&arguments.join(" "));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_admin_acts_as_the_impersonated_user() {
    let cluster = start_cluster().await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubectl = Kubectl::new("kubectl.1.33", directory.path(), &cluster.plane);

    let whoami = kubectl
        .run(&["auth", "whoami", "--as=nobody", "-o", "json"])
        .await
        .expect_success("kubectl auth whoami --as=nobody");
    let review: serde_json::Value = serde_json::from_str(&whoami).expect("JSON");
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "nobody", "groups": ["system:authenticated"]})
    );

    let as_service_account = kubectl
        .run(&[
            "auth",
            "whoami",
            "--as=system:serviceaccount:demo:ci2",
            "-o",
            "json",
        ])
        .await
        .expect_success("kubectl auth whoami --as=<service account>");
    let review: serde_json::Value = serde_json::from_str(&as_service_account).expect("JSON");
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:demo",
            "system:authenticated"
        ])
    );

    // The admin may delete pods; the ServiceAccount, with no role, may not.
    let admin = kubectl.run(&["auth", "can-i", "delete", "pods"]).await;
    assert_eq!(admin.stdout.trim(), "yes");
    let impersonated = kubectl
        .run(&[
            "auth",
            "can-i",
            "delete",
            "pods",
            "--as=system:serviceaccount:demo:ci2",
        ])
        .await;
    assert_eq!(impersonated.stdout.trim(), "no", "{}", impersonated.stderr);
    let as_masters = kubectl
        .run(&[
            "auth",
            "can-i",
            "delete",
            "pods",
            "--as=nobody",
            "--as-group=system:masters",
        ])
        .await;
    assert_eq!(as_masters.stdout.trim(), "yes", "{}", as_masters.stderr);
}

#[tokio::test]
async fn impersonation_is_authorized_against_the_real_requester() {
    let cluster = start_cluster().await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let alice_subject = Subject::new("alice", &["dev"]);
    let alice_identity = crate::tls::identity(&cluster.plane, &alice_subject, Usage::Client, &[]);
    let alice = Kubectl::as_user(
        "kubectl.1.33",
        directory.path(),
        &cluster.plane,
        &alice_subject,
    );

    let refused = refusal(&cluster, &alice_identity, &[("impersonate-user", "nobody")]).await;
    assert_eq!(
        refused,
        r#"users "nobody" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );

    // A role granting impersonation of one user name works for that name only.
    grant(
        &cluster,
        "alice",
        json!([{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"], "resourceNames": ["bob"]}]),
    )
    .await;
    let as_bob = run_until_allowed(&alice, &["auth", "whoami", "--as=bob"]).await;
    assert!(as_bob.contains("bob"), "{as_bob}");
    let as_carol = refusal(&cluster, &alice_identity, &[("impersonate-user", "carol")]).await;
    assert!(
        as_carol.starts_with(r#"users "carol" is forbidden: User "alice" cannot impersonate"#),
        "{as_carol}"
    );
    // Groups need their own grant.
    let with_group = refusal(
        &cluster,
        &alice_identity,
        &[
            ("impersonate-user", "bob"),
            ("impersonate-group", "system:masters"),
        ],
    )
    .await;
    assert_eq!(
        with_group,
        r#"groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope"#
    );
}

#[tokio::test]
async fn groups_without_a_user_are_refused_as_kubernetes_refuses_them() {
    let cluster = start_cluster().await;
    let reply = cluster
        .request(
            http::Method::GET,
            "/api/v1/namespaces",
            &[("impersonate-group", "system:masters")],
            bytes::Bytes::new(),
        )
        .await;
    let status = reply.expect_failure(500, "InternalError");
    assert_eq!(
        status["message"],
        "Internal error occurred: requested [{Group  system:masters    }] without impersonating a user"
    );
}

#[tokio::test]
async fn an_impersonated_request_is_authorized_as_the_impersonated_user() {
    let cluster = start_cluster().await;
    let reply = cluster
        .request(
            http::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &[
                ("content-type", "application/json"),
                ("impersonate-user", "nobody"),
                ("impersonate-extra-scopes", "view"),
            ],
            json!({"metadata": {"name": "impersonated"}}).to_string(),
        )
        .await;
    // nobody may not create ConfigMaps: authorization decides for the impersonated user.
    let status = reply.expect_failure(403, "Forbidden");
    assert!(
        status["message"].as_str().is_some_and(
            |message| message.contains(r#"User "nobody" cannot create resource "configmaps""#)
        ),
        "{status}"
    );
}
