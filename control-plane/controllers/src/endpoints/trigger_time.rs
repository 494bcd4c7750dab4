//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation's value, as
//! Kubernetes' `TriggerTimeTracker` computes it: the earliest of the changes since the
//! previous sync of a Service that the new endpoints reflect. A pod's change is when its
//! Ready condition last flipped; the Service's own is its creation. A Service seen for the
//! first time (also after a restart) reports its creation.
//!
//! Like Kubernetes' tracker this is an approximation kept in memory: an object that
//! changes twice between two syncs counts once, and a restart only makes the next
//! annotation earlier. Nothing decides on it.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

#[derive(Debug, Default)]
struct ServiceState {
    last_service_trigger_time: Option<Timestamp>,
    last_pod_trigger_times: HashMap<String, Timestamp>,
}

#[derive(Debug, Default)]
pub(crate) struct TriggerTimeTracker {
    states: Mutex<HashMap<ObjectRef<Service>, ServiceState>>,
}

impl TriggerTimeTracker {
    /// The trigger time for this sync of `service` with `pods` (its selected pods), and
    /// the new state remembered for the next one. `None` means there is no change to
    /// report, and the annotation is removed.
    pub(crate) fn compute(&self, service: &Service, pods: &[Pod]) -> Option<Timestamp> {
        let key = ObjectRef::from_obj(service);
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let was_known = states.contains_key(&key);
        let state = states.entry(key).or_default();
        let mut earliest_change: Option<Timestamp> = None;
        let mut pod_trigger_times = HashMap::new();
        for pod in pods {
            let Some(trigger_time) = pod_trigger_time(pod) else {
                continue;
            };
            let name = pod.name_any();
            let changed = state
                .last_pod_trigger_times
                .get(&name)
                .is_none_or(|last| trigger_time > *last);
            if changed {
                earliest_change =
                    Some(earliest_change.map_or(trigger_time, |t| t.min(trigger_time)));
            }
            pod_trigger_times.insert(name, trigger_time);
        }
        let service_trigger_time = service
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|time| time.0);
        if let Some(trigger_time) = service_trigger_time
            && state
                .last_service_trigger_time
                .is_none_or(|last| trigger_time > last)
        {
            earliest_change = Some(earliest_change.map_or(trigger_time, |t| t.min(trigger_time)));
        }
        state.last_pod_trigger_times = pod_trigger_times;
        state.last_service_trigger_time = service_trigger_time;
        if was_known {
            earliest_change
        } else {
            service_trigger_time
        }
    }

    /// Forgets a Service that is gone.
    pub(crate) fn forget(&self, service: &ObjectRef<Service>) {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(service);
    }
}

/// When the pod's Ready condition last changed, whichever way.
fn pod_trigger_time(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|time| time.0)
}

/// The annotation's text: RFC 3339 in UTC with as many fractional digits as needed, as
/// Go's `time.RFC3339Nano` writes it.
pub(crate) fn format_trigger_time(time: Timestamp) -> String {
    time.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service() -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}}))
            .expect("a service")
    }

    fn pod(name: &str, ready_since: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready_since}]},
        }))
        .expect("a pod")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn a_new_service_reports_its_creation_then_the_earliest_pod_change() {
        let tracker = TriggerTimeTracker::default();
        let service = service();
        let first = [pod("a", "2024-01-01T00:01:00Z")];
        assert_eq!(
            tracker.compute(&service, &first),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(tracker.compute(&service, &first), None);
        let later = [
            pod("a", "2024-01-01T00:05:00Z"),
            pod("b", "2024-01-01T00:03:00Z"),
        ];
        assert_eq!(
            tracker.compute(&service, &later),
            Some(at("2024-01-01T00:03:00Z"))
        );
        tracker.forget(&ObjectRef::from_obj(&service));
        assert_eq!(
            tracker.compute(&service, &later),
            Some(at("2024-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn the_annotation_is_written_as_go_writes_rfc3339_nano() {
        assert_eq!(
            format_trigger_time(at("2024-01-01T00:00:00Z")),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            format_trigger_time(at("2024-01-01T00:00:00.120Z")),
            "2024-01-01T00:00:00.12Z"
        );
    }
}
