//! The taints the node controller keeps on a node: NoSchedule taints that mirror its
//! conditions (Kubernetes' TaintNodesByCondition, so the scheduler keeps new pods off it)
//! and the NoExecute taint of a node that is not ready or unreachable (taint-based
//! eviction, so its pods are moved). Taints anyone else put on the node are never touched.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::health::READY;
use super::{NO_EXECUTE, NO_SCHEDULE, NOT_READY_TAINT, UNREACHABLE_TAINT};

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Which condition status implies which NoSchedule taint
/// (`nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    (READY, "False", NOT_READY_TAINT),
    (READY, "Unknown", UNREACHABLE_TAINT),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

/// What to do about the NoExecute taints of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoExecute {
    /// Leave them as they are: the node has not said whether it is ready yet.
    Keep,
    /// The node is ready, or evictions are held back: no NoExecute taint of ours.
    Remove,
    /// This one (not-ready or unreachable), and not the other.
    Taint(&'static str),
}

/// The NoExecute taint the node's Ready condition calls for (`processTaintBaseEviction`).
/// `evictions_held` is true when every zone is fully disrupted: Kubernetes then assumes
/// the trouble is the control plane's, not the nodes', and evicts nothing.
pub fn no_execute_for(ready_status: Option<&str>, evictions_held: bool) -> NoExecute {
    match ready_status {
        None => NoExecute::Keep,
        Some("True") => NoExecute::Remove,
        Some(_) if evictions_held => NoExecute::Remove,
        Some("False") => NoExecute::Taint(NOT_READY_TAINT),
        Some(_) => NoExecute::Taint(UNREACHABLE_TAINT),
    }
}

fn is_managed(taint: &Taint) -> bool {
    match taint.effect.as_str() {
        NO_SCHEDULE => {
            taint.key == UNSCHEDULABLE_TAINT
                || CONDITION_TAINTS.iter().any(|(_, _, key)| taint.key == *key)
        }
        NO_EXECUTE => taint.key == NOT_READY_TAINT || taint.key == UNREACHABLE_TAINT,
        _ => false,
    }
}

/// The managed taints the node should carry, as (key, effect).
fn desired(node: &Node, no_execute: NoExecute) -> Vec<(&'static str, &'static str)> {
    let conditions = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    let mut taints: Vec<(&'static str, &'static str)> = CONDITION_TAINTS
        .iter()
        .filter(|(condition_type, status, _)| {
            conditions
                .iter()
                .any(|condition| condition.type_ == *condition_type && condition.status == *status)
        })
        .map(|(_, _, key)| (*key, NO_SCHEDULE))
        .collect();
    if node
        .spec
        .as_ref()
        .and_then(|spec| spec.unschedulable)
        .unwrap_or(false)
    {
        taints.push((UNSCHEDULABLE_TAINT, NO_SCHEDULE));
    }
    if let NoExecute::Taint(key) = no_execute {
        taints.push((key, NO_EXECUTE));
    }
    taints
}

/// The node's taints after the node controller's changes, or `None` when they are already
/// right. Taints are matched by key and effect; one that stays keeps its `timeAdded`, one
/// that is added gets `now` (the start of its pods' `tolerationSeconds`).
pub fn reconciled_taints(node: &Node, no_execute: NoExecute, now: Timestamp) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default();
    let wanted = desired(node, no_execute);
    let keep = |taint: &Taint| {
        !is_managed(taint)
            || (no_execute == NoExecute::Keep && taint.effect == NO_EXECUTE)
            || wanted
                .iter()
                .any(|(key, effect)| taint.key == *key && taint.effect == *effect)
    };
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|taint| keep(taint))
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !taints
            .iter()
            .any(|taint| taint.key == *key && taint.effect == *effect)
        {
            taints.push(Taint {
                key: (*key).to_owned(),
                effect: (*effect).to_owned(),
                time_added: Some(Time(now)),
                value: None,
            });
        }
    }
    (taints != current).then_some(taints)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(ready: Option<&str>, unschedulable: bool, taints: serde_json::Value) -> Node {
        let conditions = match ready {
            Some(status) => {
                json!([{"type": "Ready", "status": status}, {"type": "DiskPressure", "status": "True"}])
            }
            None => json!([]),
        };
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": unschedulable, "taints": taints},
            "status": {"conditions": conditions},
        }))
        .expect("a node")
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|taint| format!("{}:{}", taint.key, taint.effect))
            .collect()
    }

    #[test]
    fn an_unreachable_node_gets_both_unreachable_taints_and_keeps_foreign_ones() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("a timestamp");
        let unknown = node(
            Some("Unknown"),
            true,
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]),
        );
        let no_execute = no_execute_for(Some("Unknown"), false);
        let taints = reconciled_taints(&unknown, no_execute, now).expect("new taints");
        assert_eq!(
            keys(&taints),
            [
                "dedicated:NoExecute",
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/disk-pressure:NoSchedule",
                "node.kubernetes.io/unschedulable:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute",
            ]
        );
        assert_eq!(taints[4].time_added, Some(Time(now)));
        assert_eq!(taints[0].time_added, None);
        let mut tainted = unknown.clone();
        tainted.spec.get_or_insert_with(Default::default).taints = Some(taints);
        assert_eq!(reconciled_taints(&tainted, no_execute, now), None);
    }

    #[test]
    fn not_ready_replaces_unreachable_and_ready_removes_both() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("a timestamp");
        let unreachable = json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-12-31T00:00:00Z"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        ]);
        let not_ready = node(Some("False"), false, unreachable.clone());
        let taints = reconciled_taints(&not_ready, no_execute_for(Some("False"), false), now)
            .expect("new taints");
        assert_eq!(
            keys(&taints),
            [
                "node.kubernetes.io/not-ready:NoSchedule",
                "node.kubernetes.io/disk-pressure:NoSchedule",
                "node.kubernetes.io/not-ready:NoExecute",
            ]
        );
        let ready = node(Some("True"), false, unreachable);
        let taints = reconciled_taints(&ready, no_execute_for(Some("True"), false), now)
            .expect("new taints");
        assert_eq!(
            keys(&taints),
            ["node.kubernetes.io/disk-pressure:NoSchedule"]
        );
    }

    #[test]
    fn held_evictions_remove_the_no_execute_taint_and_a_silent_node_keeps_it() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("a timestamp");
        let tainted = json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]);
        let held = node(Some("Unknown"), false, tainted.clone());
        let taints = reconciled_taints(&held, no_execute_for(Some("Unknown"), true), now)
            .expect("new taints");
        assert_eq!(
            keys(&taints),
            [
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/disk-pressure:NoSchedule",
            ]
        );
        let silent = node(None, false, tainted);
        assert_eq!(no_execute_for(None, false), NoExecute::Keep);
        assert_eq!(reconciled_taints(&silent, NoExecute::Keep, now), None);
    }
}
