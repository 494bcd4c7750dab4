//! The CSR approver, kube-controller-manager's csrapproving: it approves the requests a
//! node makes for its client certificate, and (as k3s and kubelet-csr-approver do) the
//! requests a node makes for its own serving certificate. Everything else waits for a
//! person (`kubectl certificate approve`).
//!
//! Kubernetes approves a kubelet client request when a SubjectAccessReview allows its
//! requester `create` on `certificatesigningrequests/nodeclient` (a bootstrap token's
//! group is bound to that) or `.../selfnodeclient` (nodes renewing their own). This
//! approver checks the requester's groups instead: system:bootstrappers for nodeclient,
//! system:nodes for selfnodeclient. The effect is that of kubeadm's and k3s's default
//! bindings, but an RBAC rule that grants or removes those permissions changes nothing
//! here.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use super::request::{self, ParsedRequest, validate_kubelet_client, validate_kubelet_serving};
use super::{
    CONDITION_APPROVED, CONDITION_DENIED, CertificatesError, KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
    KUBELET_SERVING_SIGNER, NODES_GROUP, has_certificate, has_true_condition, usages,
};
use crate::auth::user::BOOTSTRAPPERS_GROUP;

/// The reason of every condition the approver sets (Kubernetes').
pub const AUTO_APPROVED_REASON: &str = "AutoApproved";
/// A node renewing its own client certificate (Kubernetes' selfnodeclient message).
pub const SELF_NODE_CLIENT_MESSAGE: &str =
    "Auto approving self kubelet client certificate after SubjectAccessReview.";
/// A bootstrap token asking for a node's first client certificate (nodeclient).
pub const NODE_CLIENT_MESSAGE: &str =
    "Auto approving kubelet client certificate after SubjectAccessReview.";
/// A node asking for its own serving certificate, which kube-controller-manager leaves to
/// a person or an external approver; k3s and kubelet-csr-approver approve it.
pub const SELF_NODE_SERVING_MESSAGE: &str =
    "Auto approving self kubelet serving certificate: requested by the node it names.";

/// Whether the requester is in `group`, as the request recorded on create.
fn requested_by_group(csr: &CertificateSigningRequest, group: &str) -> bool {
    csr.spec
        .groups
        .iter()
        .flatten()
        .any(|member| member == group)
}

/// Whether the requester is the node the request names: its user name is the subject's
/// common name, and it authenticated as a node.
fn requested_by_named_node(csr: &CertificateSigningRequest, request: &ParsedRequest) -> bool {
    csr.spec.username.as_deref() == Some(request.subject.common_name.as_str())
        && requested_by_group(csr, NODES_GROUP)
}

/// The approval message when the request is one the approver approves.
pub fn auto_approval(
    csr: &CertificateSigningRequest,
    request: &ParsedRequest,
) -> Option<&'static str> {
    let usages = usages(csr);
    match csr.spec.signer_name.as_str() {
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER => {
            validate_kubelet_client(request, &usages).ok()?;
            if requested_by_named_node(csr, request) {
                Some(SELF_NODE_CLIENT_MESSAGE)
            } else if requested_by_group(csr, BOOTSTRAPPERS_GROUP) {
                Some(NODE_CLIENT_MESSAGE)
            } else {
                None
            }
        }
        KUBELET_SERVING_SIGNER => {
            validate_kubelet_serving(request, &usages).ok()?;
            requested_by_named_node(csr, request).then_some(SELF_NODE_SERVING_MESSAGE)
        }
        _ => None,
    }
}

pub struct Context {
    pub client: Client,
}

pub async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    context: Arc<Context>,
) -> Result<Action, CertificatesError> {
    let api: Api<CertificateSigningRequest> = Api::all(context.client.clone());
    let name = csr.name_any();
    // Decide on what the API server holds now, not on a possibly older cached copy.
    let Some(mut csr) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if has_certificate(&csr)
        || has_true_condition(&csr, CONDITION_APPROVED)
        || has_true_condition(&csr, CONDITION_DENIED)
    {
        return Ok(Action::await_change());
    }
    let parsed = match request::parse(&csr.spec.request.0, false) {
        Ok(parsed) => parsed,
        Err(error) => {
            // Admission refuses such requests; one that is stored cannot become valid.
            tracing::warn!(csr = %name, %error, "cannot parse a certificate signing request");
            return Ok(Action::await_change());
        }
    };
    let Some(message) = auto_approval(&csr, &parsed) else {
        return Ok(Action::await_change());
    };
    csr.status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new)
        .push(CertificateSigningRequestCondition {
            type_: CONDITION_APPROVED.to_owned(),
            status: "True".to_owned(),
            reason: Some(AUTO_APPROVED_REASON.to_owned()),
            message: Some(message.to_owned()),
            last_update_time: Some(super::now()),
            ..Default::default()
        });
    // The request carries the resourceVersion read above: a concurrent change is a
    // conflict, retried with the fresh object.
    api.replace_subresource("approval", &name, &PostParams::default(), &csr)
        .await?;
    tracing::info!(csr = %name, approval = message, "approved a certificate signing request");
    Ok(Action::await_change())
}

