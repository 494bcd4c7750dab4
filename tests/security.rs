//! A secure cluster seen from outside, with real processes: a `wasmkube server`, two
//! `wasmkube node`s that joined it, the machine's real kubectl and a small HTTPS client.
//! Who may do what is checked against what Kubernetes answers: 401 without (or with
//! wrong) credentials, RBAC's 403 and its message for minted users and ServiceAccounts,
//! the node authorizer's limits on a node's own credentials, the node endpoint's TLS,
//! and the audit log.

mod support;

#[path = "security/https.rs"]
mod https;
#[path = "security/nodes.rs"]
mod nodes;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use https::{Answer, Credentials, cluster_authority, kubeconfig_identity, request};
use serde_json::{Value, json};
use support::{Cluster, kubectl_as, mint, ok, text};
use wasmkube_wasm_guests::WasmTarget;

/// The newest kubectl the machine has; `kubectl` itself may be an older dispatcher.
const KUBECTL: &str = "kubectl.1.33";
const OLD_KUBECTL: &str = "kubectl.1.27";

/// Runs kubectl with `kubeconfig` (and never the test run's KUBECONFIG).
/// Asserts that the command failed and returns what it said on stderr.
fn refused(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "the command was allowed: {stdout}{stderr}"
    );
    stderr.trim().to_owned()
}

fn api_address(cluster: &Cluster) -> SocketAddr {
    cluster.address.parse().expect("the API server's address")
}

/// Kubernetes' answer to a request it cannot authenticate, whatever the path.
fn assert_unauthorized(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
        "{what}"
    );
}

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"intruder"},
"spec":{"containers":[{"name":"app","image":"testbox:1"}]}}"#;

/// Everything but the health and version endpoints needs credentials.
const PROTECTED: [(&str, &str); 9] = [
    ("GET", "/api"),
    ("GET", "/apis"),
    ("GET", "/api/v1/pods"),
    ("GET", "/api/v1/namespaces/default/secrets"),
    ("GET", "/openapi/v2"),
    ("GET", "/metrics"),
    ("GET", "/wasmkube/v1/images"),
    ("GET", "/api/v1/namespaces/default/pods?watch=true"),
    ("POST", "/api/v1/namespaces/default/pods"),
];
const PUBLIC: [&str; 4] = ["/healthz", "/livez", "/readyz", "/version"];

fn check_anonymous_and_wrong_credentials(cluster: &Cluster, nobody: &Path) {
    let authority = cluster_authority(&cluster.data_dir);
    let address = api_address(cluster);
    let send = |credentials, method: &str, path: &str| {
        let body = (method == "POST").then_some(POD);
        request(&authority, address, credentials, method, path, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    };
    for (method, path) in PROTECTED {
        let answer = send(Credentials::None, method, path);
        assert_unauthorized(&answer, &format!("anonymous {method} {path}"));
        let answer = send(Credentials::BearerToken("not-a-token"), method, path);
        assert_unauthorized(&answer, &format!("wrong token, {method} {path}"));
    }
    for path in PUBLIC {
        let answer = send(Credentials::None, "GET", path);
        assert_eq!(answer.status, 200, "anonymous GET {path}: {}", answer.body);
        // Credentials that do not authenticate are refused even where none are needed.
        let answer = send(Credentials::BearerToken("not-a-token"), "GET", path);
        assert_unauthorized(&answer, &format!("wrong token, GET {path}"));
    }

    // The same client gets in with real credentials: the admin's static token, and a
    // minted user's certificate, which RBAC then holds to discovery.
    let tokens = std::fs::read_to_string(cluster.data_dir.join("tokens.csv")).expect("tokens.csv");
    let admin_token = tokens.split(',').next().expect("a token");
    let answer = send(Credentials::BearerToken(admin_token), "GET", "/api/v1/pods");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let identity = kubeconfig_identity(nobody);
    let answer = send(Credentials::Certificate(&identity), "GET", "/api");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = send(Credentials::Certificate(&identity), "GET", "/api/v1/pods");
    assert_eq!(
        (answer.status, answer.json()),
        (
            403,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "pods is forbidden: User \"nobody\" cannot list resource \"pods\" in API group \"\" at the cluster scope",
                   "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403})
        )
    );
}

fn check_a_user_without_bindings(nobody: &Path) {
    assert_eq!(
        refused(kubectl_as(nobody, KUBECTL, &["get", "pods"])),
        r#"Error from server (Forbidden): pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    assert_eq!(
        refused(kubectl_as(
            nobody,
            KUBECTL,
            &["create", "configmap", "denied"]
        )),
        r#"error: failed to create configmap: configmaps is forbidden: User "nobody" cannot create resource "configmaps" in API group "" in the namespace "default""#
    );
    for binary in [KUBECTL, OLD_KUBECTL] {
        let answer = kubectl_as(nobody, binary, &["auth", "can-i", "list", "pods"]);
        assert_eq!(
            answer.status.code(),
            Some(1),
            "{binary}: {:?}",
            text(&answer)
        );
        assert_eq!(text(&answer).0.trim(), "no", "{binary}");
    }
    let whoami = ok(kubectl_as(nobody, KUBECTL, &["auth", "whoami"]));
    let rows: Vec<Vec<&str>> = whoami
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["ATTRIBUTE", "VALUE"],
            vec!["Username", "nobody"],
            vec!["Groups", "[system:authenticated]"]
        ]
    );
    let rules = ok(kubectl_as(nobody, KUBECTL, &["auth", "can-i", "--list"]));
    let rows: Vec<Vec<&str>> = rules
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec![
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]"
        ]),
        "{rules}"
    );
    assert!(rows.contains(&vec!["[/api]", "[]", "[get]"]), "{rules}");
    assert!(!rules.contains("pods"), "{rules}");
}

