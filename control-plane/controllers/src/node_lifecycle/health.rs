//! A node's health as the node controller judges it: when it last showed a sign of life,
//! and the conditions it gets once it has been quiet for longer than the grace period
//! (`tryUpdateNodeHealth` in kube-controller-manager).

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const READY: &str = "Ready";

/// The conditions the node controller sets to Unknown when a node goes quiet.
/// NetworkUnavailable is left alone, as Kubernetes does: the network, not the kubelet,
/// reports it.
const MONITORED_CONDITIONS: [&str; 4] = [READY, "MemoryPressure", "DiskPressure", "PIDPressure"];

pub fn condition<'a>(node: &'a Node, condition_type: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == condition_type)
}

/// The status of the node's Ready condition (`True`, `False`, `Unknown`), if it has one.
pub fn ready_status(node: &Node) -> Option<&str> {
    condition(node, READY).map(|condition| condition.status.as_str())
}

/// The node's last sign of life: the later of its Lease's renewal, its Ready condition's
/// heartbeat and its creation. A node that never renewed a lease nor posted a status is
/// given the grace period from the moment it was created.
pub fn last_heartbeat(node: &Node, lease: Option<&Lease>) -> Timestamp {
    let created = node.metadata.creation_timestamp.as_ref().map(|time| time.0);
    let ready_heartbeat = condition(node, READY)
        .and_then(|condition| condition.last_heartbeat_time.as_ref())
        .map(|time| time.0);
    let lease_renewal = lease
        .and_then(|lease| lease.spec.as_ref())
        .and_then(|spec| spec.renew_time.as_ref())
        .map(|time| time.0);
    [created, ready_heartbeat, lease_renewal]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The moment a node whose last sign of life was `heartbeat` stops being trusted.
pub fn trusted_until(heartbeat: Timestamp, grace_period: std::time::Duration) -> Timestamp {
    SignedDuration::try_from(grace_period)
        .ok()
        .and_then(|grace_period| heartbeat.checked_add(grace_period).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Sets the monitored conditions to Unknown, as the node controller does for a node whose
/// kubelet stopped posting its status: conditions it has get reason `NodeStatusUnknown`,
/// conditions it never posted are added with reason `NodeStatusNeverUpdated`. Conditions
/// that are already Unknown keep their reason and transition time. Answers whether
/// anything changed.
pub fn mark_status_unknown(node: &mut Node, now: Timestamp) -> bool {
    let created = node.metadata.creation_timestamp.clone();
    let conditions = node
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new);
    let mut changed = false;
    for condition_type in MONITORED_CONDITIONS {
        match conditions
            .iter_mut()
            .find(|condition| condition.type_ == condition_type)
        {
            Some(condition) if condition.status == "Unknown" => {}
            Some(condition) => {
                condition.status = "Unknown".to_owned();
                condition.reason = Some("NodeStatusUnknown".to_owned());
                condition.message = Some("Kubelet stopped posting node status.".to_owned());
                condition.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: condition_type.to_owned(),
                    status: "Unknown".to_owned(),
                    reason: Some("NodeStatusNeverUpdated".to_owned()),
                    message: Some("Kubelet never posted node status.".to_owned()),
                    last_heartbeat_time: created.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn node(conditions: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"conditions": conditions},
        }))
        .expect("a node")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn the_last_heartbeat_is_the_latest_of_creation_ready_heartbeat_and_lease_renewal() {
        let quiet = node(json!([]));
        assert_eq!(last_heartbeat(&quiet, None), at("2025-01-01T00:00:00Z"));
        let posted = node(
            json!([{"type": "Ready", "status": "True", "lastHeartbeatTime": "2025-01-01T00:01:00Z"}]),
        );
        assert_eq!(last_heartbeat(&posted, None), at("2025-01-01T00:01:00Z"));
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"renewTime": "2025-01-01T00:02:00.500000Z"},
        }))
        .expect("a lease");
        assert_eq!(
            last_heartbeat(&posted, Some(&lease)),
            at("2025-01-01T00:02:00.5Z")
        );
        assert_eq!(
            trusted_until(at("2025-01-01T00:02:00Z"), Duration::from_secs(40)),
            at("2025-01-01T00:02:40Z")
        );
        assert_eq!(
            trusted_until(at("2025-01-01T00:02:00Z"), Duration::MAX),
            Timestamp::MAX
        );
    }

    #[test]
    fn a_quiet_node_gets_every_monitored_condition_unknown_once() {
        let mut quiet = node(json!([
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "2025-01-01T00:01:00Z", "lastTransitionTime": "2025-01-01T00:00:10Z"},
            {"type": "MemoryPressure", "status": "Unknown", "reason": "Other", "lastTransitionTime": "2025-01-01T00:00:20Z"},
            {"type": "NetworkUnavailable", "status": "False"},
        ]));
        let now = at("2025-01-01T00:05:00Z");
        assert!(mark_status_unknown(&mut quiet, now));
        let summary: Vec<(String, String, Option<String>, Option<Timestamp>)> = quiet
            .status
            .as_ref()
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|condition| {
                (
                    condition.type_,
                    condition.status,
                    condition.reason,
                    condition.last_transition_time.map(|time| time.0),
                )
            })
            .collect();
        let unknown = |reason: &str, time: &str| (Some(reason.to_owned()), Some(at(time)));
        let expected = [
            (
                "Ready",
                "Unknown",
                unknown("NodeStatusUnknown", "2025-01-01T00:05:00Z"),
            ),
            (
                "MemoryPressure",
                "Unknown",
                unknown("Other", "2025-01-01T00:00:20Z"),
            ),
            ("NetworkUnavailable", "False", (None, None)),
            (
                "DiskPressure",
                "Unknown",
                unknown("NodeStatusNeverUpdated", "2025-01-01T00:05:00Z"),
            ),
            (
                "PIDPressure",
                "Unknown",
                unknown("NodeStatusNeverUpdated", "2025-01-01T00:05:00Z"),
            ),
        ];
        assert_eq!(summary.len(), expected.len());
        for (seen, (condition_type, status, (reason, time))) in summary.iter().zip(expected) {
            assert_eq!(
                seen,
                &(condition_type.to_owned(), status.to_owned(), reason, time)
            );
        }
        let ready = condition(&quiet, READY).expect("a Ready condition");
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(
            condition(&quiet, "DiskPressure")
                .and_then(|condition| condition.last_heartbeat_time.clone()),
            Some(Time(at("2025-01-01T00:00:00Z")))
        );
        assert!(!mark_status_unknown(&mut quiet, at("2025-01-01T00:06:00Z")));
    }
}
