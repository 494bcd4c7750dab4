//! A control plane on a temporary data directory, and CertificateSigningRequests as the
//! cluster's users send them.

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_pki::{Subject, signing_request};

/// How long a test waits for the approver and the signer; they answer in moments.
const PATIENCE: Duration = Duration::from_secs(15);

pub struct Cluster {
    pub plane: ControlPlane,
    pub data_dir: tempfile::TempDir,
}

pub async fn start_cluster() -> Cluster {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let plane = start(ControlPlaneOptions {
        data_dir: data_dir.path().join("server"),
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        api: ApiOptions::default(),
        compaction_interval: Duration::from_secs(24 * 60 * 60),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    Cluster { plane, data_dir }
}

pub fn node_subject(node_name: &str) -> Subject {
    Subject::new(format!("system:node:{node_name}"), &["system:nodes"])
}

/// A request named `name` for a new key's certificate, with its private key.
pub fn signing_request(
    name: &str,
    subject: &Subject,
    dns_names: &[String],
    addresses: &[IpAddr],
    signer_name: &str,
    usages: &[&str],
) -> (CertificateSigningRequest, String) {
    let request = signing_request::generate(subject, dns_names, addresses).expect("a request");
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.request_pem.into_bytes()),
            signer_name: signer_name.to_owned(),
            usages: Some(usages.iter().map(|&usage| usage.to_owned()).collect()),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    };
    (csr, request.private_key_pem)
}

pub async fn create(client: &Client, csr: &CertificateSigningRequest) -> CertificateSigningRequest {
    Api::<CertificateSigningRequest>::all(client.clone())
        .create(&PostParams::default(), csr)
        .await
        .expect("the request is created")
}

/// Approves or denies by hand, as `kubectl certificate approve|deny` does: the condition
/// added through the approval subresource.
pub async fn decide(client: &Client, name: &str, condition_type: &str) {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let mut csr = api.get(name).await.expect("the request exists");
    csr.status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new)
        .push(CertificateSigningRequestCondition {
            type_: condition_type.to_owned(),
            status: "True".to_owned(),
            reason: Some("KubectlApprove".to_owned()),
            message: Some("This CSR was decided by a test.".to_owned()),
            ..Default::default()
        });
    api.replace_subresource("approval", name, &PostParams::default(), &csr)
        .await
        .expect("the decision is recorded");
}

/// Waits until the request satisfies `done`, and answers it as it is then.
pub async fn wait_for(
    client: &Client,
    name: &str,
    what: &str,
    done: impl Fn(&CertificateSigningRequest) -> bool,
) -> CertificateSigningRequest {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let condition = |csr: Option<&CertificateSigningRequest>| csr.is_some_and(&done);
    match tokio::time::timeout(
        PATIENCE,
        kube::runtime::wait::await_condition(api.clone(), name, condition),
    )
    .await
    {
        Ok(Ok(Some(csr))) => csr,
        Ok(Ok(None)) => panic!("{name} went away while waiting until {what}"),
        Ok(Err(error)) => panic!("cannot watch {name}: {error}"),
        Err(_) => panic!(
            "{name} did not reach \"{what}\" within {PATIENCE:?}: {:?}",
            api.get_opt(name).await
        ),
    }
}

pub fn certificate_pem(csr: &CertificateSigningRequest) -> Option<String> {
    let certificate = csr.status.as_ref()?.certificate.as_ref()?;
    String::from_utf8(certificate.0.clone()).ok()
}

pub fn conditions(csr: &CertificateSigningRequest) -> Vec<CertificateSigningRequestCondition> {
    csr.status
        .as_ref()
        .and_then(|status| status.conditions.clone())
        .unwrap_or_default()
}