fn check_a_viewer_and_an_editor(cluster: &Cluster, directory: &Path) {
    ok(cluster.kubectl("kubectl", &["create", "namespace", "team"]));
    let viewer = mint(
        cluster,
        directory,
        "viewer",
        &["--user", "viewer", "-n", "team", "--clusterrole", "view"],
    );
    ok(kubectl_as(&viewer, KUBECTL, &["get", "pods", "-n", "team"]));
    assert_eq!(
        refused(kubectl_as(
            &viewer,
            KUBECTL,
            &["get", "pods", "-n", "default"]
        )),
        r#"Error from server (Forbidden): pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    assert_eq!(
        refused(kubectl_as(
            &viewer,
            KUBECTL,
            &["create", "configmap", "denied", "-n", "team"]
        )),
        r#"error: failed to create configmap: configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API group "" in the namespace "team""#
    );
    assert_eq!(
        refused(kubectl_as(
            &viewer,
            KUBECTL,
            &["get", "secrets", "-n", "team"]
        )),
        r#"Error from server (Forbidden): secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "team""#
    );
    for binary in [KUBECTL, OLD_KUBECTL] {
        let can = |verb: &str, resource: &str| {
            let answer = kubectl_as(&viewer, binary, &["auth", "can-i", verb, resource]);
            text(&answer).0.trim().to_owned()
        };
        // The kubeconfig's context is in team, so can-i asks about team.
        assert_eq!(can("list", "pods"), "yes", "{binary}");
        assert_eq!(can("list", "secrets"), "no", "{binary}");
        assert_eq!(can("create", "pods"), "no", "{binary}");
        let rules = ok(kubectl_as(&viewer, binary, &["auth", "can-i", "--list"]));
        let pods_rule = rules
            .lines()
            .find(|line| line.starts_with("pods "))
            .unwrap_or_else(|| panic!("{binary}: no rule for pods in {rules}"));
        assert!(
            pods_rule.ends_with("[get list watch]"),
            "{binary}: {pods_rule}"
        );
    }

    let editor = mint(
        cluster,
        directory,
        "editor",
        &["--user", "editor", "-n", "team", "--clusterrole", "edit"],
    );
    assert_eq!(
        ok(kubectl_as(
            &editor,
            KUBECTL,
            &["create", "deployment", "web", "--image=testbox:1"]
        ))
        .trim(),
        "deployment.apps/web created"
    );
}

fn check_a_service_account(cluster: &Cluster, directory: &Path) {
    ok(cluster.kubectl(
        "kubectl",
        &[
            "create",
            "role",
            "configmap-reader",
            "-n",
            "team",
            "--verb=get,list",
            "--resource=configmaps",
        ],
    ));
    let ci = mint(
        cluster,
        directory,
        "ci",
        &[
            "--service-account",
            "ci",
            "-n",
            "team",
            "--role",
            "configmap-reader",
        ],
    );
    let names = ok(kubectl_as(
        &ci,
        KUBECTL,
        &["get", "configmaps", "-o", "name"],
    ));
    assert!(names.contains("configmap/kube-root-ca.crt"), "{names}");
    assert_eq!(
        refused(kubectl_as(
            &ci,
            KUBECTL,
            &["get", "configmaps", "-n", "default"]
        )),
        r#"Error from server (Forbidden): configmaps is forbidden: User "system:serviceaccount:team:ci" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    assert_eq!(
        refused(kubectl_as(&ci, KUBECTL, &["get", "pods"])),
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:ci" cannot list resource "pods" in API group "" in the namespace "team""#
    );
    let whoami = ok(kubectl_as(&ci, KUBECTL, &["auth", "whoami", "-o", "json"]));
    let review: Value = serde_json::from_str(&whoami).expect("a SelfSubjectReview");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:team:ci"
    );
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:team",
            "system:authenticated"
        ])
    );
    for binary in [KUBECTL, OLD_KUBECTL] {
        let rules = ok(kubectl_as(&ci, binary, &["auth", "can-i", "--list"]));
        let rule = rules
            .lines()
            .find(|line| line.starts_with("configmaps "))
            .unwrap_or_else(|| panic!("{binary}: no rule for configmaps in {rules}"));
        assert!(rule.ends_with("[get list]"), "{binary}: {rule}");
    }
}

