//! A certificate from the cluster, the Kubernetes way: a key made here, a
//! CertificateSigningRequest for it, optionally approved by the caller, and the wait for
//! the signer's answer. Both a joining node and `wasmkube kubeconfig` get their
//! certificates so; the private key never leaves this machine.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
};
use kube::api::{Api, ObjectMeta, PostParams};
use wasmkube_control_plane::certificates::{
    CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED, has_certificate, has_true_condition,
};
use wasmkube_pki::tls::TlsIdentity;
use wasmkube_pki::{Subject, signing_request};

/// The reason and message of an approval the requester gives itself.
pub struct SelfApproval {
    pub reason: &'static str,
    pub message: String,
}

pub struct CertificateRequest<'a> {
    /// The request's name is this and a random suffix.
    pub name_prefix: &'a str,
    pub subject: &'a Subject,
    pub dns_names: &'a [String],
    pub addresses: &'a [IpAddr],
    pub signer_name: &'a str,
    pub usages: &'a [&'a str],
    pub expiration_seconds: Option<i32>,
    /// Approve the request right after creating it (the caller must be allowed to).
    pub approval: Option<SelfApproval>,
    /// How long to wait for the certificate before giving up.
    pub patience: Duration,
}

/// The conditions of a request, for messages: `Denied (reason: message)`, ….
fn describe_conditions(csr: Option<&CertificateSigningRequest>) -> String {
    let conditions: Vec<String> = csr
        .and_then(|csr| csr.status.as_ref())
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|condition| {
            format!(
                "{} ({}: {})",
                condition.type_,
                condition.reason.as_deref().unwrap_or_default(),
                condition.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if conditions.is_empty() {
        "none".to_owned()
    } else {
        conditions.join(", ")
    }
}

impl CertificateRequest<'_> {
    /// Creates the request, approves it if asked, and waits for the certificate; answers
    /// the request's name and the signed identity.
    pub async fn signed(self, client: kube::Client) -> anyhow::Result<(String, TlsIdentity)> {
        let request = signing_request::generate(self.subject, self.dns_names, self.addresses)?;
        let name = format!(
            "{}-{}",
            self.name_prefix,
            wasmkube_pki::join_token::random_token_characters(16)?
        );
        let signer_name = self.signer_name;
        let csr = CertificateSigningRequest {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            spec: CertificateSigningRequestSpec {
                request: ByteString(request.request_pem.into_bytes()),
                signer_name: signer_name.to_owned(),
                usages: Some(self.usages.iter().map(|&usage| usage.to_owned()).collect()),
                expiration_seconds: self.expiration_seconds,
                ..CertificateSigningRequestSpec::default()
            },
            status: None,
        };
        let api: Api<CertificateSigningRequest> = Api::all(client);
        let mut created = api
            .create(&PostParams::default(), &csr)
            .await
            .with_context(|| {
                format!("cannot create the certificate signing request {name} ({signer_name})")
            })?;
        if let Some(approval) = self.approval {
            created.status = Some(CertificateSigningRequestStatus {
                conditions: Some(vec![CertificateSigningRequestCondition {
                    type_: CONDITION_APPROVED.to_owned(),
                    status: "True".to_owned(),
                    reason: Some(approval.reason.to_owned()),
                    message: Some(approval.message),
                    ..CertificateSigningRequestCondition::default()
                }]),
                certificate: None,
            });
            api.replace_subresource("approval", &name, &PostParams::default(), &created)
                .await
                .with_context(|| {
                    format!("cannot approve the certificate signing request {name}")
                })?;
        }
        let answered = |csr: Option<&CertificateSigningRequest>| {
            csr.is_some_and(|csr| {
                has_certificate(csr)
                    || has_true_condition(csr, CONDITION_DENIED)
                    || has_true_condition(csr, CONDITION_FAILED)
            })
        };
        let waited = tokio::time::timeout(
            self.patience,
            kube::runtime::wait::await_condition(api.clone(), &name, answered),
        )
        .await;
        let answer = match waited {
            Ok(Ok(Some(answer))) => answer,
            Ok(Ok(None)) => {
                bail!("the certificate signing request {name} was deleted before it was signed")
            }
            Ok(Err(error)) => {
                return Err(error).with_context(|| {
                    format!("cannot watch the certificate signing request {name}")
                });
            }
            Err(_) => {
                let current = api.get_opt(&name).await.ok().flatten();
                bail!(
                    "the certificate signing request {name} was not signed within {:?}; \
                     its conditions: {} (a cluster admin can approve it with `kubectl certificate approve {name}`)",
                    self.patience,
                    describe_conditions(current.as_ref())
                );
            }
        };
        let Some(certificate) = answer
            .status
            .as_ref()
            .and_then(|status| status.certificate.as_ref())
            .filter(|_| has_certificate(&answer))
        else {
            bail!(
                "the certificate signing request {name} was not signed; its conditions: {}",
                describe_conditions(Some(&answer))
            );
        };
        let identity = TlsIdentity {
            certificate_chain_pem: String::from_utf8(certificate.0.clone())
                .with_context(|| format!("the certificate of {name} is not PEM text"))?,
            private_key_pem: request.private_key_pem,
        };
        Ok((name, identity))
    }
}
