//! Taints and tolerations, decided as Kubernetes' `Toleration.ToleratesTaint` and
//! `FindMatchingUntoleratedTaint` do, and the taint a node's Ready condition implies.

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};

/// The taint Kubernetes puts on a node whose Ready condition is False, or that has not
/// reported one yet (the kubelet registers nodes with it).
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint Kubernetes puts on a node whose Ready condition is Unknown: its agent stopped
/// reporting.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint a cordoned node (`spec.unschedulable`) stands for; tolerating it lets a pod
/// onto a cordoned node, as DaemonSet pods do.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

pub const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";
const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// Whether one toleration tolerates the taint: an empty effect or key matches any, the
/// `Exists` operator any value, and `Equal` (also the default) only the same value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated_by(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|toleration| tolerates(toleration, taint))
}

/// The first taint that keeps the pod off the node: one with a NoSchedule or NoExecute
/// effect that no toleration tolerates. PreferNoSchedule only lowers a node's score.
pub fn first_untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|taint| {
        (taint.effect == NO_SCHEDULE || taint.effect == NO_EXECUTE)
            && !tolerated_by(tolerations, taint)
    })
}

/// The TaintToleration score's count: the node's PreferNoSchedule taints that the pod's
/// tolerations with that effect (or none) do not tolerate. Fewer is better.
pub fn intolerable_preferences(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    let preferring: Vec<&Toleration> = tolerations
        .iter()
        .filter(|toleration| {
            toleration
                .effect
                .as_deref()
                .is_none_or(|effect| effect.is_empty() || effect == PREFER_NO_SCHEDULE)
        })
        .collect();
    let count = taints
        .iter()
        .filter(|taint| taint.effect == PREFER_NO_SCHEDULE)
        .filter(|taint| {
            !preferring
                .iter()
                .any(|toleration| tolerates(toleration, taint))
        })
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.to_owned(),
        effect: effect.to_owned(),
        ..Default::default()
    }
}

/// The NoSchedule taint that Kubernetes' node lifecycle controller keeps on a node that is
/// not Ready. Nothing in wasmkube writes those taints yet, so the scheduler reads the
/// condition itself; a pod that tolerates the taint may still land on such a node, as in
/// Kubernetes.
fn readiness_taint(node: &Node) -> Option<Taint> {
    let ready = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        })
        .map(|condition| condition.status.as_str());
    match ready {
        Some("True") => None,
        Some("False") | None => Some(taint(NOT_READY_TAINT, NO_SCHEDULE)),
        Some(_) => Some(taint(UNREACHABLE_TAINT, NO_SCHEDULE)),
    }
}

/// The node's own taints, plus the one its readiness implies unless it already has it.
pub fn scheduling_taints(node: &Node) -> Vec<Taint> {
    let mut taints = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default();
    if let Some(implied) = readiness_taint(node)
        && !taints
            .iter()
            .any(|taint| taint.key == implied.key && taint.effect == implied.effect)
    {
        taints.push(implied);
    }
    taints
}

/// The taint that stands for a cordoned node.
pub fn unschedulable_taint() -> Taint {
    taint(UNSCHEDULABLE_TAINT, NO_SCHEDULE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn toleration(value: serde_json::Value) -> Toleration {
        serde_json::from_value(value).expect("a toleration")
    }

    fn dedicated(value: &str, effect: &str) -> Taint {
        Taint {
            key: "dedicated".to_owned(),
            value: Some(value.to_owned()),
            effect: effect.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn tolerations_match_key_operator_value_and_effect() {
        let taint = dedicated("gpu", NO_SCHEDULE);
        for (spec, expected) in [
            (
                json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}),
                true,
            ),
            (
                json!({"key": "dedicated", "operator": "Equal", "value": "gpu"}),
                true,
            ),
            (
                json!({"key": "dedicated", "operator": "Equal", "value": "cpu"}),
                false,
            ),
            (json!({"key": "dedicated", "operator": "Exists"}), true),
            (
                json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}),
                false,
            ),
            (json!({"key": "other", "operator": "Exists"}), false),
            (json!({"operator": "Exists"}), true),
            (
                json!({"key": "dedicated", "operator": "Like", "value": "gpu"}),
                false,
            ),
            (json!({"key": "dedicated"}), false),
        ] {
            assert_eq!(
                tolerates(&toleration(spec.clone()), &taint),
                expected,
                "{spec}"
            );
        }
    }

    #[test]
    fn only_no_schedule_and_no_execute_taints_keep_pods_off() {
        let taints = [
            dedicated("a", "PreferNoSchedule"),
            dedicated("b", NO_EXECUTE),
        ];
        assert_eq!(
            first_untolerated(&taints, &[]).map(|taint| taint.value.clone()),
            Some(Some("b".to_owned()))
        );
        let tolerating_b = [toleration(json!({"key": "dedicated", "value": "b"}))];
        assert!(first_untolerated(&taints, &tolerating_b).is_none());
    }

    #[test]
    fn prefer_no_schedule_taints_count_unless_tolerated() {
        let taints = [
            dedicated("a", PREFER_NO_SCHEDULE),
            dedicated("b", PREFER_NO_SCHEDULE),
            dedicated("c", NO_SCHEDULE),
        ];
        assert_eq!(intolerable_preferences(&taints, &[]), 2);
        let tolerating_a = [toleration(json!({"key": "dedicated", "value": "a"}))];
        assert_eq!(intolerable_preferences(&taints, &tolerating_a), 1);
        let only_for_no_schedule = [toleration(
            json!({"operator": "Exists", "effect": "NoSchedule"}),
        )];
        assert_eq!(
            intolerable_preferences(&taints, &only_for_no_schedule),
            2,
            "a toleration for another effect does not count"
        );
        let everything = [toleration(json!({"operator": "Exists"}))];
        assert_eq!(intolerable_preferences(&taints, &everything), 0);
    }

    #[test]
    fn a_node_that_is_not_ready_carries_the_not_ready_or_unreachable_taint() {
        let node = |conditions: serde_json::Value, taints: serde_json::Value| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n"},
                "spec": {"taints": taints},
                "status": {"conditions": conditions},
            }))
            .expect("a node")
        };
        let keys = |node: &Node| -> Vec<String> {
            scheduling_taints(node)
                .into_iter()
                .map(|taint| taint.key)
                .collect()
        };
        assert!(
            keys(&node(
                json!([{"type": "Ready", "status": "True"}]),
                json!([])
            ))
            .is_empty()
        );
        assert_eq!(
            keys(&node(
                json!([{"type": "Ready", "status": "False"}]),
                json!([])
            )),
            [NOT_READY_TAINT]
        );
        assert_eq!(keys(&node(json!([]), json!([]))), [NOT_READY_TAINT]);
        assert_eq!(
            keys(&node(
                json!([{"type": "Ready", "status": "Unknown"}]),
                json!([])
            )),
            [UNREACHABLE_TAINT]
        );
        let already_tainted = node(
            json!([{"type": "Ready", "status": "False"}]),
            json!([{"key": NOT_READY_TAINT, "effect": "NoSchedule"}]),
        );
        assert_eq!(keys(&already_tainted), [NOT_READY_TAINT]);
    }
}
