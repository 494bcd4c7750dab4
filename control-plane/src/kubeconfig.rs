//! Kubeconfig files for the cluster's users: the admin's (DIR/kubeconfig), a node's, and
//! the ones `wasmkube kubeconfig` mints. Credentials are embedded (`*-data` fields), so a
//! kubeconfig is one file to copy, as k3s's and kubeadm's are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wasmkube_pki::tls::TlsIdentity;

/// How a kubeconfig's user proves who it is.
pub enum KubeconfigCredential<'a> {
    ClientCertificate(&'a TlsIdentity),
    Token(&'a str),
}

/// A kubeconfig with one cluster, one user and one context, all named after `cluster_name`
/// and `user_name`, as YAML.
pub fn kubeconfig_yaml(
    server_url: &str,
    authority_pem: &str,
    cluster_name: &str,
    user_name: &str,
    credential: KubeconfigCredential<'_>,
    namespace: &str,
) -> String {
    let user: Value = match credential {
        KubeconfigCredential::ClientCertificate(identity) => json!({
            "client-certificate-data": STANDARD.encode(&identity.certificate_chain_pem),
            "client-key-data": STANDARD.encode(&identity.private_key_pem),
        }),
        KubeconfigCredential::Token(token) => json!({"token": token}),
    };
    let context_name = format!("{user_name}@{cluster_name}");
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": server_url,
            "certificate-authority-data": STANDARD.encode(authority_pem),
        }}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": context_name, "context": {
            "cluster": cluster_name,
            "user": user_name,
            "namespace": namespace,
        }}],
        "current-context": context_name,
        "preferences": {},
    });
    // Serializing a JSON value to YAML cannot fail: every value has a YAML form.
    serde_yaml::to_string(&config).unwrap_or_default()
}
