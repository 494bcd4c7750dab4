//! Which nodes a DaemonSet's pods belong on, as the DaemonSet controller's
//! `NodeShouldRunDaemonPod` decides it: the template's `nodeName`, its `nodeSelector` and
//! required node affinity, and the node's NoSchedule and NoExecute taints against the
//! template's tolerations plus the ones every DaemonSet pod gets.
//!
//! The scheduler has the same matching rules in the control-plane crate; this crate talks
//! to the API only and does not link the API server, so the rules are repeated here.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Toleration,
};

use crate::taints::tolerated_by;

const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";
/// The only field a `matchFields` requirement may name.
pub const NODE_NAME_FIELD: &str = "metadata.name";

/// Whether a DaemonSet wants a pod on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeVerdict {
    /// A pod should be created on the node if it has none.
    pub should_run: bool,
    /// A pod already there may stay: the node fits, or it only has NoSchedule taints the
    /// pod does not tolerate, which keep new pods away but do not evict running ones.
    pub should_continue_running: bool,
}

/// `NodeShouldRunDaemonPod`.
pub fn node_should_run_daemon_pod(node: &Node, daemon_set: &DaemonSet) -> NodeVerdict {
    let never = NodeVerdict {
        should_run: false,
        should_continue_running: false,
    };
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let mut spec = daemon_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.clone())
        .unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|wanted| !wanted.is_empty() && wanted != node_name)
    {
        return never;
    }
    add_daemon_pod_tolerations(&mut spec);
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if !node_matches(&spec, node_name, &labels) {
        return never;
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.as_deref())
        .unwrap_or_default();
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated = |effects: &[&str]| {
        taints.iter().any(|taint| {
            effects.contains(&taint.effect.as_str()) && !tolerated_by(tolerations, taint)
        })
    };
    if untolerated(&[NO_SCHEDULE, NO_EXECUTE]) {
        return NodeVerdict {
            should_run: false,
            should_continue_running: !untolerated(&[NO_EXECUTE]),
        };
    }
    NodeVerdict {
        should_run: true,
        should_continue_running: true,
    }
}

/// `AddOrUpdateDaemonPodTolerations`: DaemonSet pods stay on nodes that are not ready or
/// unreachable, and go onto nodes under pressure or cordoned, since they are the node's
/// own services.
pub fn add_daemon_pod_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", NO_EXECUTE),
        ("node.kubernetes.io/unreachable", NO_EXECUTE),
        ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", NO_SCHEDULE));
    }
    for (key, effect) in wanted {
        add_or_update_toleration(
            spec,
            Toleration {
                key: Some(key.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some(effect.to_owned()),
                ..Default::default()
            },
        );
    }
}

/// `AddOrUpdateTolerationInPodSpec`: a toleration with the same key, operator, value and
/// effect is replaced in place; otherwise the new one is appended.
fn add_or_update_toleration(spec: &mut PodSpec, toleration: Toleration) {
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    let same = |existing: &Toleration| {
        existing.key == toleration.key
            && existing.effect == toleration.effect
            && existing.operator.as_deref().unwrap_or_default()
                == toleration.operator.as_deref().unwrap_or_default()
            && existing.value.as_deref().unwrap_or_default()
                == toleration.value.as_deref().unwrap_or_default()
    };
    match tolerations.iter_mut().find(|existing| same(existing)) {
        Some(existing) => *existing = toleration,
        None => tolerations.push(toleration),
    }
}

/// `nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)`: every `nodeSelector` label,
/// and at least one required affinity term.
fn node_matches(spec: &PodSpec, node_name: &str, node_labels: &BTreeMap<String, String>) -> bool {
    let selector_matches = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(key, value)| node_labels.get(key) == Some(value));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    selector_matches
        && required.is_none_or(|required| {
            required
                .node_selector_terms
                .iter()
                .any(|term| term_matches(term, node_name, node_labels))
        })
}

/// All of a term's expressions and fields; a term with neither matches no node.
fn term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    node_labels: &BTreeMap<String, String>,
) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|requirement| expression_matches(requirement, node_labels))
        && fields
            .iter()
            .all(|requirement| field_matches(requirement, node_name))
}

