//! certificates.k8s.io: the CertificateSigningRequest API's admission (Kubernetes'
//! registry strategy and the CertificateSubjectRestriction plugin), the approver and the
//! signer that kube-controller-manager runs (csrapproving, csrsigning), and the bootstrap
//! token a node joins with, kept as Kubernetes keeps it: a Secret in kube-system, checked
//! by the bootstrap token authenticator.

pub mod admission;
pub mod approver;
pub mod bootstrap_token;
pub mod request;
pub mod signer;

use std::path::PathBuf;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;

pub use admission::{admit_create, admit_update};
pub use bootstrap_token::{authenticate_bootstrap_token, ensure_join_token};

pub(crate) use crate::auth::user::{NODE_USER_PREFIX, NODES_GROUP};

/// Signs client certificates for the API server (users, controllers).
pub const KUBE_APISERVER_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";
/// Signs the client certificates nodes use with the API server.
pub const KUBE_APISERVER_CLIENT_KUBELET_SIGNER: &str =
    "kubernetes.io/kube-apiserver-client-kubelet";
/// Signs nodes' serving certificates (the kubelet's port, here the node endpoint).
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
/// The v1beta1 catch-all, refused on create through v1 and never signed here.
pub const LEGACY_UNKNOWN_SIGNER: &str = "kubernetes.io/legacy-unknown";

pub const CONDITION_APPROVED: &str = "Approved";
pub const CONDITION_DENIED: &str = "Denied";
pub const CONDITION_FAILED: &str = "Failed";

pub const USAGE_DIGITAL_SIGNATURE: &str = "digital signature";
pub const USAGE_KEY_ENCIPHERMENT: &str = "key encipherment";
pub const USAGE_CLIENT_AUTH: &str = "client auth";
pub const USAGE_SERVER_AUTH: &str = "server auth";

#[derive(Debug, thiserror::Error)]
pub enum CertificatesError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Pki(#[from] wasmkube_pki::PkiError),
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold a join token: {source}")]
    InvalidJoinToken {
        path: PathBuf,
        source: wasmkube_pki::PkiError,
    },
}

/// Whether the request has a condition of this type with status True.
pub fn has_true_condition(csr: &CertificateSigningRequest, condition_type: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == condition_type && condition.status == "True")
        })
}

/// Whether the request carries a certificate already.
pub fn has_certificate(csr: &CertificateSigningRequest) -> bool {
    csr.status
        .as_ref()
        .and_then(|status| status.certificate.as_ref())
        .is_some_and(|certificate| !certificate.0.is_empty())
}

/// The request's usages, as text.
pub fn usages(csr: &CertificateSigningRequest) -> Vec<&str> {
    csr.spec
        .usages
        .iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

/// The current time as a Kubernetes timestamp (whole seconds).
fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let now = jiff::Timestamp::now();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        now.round(jiff::Unit::Second).unwrap_or(now),
    )
}
