//! Binding a pod to its node through the `pods/binding` subresource, as kube-scheduler's
//! DefaultBinder does.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::de::IgnoredAny;

use super::pod_info::PodKey;

/// The API server's words when the pod already has a node (`pod NAME is already
/// assigned to node "NODE"`).
const ALREADY_ASSIGNED: &str = "is already assigned to node";

#[derive(Debug, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    /// Someone bound the pod first; the pod watch will show where.
    AlreadyBound,
    /// The pod was deleted meanwhile.
    Gone,
}

pub async fn bind(
    client: &Client,
    key: &PodKey,
    uid: Option<String>,
    node: &str,
) -> Result<BindOutcome, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &key.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid,
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Node".to_owned()),
            name: Some(node.to_owned()),
            ..Default::default()
        },
    };
    // Only whether the binding was made matters, not the Status that says so.
    let answer: Result<IgnoredAny, kube::Error> = pods
        .create_subresource("binding", &key.name, &PostParams::default(), &binding)
        .await;
    match answer {
        Ok(_) => Ok(BindOutcome::Bound),
        Err(kube::Error::Api(status))
            if status.code == 409 && status.message.contains(ALREADY_ASSIGNED) =>
        {
            Ok(BindOutcome::AlreadyBound)
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(BindOutcome::Gone),
        Err(error) => Err(error),
    }
}
