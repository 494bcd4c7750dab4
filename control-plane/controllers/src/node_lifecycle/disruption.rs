//! Zone disruption (`handleDisruption` and `ComputeZoneState`): when no node in any zone is
//! ready, Kubernetes assumes the control plane lost the nodes rather than the nodes died —
//! a partitioned network, or a control plane that was itself stopped, as a laptop that
//! slept — and evicts nothing until some node is ready again.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;

const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const REGION_LABELS: [&str; 2] = [
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/region",
];
/// Nodes with this label are left out of the disruption count.
const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";

fn first_label<'a>(node: &'a Node, keys: &[&str]) -> &'a str {
    let labels = node.metadata.labels.as_ref();
    keys.iter()
        .find_map(|key| labels.and_then(|labels| labels.get(*key)))
        .map_or("", String::as_str)
}

/// The node's zone as `GetZoneKey` spells it: region and zone, or empty for neither.
pub fn zone_key(node: &Node) -> String {
    let region = first_label(node, &REGION_LABELS);
    let zone = first_label(node, &ZONE_LABELS);
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\u{0}:{zone}")
    }
}

pub fn is_excluded(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|labels| labels.contains_key(EXCLUDE_DISRUPTION_LABEL))
}

/// Whether every zone that has nodes has none ready: `(node, ready)` for each node, where
/// ready means its Ready condition is True and it is not overdue.
pub fn every_zone_fully_disrupted<'a>(nodes: impl IntoIterator<Item = (&'a Node, bool)>) -> bool {
    let mut ready_per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for (node, ready) in nodes {
        if is_excluded(node) {
            continue;
        }
        *ready_per_zone.entry(zone_key(node)).or_default() += usize::from(ready);
    }
    !ready_per_zone.is_empty() && ready_per_zone.values().all(|ready| *ready == 0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str, labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
            .expect("a node")
    }

    #[test]
    fn zones_are_keyed_by_region_and_zone() {
        assert_eq!(zone_key(&node("a", json!({}))), "");
        assert_eq!(
            zone_key(&node(
                "b",
                json!({"topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": "eu-1"})
            )),
            "eu:\u{0}:eu-1"
        );
        assert_eq!(
            zone_key(&node(
                "c",
                json!({"failure-domain.beta.kubernetes.io/zone": "z"})
            )),
            ":\u{0}:z"
        );
    }

    #[test]
    fn evictions_are_held_only_when_no_zone_has_a_ready_node() {
        let a = node("a", json!({"topology.kubernetes.io/zone": "one"}));
        let b = node("b", json!({"topology.kubernetes.io/zone": "two"}));
        let excluded = node("c", json!({"node.kubernetes.io/exclude-disruption": ""}));
        assert!(!every_zone_fully_disrupted([(&a, false), (&b, true)]));
        assert!(every_zone_fully_disrupted([(&a, false), (&b, false)]));
        assert!(every_zone_fully_disrupted([(&a, false), (&excluded, true)]));
        assert!(!every_zone_fully_disrupted([(&excluded, false)]));
        assert!(!every_zone_fully_disrupted([]));
    }
}
