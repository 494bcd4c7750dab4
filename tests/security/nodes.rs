//! What a node's own credentials reach (the node authorizer and NodeRestriction), and
//! who the node endpoint lets in.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use wasmkube_pki::tls::TlsIdentity;

use crate::https::{Credentials, cluster_authority, kubeconfig_identity, request};
use crate::support::{Cluster, ok};
use crate::{KUBECTL, kubectl_as, refused};

/// Secrets and pods: `mine` on the first node uses one secret in its environment and
/// one as a volume; `theirs` on the second node uses a third; a fourth is used by none.
pub const WORKLOAD: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: env-secret}
stringData: {word: alpha}
---
apiVersion: v1
kind: Secret
metadata: {name: volume-secret}
stringData: {file: beta}
---
apiVersion: v1
kind: Secret
metadata: {name: other-secret}
stringData: {word: gamma}
---
apiVersion: v1
kind: Secret
metadata: {name: lonely-secret}
stringData: {word: delta}
---
apiVersion: v1
kind: Pod
metadata: {name: mine}
spec:
  nodeName: first
  restartPolicy: Never
  containers:
  - name: app
    image: testbox:1
    args: [echo, hello-from-first]
    env:
    - name: WORD
      valueFrom: {secretKeyRef: {name: env-secret, key: word}}
    volumeMounts: [{name: secret-files, mountPath: /secret}]
  volumes:
  - name: secret-files
    secret: {secretName: volume-secret}
---
apiVersion: v1
kind: Pod
metadata: {name: theirs}
spec:
  nodeName: second
  containers:
  - name: app
    image: testbox:1
    args: [sleep-forever]
    env:
    - name: WORD
      valueFrom: {secretKeyRef: {name: other-secret, key: word}}
"#;

/// Waits until the first pod has run (so its node has read its secrets) and the
/// second runs.
pub fn wait_for_workload(cluster: &Cluster) {
    cluster.wait_for_jsonpath(
        &["pod", "mine"],
        "{.status.phase}",
        Duration::from_secs(60),
        |phase| phase == "Succeeded",
    );
    cluster.wait_for_jsonpath(
        &["pod", "theirs"],
        "{.status.phase}",
        Duration::from_secs(60),
        |phase| phase == "Running",
    );
}

pub fn check_reads(node: &Path) {
    let get = |arguments: &[&str]| ok(kubectl_as(node, KUBECTL, arguments)).trim().to_owned();
    assert_eq!(get(&["get", "pod", "mine", "-o", "name"]), "pod/mine");
    assert_eq!(
        refused(kubectl_as(node, KUBECTL, &["get", "pod", "theirs"])),
        r#"Error from server (Forbidden): pods "theirs" is forbidden: User "system:node:first" cannot get resource "pods" in API group "" in the namespace "default": no relationship found between node 'first' and this object"#
    );
    assert_eq!(
        refused(kubectl_as(node, KUBECTL, &["get", "pods"])),
        r#"Error from server (Forbidden): pods is forbidden: User "system:node:first" cannot list resource "pods" in API group "" in the namespace "default": can only list/watch pods with spec.nodeName field selector"#
    );
    assert_eq!(
        get(&[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "spec.nodeName=first",
            "-o",
            "name"
        ]),
        "pod/mine"
    );
    for secret in ["env-secret", "volume-secret"] {
        assert_eq!(
            get(&["get", "secret", secret, "-o", "name"]),
            format!("secret/{secret}")
        );
    }
    for secret in ["other-secret", "lonely-secret"] {
        assert_eq!(
            refused(kubectl_as(node, KUBECTL, &["get", "secret", secret])),
            format!(
                r#"Error from server (Forbidden): secrets "{secret}" is forbidden: User "system:node:first" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'first' and this object"#
            )
        );
    }
}

