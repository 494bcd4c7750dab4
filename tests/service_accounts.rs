//! ServiceAccounts with the real kubectl against a real `wasmkube up`: every namespace
//! has its `default` account and the cluster CA, and `kubectl create token` gets tokens
//! through the TokenRequest API, with its audience and duration, and Kubernetes' errors.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Cluster, ok, text};

/// Runs kubectl until it succeeds, for what a controller makes shortly after start.
fn kubectl_eventually(cluster: &Cluster, arguments: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = cluster.kubectl("kubectl", arguments);
        if output.status.success() {
            return text(&output).0;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {arguments:?} kept failing: {}",
            text(&output).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kubectl_creates_tokens_for_service_accounts() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(data_dir.path());

    kubectl_eventually(&cluster, &["get", "serviceaccount", "default"]);
    let ca = kubectl_eventually(
        &cluster,
        &[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ],
    );
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    ok(cluster.kubectl("kubectl", &["create", "serviceaccount", "builder"]));
    let token = ok(cluster.kubectl(
        "kubectl",
        &[
            "create",
            "token",
            "builder",
            "--audience",
            "vault",
            "--duration",
            "1h",
        ],
    ));
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let answer: Value = serde_json::from_str(&ok(cluster.kubectl(
        "kubectl",
        &[
            "create",
            "token",
            "builder",
            "--audience",
            "vault",
            "--duration",
            "1h",
            "-o",
            "json",
        ],
    )))
    .expect("a TokenRequest in JSON");
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["spec"]["audiences"], serde_json::json!(["vault"]));
    assert_eq!(answer["spec"]["expirationSeconds"], 3600);
    assert!(
        answer["status"]["expirationTimestamp"].is_string(),
        "{answer}"
    );

    let output = cluster.kubectl("kubectl", &["create", "token", "ghost"]);
    assert!(!output.status.success());
    assert_eq!(
        text(&output).1.trim(),
        "error: failed to create token: serviceaccounts \"ghost\" not found"
    );
    let output = cluster.kubectl(
        "kubectl",
        &["create", "token", "builder", "--duration", "1m"],
    );
    assert!(!output.status.success());
    assert_eq!(
        text(&output).1.trim(),
        "error: failed to create token: TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
}