fn error_policy(
    csr: Arc<CertificateSigningRequest>,
    error: &CertificatesError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(csr = %csr.name_any(), %error, "certificate signing request approval failed");
    Action::requeue(Duration::from_secs(1))
}

pub async fn run(client: Client) {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|_| futures::future::ready(()))
        .await;
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::certificates::v1::CertificateSigningRequestSpec;
    use wasmkube_pki::Subject;

    use super::*;
    use crate::certificates::{USAGE_CLIENT_AUTH, USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH};

    fn requested(
        signer: &str,
        username: &str,
        groups: &[&str],
        usages: &[&str],
    ) -> CertificateSigningRequest {
        CertificateSigningRequest {
            spec: CertificateSigningRequestSpec {
                signer_name: signer.to_owned(),
                username: Some(username.to_owned()),
                groups: Some(groups.iter().map(|&group| group.to_owned()).collect()),
                usages: Some(usages.iter().map(|&usage| usage.to_owned()).collect()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn node_client_request() -> ParsedRequest {
        ParsedRequest::of_subject(Subject::new("system:node:n1", &[NODES_GROUP]))
    }

    const CLIENT_USAGES: &[&str] = &[USAGE_DIGITAL_SIGNATURE, USAGE_CLIENT_AUTH];

    #[test]
    fn a_bootstrap_token_gets_a_node_client_certificate_approved() {
        let csr = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "system:bootstrap:abcdef",
            &[BOOTSTRAPPERS_GROUP, "system:authenticated"],
            CLIENT_USAGES,
        );
        assert_eq!(
            auto_approval(&csr, &node_client_request()),
            Some(NODE_CLIENT_MESSAGE)
        );
    }

    #[test]
    fn a_node_renewing_its_own_client_certificate_is_approved() {
        let csr = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "system:node:n1",
            &[NODES_GROUP],
            CLIENT_USAGES,
        );
        assert_eq!(
            auto_approval(&csr, &node_client_request()),
            Some(SELF_NODE_CLIENT_MESSAGE)
        );
    }

    #[test]
    fn other_requesters_and_other_shapes_wait_for_a_person() {
        let by_user = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "alice",
            &["system:authenticated"],
            CLIENT_USAGES,
        );
        assert_eq!(auto_approval(&by_user, &node_client_request()), None);
        let another_node = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "system:node:n2",
            &[NODES_GROUP],
            CLIENT_USAGES,
        );
        assert_eq!(auto_approval(&another_node, &node_client_request()), None);
        let wrong_usages = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "system:bootstrap:abcdef",
            &[BOOTSTRAPPERS_GROUP],
            &[USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH],
        );
        assert_eq!(auto_approval(&wrong_usages, &node_client_request()), None);
        let masters =
            ParsedRequest::of_subject(Subject::new("system:node:n1", &["system:masters"]));
        let bootstrap = requested(
            KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
            "system:bootstrap:abcdef",
            &[BOOTSTRAPPERS_GROUP],
            CLIENT_USAGES,
        );
        assert_eq!(auto_approval(&bootstrap, &masters), None);
        let other_signer = requested(
            "kubernetes.io/kube-apiserver-client",
            "system:bootstrap:abcdef",
            &[BOOTSTRAPPERS_GROUP],
            CLIENT_USAGES,
        );
        assert_eq!(auto_approval(&other_signer, &node_client_request()), None);
    }

    #[test]
    fn only_the_node_itself_gets_its_serving_certificate_approved() {
        let serving_usages = [USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH];
        let mut serving_request = node_client_request();
        serving_request.dns_names.push("n1".to_owned());
        let by_node = requested(
            KUBELET_SERVING_SIGNER,
            "system:node:n1",
            &[NODES_GROUP],
            &serving_usages,
        );
        assert_eq!(
            auto_approval(&by_node, &serving_request),
            Some(SELF_NODE_SERVING_MESSAGE)
        );
        let by_bootstrap = requested(
            KUBELET_SERVING_SIGNER,
            "system:bootstrap:abcdef",
            &[BOOTSTRAPPERS_GROUP],
            &serving_usages,
        );
        assert_eq!(auto_approval(&by_bootstrap, &serving_request), None);
        let mut with_email = serving_request.clone();
        with_email.email_addresses.push("n1@example.com".to_owned());
        assert_eq!(auto_approval(&by_node, &with_email), None);
    }
}