/// The audit log's events, one JSON object a line.
fn audit_events(cluster: &Cluster) -> Vec<Value> {
    std::fs::read_to_string(cluster.data_dir.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("an audit event in JSON"))
        .collect()
}

/// Waits for an event that `wanted` accepts: the log is written by its own thread.
fn wait_for_audit_event(cluster: &Cluster, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(event) = audit_events(cluster)
            .into_iter()
            .find(|event| wanted(event))
        {
            return event;
        }
        assert!(Instant::now() < deadline, "no audit event for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check_the_audit_log(cluster: &Cluster, directory: &Path) {
    let editor = directory.join("editor.kubeconfig");
    let nobody = directory.join("nobody.kubeconfig");
    ok(kubectl_as(&editor, KUBECTL, &["get", "configmaps"]));
    ok(kubectl_as(
        &editor,
        KUBECTL,
        &["create", "configmap", "audited", "--from-literal=k=v"],
    ));
    refused(kubectl_as(
        &nobody,
        KUBECTL,
        &["create", "configmap", "sneaky"],
    ));

    let is_configmap_create_by = |event: &Value, user: &str| {
        event["verb"] == "create"
            && event["user"]["username"] == user
            && event["objectRef"]["resource"] == "configmaps"
    };
    let forbidden = wait_for_audit_event(cluster, "the refused create", |event| {
        is_configmap_create_by(event, "nobody")
    });
    assert_eq!(forbidden["responseStatus"]["code"], 403, "{forbidden}");
    assert_eq!(
        forbidden["objectRef"]["namespace"], "default",
        "{forbidden}"
    );

    let created = wait_for_audit_event(cluster, "the editor's create", |event| {
        is_configmap_create_by(event, "editor")
    });
    assert_eq!(created["kind"], "Event");
    assert_eq!(created["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(created["level"], "Metadata");
    assert_eq!(created["stage"], "ResponseComplete");
    assert_eq!(created["responseStatus"]["code"], 201, "{created}");
    assert_eq!(created["objectRef"]["namespace"], "team", "{created}");
    assert!(created.get("requestObject").is_none(), "{created}");
    let no_reads = audit_events(cluster)
        .into_iter()
        .filter(|event| matches!(event["verb"].as_str(), Some("get" | "list" | "watch")))
        .collect::<Vec<_>>();
    assert!(no_reads.is_empty(), "reads were audited: {no_reads:?}");
    // kube-apiserver completes a create's objectRef from the decoded request body
    // (audit.LogRequestObject), so its name is there even at the Metadata level.
    assert_eq!(created["objectRef"]["name"], "audited", "{created}");
}

#[test]
fn anonymous_and_unknown_callers_get_401_and_users_only_what_rbac_grants_and_writes_are_audited() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start_server(&directory.path().join("server"), &[]);
    let nobody = mint(&cluster, directory.path(), "nobody", &["--user", "nobody"]);

    check_anonymous_and_wrong_credentials(&cluster, &nobody);
    check_a_user_without_bindings(&nobody);
    check_a_viewer_and_an_editor(&cluster, directory.path());
    check_a_service_account(&cluster, directory.path());
    check_the_audit_log(&cluster, directory.path());
}

#[test]
fn a_nodes_credentials_reach_only_its_own_pods_and_its_endpoint_lets_in_only_the_api_server() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start_server(&directory.path().join("server"), &[]);
    let node_data = |name: &str| directory.path().join(name);
    let _first = cluster.start_node_with_arguments(
        "first",
        &node_data("first"),
        &["--node-endpoint", "127.0.0.2:0"],
    );
    let _second = cluster.start_node_with_arguments(
        "second",
        &node_data("second"),
        &["--node-endpoint", "127.0.0.3:0"],
    );
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(nodes::WORKLOAD)));
    nodes::wait_for_workload(&cluster);
    let nobody = mint(&cluster, directory.path(), "nobody", &["--user", "nobody"]);
    let first_node = node_data("first")
        .join("node")
        .join("credentials")
        .join("kubeconfig");

    nodes::check_signing_requests_table(&cluster);
    nodes::check_reads(&first_node);
    nodes::check_node_endpoint(&cluster, &nobody, &node_data("second"));
    nodes::check_node_writes(&cluster, &first_node);
}