/// A label requirement; one that Kubernetes could not turn into a selector matches nothing.
fn expression_matches(
    requirement: &NodeSelectorRequirement,
    node_labels: &BTreeMap<String, String>,
) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let label = node_labels.get(&requirement.key);
    match requirement.operator.as_str() {
        "In" => !values.is_empty() && label.is_some_and(|label| values.contains(label)),
        "NotIn" => !values.is_empty() && label.is_none_or(|label| !values.contains(label)),
        "Exists" => values.is_empty() && label.is_some(),
        "DoesNotExist" => values.is_empty() && label.is_none(),
        operator @ ("Gt" | "Lt") => {
            let [bound] = values else {
                return false;
            };
            let (Ok(bound), Some(Ok(label))) = (
                bound.parse::<i64>(),
                label.map(|label| label.parse::<i64>()),
            ) else {
                return false;
            };
            if operator == "Gt" {
                label > bound
            } else {
                label < bound
            }
        }
        _ => false,
    }
}

/// A field requirement: only the node's name, compared with one value.
fn field_matches(requirement: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    match (
        requirement.key.as_str(),
        requirement.operator.as_str(),
        values,
    ) {
        (NODE_NAME_FIELD, "In", [name]) => name == node_name,
        (NODE_NAME_FIELD, "NotIn", [name]) => name != node_name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn node(labels: Value, taints: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": labels},
            "spec": {"taints": taints},
        }))
        .expect("a node")
    }

    fn daemon_set(pod_spec: Value) -> DaemonSet {
        let mut pod_spec = pod_spec;
        pod_spec["containers"] = json!([{"name": "app", "image": "hollow/run"}]);
        serde_json::from_value(json!({
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": pod_spec},
            },
        }))
        .expect("a daemon set")
    }

    fn verdict(should_run: bool, should_continue_running: bool) -> NodeVerdict {
        NodeVerdict {
            should_run,
            should_continue_running,
        }
    }

    #[test]
    fn node_selector_affinity_and_node_name_choose_nodes() {
        let zone_east = node(json!({"zone": "east"}), json!([]));
        for (spec, expected) in [
            (json!({}), true),
            (json!({"nodeSelector": {"zone": "east"}}), true),
            (json!({"nodeSelector": {"zone": "west"}}), false),
            (json!({"nodeName": "n1"}), true),
            (json!({"nodeName": "n2"}), false),
            (
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["west"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
                ]}}}}),
                true,
            ),
            (
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["east"]}]},
                ]}}}}),
                false,
            ),
        ] {
            assert_eq!(
                node_should_run_daemon_pod(&zone_east, &daemon_set(spec.clone())),
                verdict(expected, expected),
                "{spec}"
            );
        }
    }

    #[test]
    fn untolerated_no_schedule_taints_keep_new_pods_off_but_let_running_ones_stay() {
        let dedicated = |effect: &str| {
            node(
                json!({}),
                json!([{"key": "dedicated", "value": "gpu", "effect": effect}]),
            )
        };
        let plain = daemon_set(json!({}));
        assert_eq!(
            node_should_run_daemon_pod(&dedicated("NoSchedule"), &plain),
            verdict(false, true)
        );
        assert_eq!(
            node_should_run_daemon_pod(&dedicated("NoExecute"), &plain),
            verdict(false, false)
        );
        assert_eq!(
            node_should_run_daemon_pod(&dedicated("PreferNoSchedule"), &plain),
            verdict(true, true)
        );
        let tolerating =
            daemon_set(json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}));
        assert_eq!(
            node_should_run_daemon_pod(&dedicated("NoExecute"), &tolerating),
            verdict(true, true)
        );
    }

    #[test]
    fn daemon_pods_tolerate_node_problems_and_cordons() {
        for (key, effect) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ] {
            let tainted = node(json!({}), json!([{"key": key, "effect": effect}]));
            assert_eq!(
                node_should_run_daemon_pod(&tainted, &daemon_set(json!({}))),
                verdict(true, true),
                "{key}"
            );
        }
        let not_ready_no_schedule = node(
            json!({}),
            json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
        );
        assert_eq!(
            node_should_run_daemon_pod(&not_ready_no_schedule, &daemon_set(json!({}))),
            verdict(false, true)
        );
    }

    #[test]
    fn the_automatic_tolerations_replace_equal_ones_instead_of_repeating_them() {
        let mut spec: PodSpec = serde_json::from_value(json!({
            "containers": [],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        }))
        .expect("a pod spec");
        add_daemon_pod_tolerations(&mut spec);
        let tolerations = spec.tolerations.expect("tolerations");
        assert_eq!(tolerations.len(), 6);
        assert_eq!(tolerations[0].toleration_seconds, None);
    }
}
