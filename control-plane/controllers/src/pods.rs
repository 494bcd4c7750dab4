//! What the controllers ask of pods: whether one is active, ready or available, and a new
//! pod made from a template.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

/// A pod that counts towards its controller's replicas: not being deleted and not
/// finished (kube-controller-manager's `IsPodActive`).
pub fn is_pod_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && !matches!(pod_phase(pod), Some("Succeeded" | "Failed"))
}

pub fn pod_phase(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
}

/// When the pod's Ready condition last turned True, if it is True now.
pub fn pod_ready_since(pod: &Pod) -> Option<Timestamp> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")?;
    if condition.status != "True" {
        return None;
    }
    Some(
        condition
            .last_transition_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |time| time.0),
    )
}

pub fn is_pod_ready(pod: &Pod) -> bool {
    pod_ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (`IsPodAvailable`).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    pod_ready_since(pod).is_some_and(|since| {
        min_ready_seconds <= 0
            || since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) <= now
    })
}

/// A pod for `owner` from its template: the template's labels, annotations and spec, a
/// name generated from `generate_name` (which should end in `-`) unless `name` is given,
/// and `owner_reference` as its controller.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    name: Option<String>,
    generate_name: &str,
    owner_reference: OwnerReference,
) -> Pod {
    let template_metadata = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: name.clone(),
            generate_name: name.is_none().then(|| generate_name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: template_metadata.labels,
            annotations: template_metadata.annotations,
            finalizers: template_metadata.finalizers,
            owner_references: Some(vec![owner_reference]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}