/// NodeRestriction: a node writes only its own Node.
pub fn check_node_writes(cluster: &Cluster, node: &Path) {
    let impostor = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"impostor"}}"#;
    let mut command = std::process::Command::new(crate::support::kubectl_path(KUBECTL));
    command
        .arg("--kubeconfig")
        .arg(node)
        .args(["create", "-f", "-"])
        .env_remove("KUBECONFIG");
    assert_eq!(
        refused(crate::support::run(command, Some(impostor))),
        r#"Error from server (Forbidden): error when creating "STDIN": nodes "impostor" is forbidden: node "first" is not allowed to modify node "impostor""#
    );
    let label = r#"{"metadata":{"labels":{"first-was-here":"true"}}}"#;
    ok(kubectl_as(
        node,
        KUBECTL,
        &["patch", "node", "first", "-p", label],
    ));
    let refusal = refused(kubectl_as(
        node,
        KUBECTL,
        &["patch", "node", "second", "-p", label],
    ));
    let labels = ok(cluster.kubectl(
        "kubectl",
        &["get", "node", "second", "-o", "jsonpath={.metadata.labels}"],
    ));
    assert!(!labels.contains("first-was-here"), "{labels}");
    // Kubernetes' node authorizer lets a node patch Nodes and NodeRestriction refuses
    // another node's, in its words.
    assert_eq!(
        refusal,
        r#"Error from server (Forbidden): nodes "second" is forbidden: node "first" is not allowed to modify node "second""#
    );
}

/// The node endpoint's address as its Node announces it.
fn node_endpoint(cluster: &Cluster, node: &str) -> SocketAddr {
    let announced = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}:{.status.daemonEndpoints.kubeletEndpoint.Port}",
        ],
    ));
    announced
        .trim()
        .parse()
        .unwrap_or_else(|error| panic!("{announced:?} is no address: {error}"))
}

/// Only the API server's certificate gets in: none fails the TLS handshake, a user's
/// or another node's gets the kubelet's 403, and `kubectl logs` (through the API
/// server) works.
pub fn check_node_endpoint(cluster: &Cluster, user_kubeconfig: &Path, second_node_data: &Path) {
    let authority = cluster_authority(&cluster.data_dir);
    let endpoint = node_endpoint(cluster, "first");
    let logs = "/containerLogs/default/mine/app";

    let anonymous = request(&authority, endpoint, Credentials::None, "GET", logs, None);
    let error = anonymous.expect_err("a caller without a certificate was let in");
    // With TLS 1.3 the client finishes its side first; the server's refusal arrives as
    // an alert on the first read.
    assert!(error.contains("CertificateRequired"), "{error}");

    let user = kubeconfig_identity(user_kubeconfig);
    let credentials = second_node_data.join("node").join("credentials");
    let read = |file: &str| {
        std::fs::read_to_string(credentials.join(file)).expect("the second node's credentials")
    };
    let other_node = TlsIdentity {
        certificate_chain_pem: read("client.crt"),
        private_key_pem: read("client.key"),
    };
    for (identity, user) in [(&user, "nobody"), (&other_node, "system:node:second")] {
        let answer = request(
            &authority,
            endpoint,
            Credentials::Certificate(identity),
            "GET",
            logs,
            None,
        )
        .unwrap_or_else(|error| panic!("{user}: {error}"));
        assert_eq!(answer.status, 403, "{user}: {}", answer.body);
        assert_eq!(
            answer.body,
            format!("Forbidden (user={user}, verb=get, resource=nodes, subresource=proxy)\n")
        );
    }

    let logged = ok(cluster.kubectl(KUBECTL, &["logs", "mine"]));
    assert_eq!(logged, "hello-from-first\n");
}

/// `kubectl get csr`: the nodes' requests with Kubernetes' columns.
pub fn check_signing_requests_table(cluster: &Cluster) {
    let table = ok(cluster.kubectl(KUBECTL, &["get", "csr"]));
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ]
    );
    let rows: Vec<Vec<&str>> = lines
        .map(|line| line.split_whitespace().collect())
        .collect();
    // Each node asked for a client and a serving certificate.
    assert_eq!(rows.len(), 4, "{table}");
    for row in &rows {
        assert_eq!(row.len(), 6, "{table}");
        assert_eq!(row[5], "Approved,Issued", "{table}");
    }
    let signers: Vec<&str> = rows.iter().map(|row| row[2]).collect();
    for signer in [
        "kubernetes.io/kube-apiserver-client-kubelet",
        "kubernetes.io/kubelet-serving",
    ] {
        assert_eq!(
            signers.iter().filter(|name| **name == signer).count(),
            2,
            "{table}"
        );
    }
    assert!(
        rows.iter().any(|row| row[3] == "system:node:first"),
        "the serving request is the node's own: {table}"
    );
}
