//! The CSR signer, kube-controller-manager's csrsigning for the three signers it runs
//! with the cluster CA: kube-apiserver-client, kube-apiserver-client-kubelet and
//! kubelet-serving. An approved request (not denied, not failed, not yet signed) is
//! checked as that signer checks it, then signed and its certificate written through the
//! status subresource; one that fails the checks, or cannot be signed, gets a Failed
//! condition that says why. kubernetes.io/legacy-unknown and every other signer's
//! requests are left alone for whoever serves them.
//!
//! Unlike Kubernetes, the certificate's lifetime is the cluster CA's one year for every
//! request: `spec.expirationSeconds` is not honoured (wasmkube-pki signs with a fixed
//! validity).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use wasmkube_pki::{ClusterAuthority, Usage};

use super::request::{
    self, validate_api_server_client_usages, validate_kubelet_client, validate_kubelet_serving,
};
use super::{
    CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED, CertificatesError,
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER, KUBE_APISERVER_CLIENT_SIGNER, KUBELET_SERVING_SIGNER,
    has_certificate, has_true_condition, usages,
};

/// The reason of a Failed condition for a request its signer does not accept (Kubernetes').
pub const SIGNER_VALIDATION_FAILURE: &str = "SignerValidationFailure";
/// The reason of a Failed condition for a request the CA could not sign.
pub const SIGNING_FAILURE: &str = "SigningFailure";

/// What the cluster CA's certificate for a signer's request is for.
pub fn usage_of_signer(signer_name: &str) -> Option<Usage> {
    match signer_name {
        KUBE_APISERVER_CLIENT_SIGNER | KUBE_APISERVER_CLIENT_KUBELET_SIGNER => Some(Usage::Client),
        KUBELET_SERVING_SIGNER => Some(Usage::Server),
        _ => None,
    }
}

/// The signer's own checks of a request (Kubernetes' `isRequestForSignerFn`).
pub fn validate_for_signer(csr: &CertificateSigningRequest) -> Result<(), String> {
    let parsed = request::parse(&csr.spec.request.0, false)?;
    let usages = usages(csr);
    match csr.spec.signer_name.as_str() {
        KUBELET_SERVING_SIGNER => validate_kubelet_serving(&parsed, &usages),
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER => validate_kubelet_client(&parsed, &usages),
        KUBE_APISERVER_CLIENT_SIGNER => validate_api_server_client_usages(&usages),
        other => Err(format!("unrecognized signerName: {other:?}")),
    }
}

/// Signs the request with the cluster CA: the PEM certificate, or why it cannot be.
fn sign(
    authority: &ClusterAuthority,
    csr: &CertificateSigningRequest,
    usage: Usage,
) -> Result<String, String> {
    let request_pem = std::str::from_utf8(&csr.spec.request.0)
        .map_err(|_| "the request is not PEM text".to_owned())?;
    authority
        .sign_request(request_pem, usage)
        .map_err(|error| error.to_string())
}

fn add_failed_condition(csr: &mut CertificateSigningRequest, reason: &str, message: String) {
    csr.status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new)
        .push(CertificateSigningRequestCondition {
            type_: CONDITION_FAILED.to_owned(),
            status: "True".to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_update_time: Some(super::now()),
            ..Default::default()
        });
}

pub struct Context {
    pub client: Client,
    pub authority: Arc<ClusterAuthority>,
}

pub async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    context: Arc<Context>,
) -> Result<Action, CertificatesError> {
    let api: Api<CertificateSigningRequest> = Api::all(context.client.clone());
    let name = csr.name_any();
    // Decide on what the API server holds now: never sign twice after a write of our own.
    let Some(mut csr) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let approved =
        has_true_condition(&csr, CONDITION_APPROVED) && !has_true_condition(&csr, CONDITION_DENIED);
    if !approved || has_true_condition(&csr, CONDITION_FAILED) || has_certificate(&csr) {
        return Ok(Action::await_change());
    }
    let Some(usage) = usage_of_signer(&csr.spec.signer_name) else {
        return Ok(Action::await_change());
    };
    match validate_for_signer(&csr).map(|()| sign(&context.authority, &csr, usage)) {
        Err(message) => add_failed_condition(&mut csr, SIGNER_VALIDATION_FAILURE, message),
        Ok(Err(message)) => add_failed_condition(&mut csr, SIGNING_FAILURE, message),
        Ok(Ok(certificate_pem)) => {
            csr.status.get_or_insert_with(Default::default).certificate =
                Some(ByteString(certificate_pem.into_bytes()));
        }
    }
    // With the resourceVersion read above, so a concurrent change is a conflict.
    let written = api
        .replace_status(&name, &PostParams::default(), &csr)
        .await?;
    if has_certificate(&written) {
        tracing::info!(csr = %name, signer = %written.spec.signer_name, "signed a certificate signing request");
    } else {
        tracing::warn!(csr = %name, "a certificate signing request failed its signer's checks");
    }
    Ok(Action::await_change())
}

fn error_policy(
    csr: Arc<CertificateSigningRequest>,
    error: &CertificatesError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(csr = %csr.name_any(), %error, "certificate signing request signing failed");
    Action::requeue(Duration::from_secs(1))
}

pub async fn run(client: Client, authority: Arc<ClusterAuthority>) {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    Controller::new(api, watcher::Config::default())
        .run(
            reconcile,
            error_policy,
            Arc::new(Context { client, authority }),
        )
        .for_each(|_| futures::future::ready(()))
        .await;
}
