//! One scheduling decision: the filters (Kubernetes' NodeUnschedulable, TaintToleration,
//! NodeAffinity and NodeResourcesFit plugins, in that order) drop the nodes that cannot
//! take the pod, the least-allocated score ranks the rest, and when none is left the
//! reasons are counted the way kube-scheduler words them.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::PodSpec;

use super::cache::{ClusterCache, NodeUsage, SchedulableNode};
use super::node_affinity::node_matches;
use super::resources::PodRequests;
use super::taints::{first_untolerated, tolerated_by, unschedulable_taint};

/// Why a node cannot take the pod, in kube-scheduler's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FilterFailure {
    Unschedulable,
    UntoleratedTaint,
    NodeAffinity,
    InsufficientCpu,
    InsufficientMemory,
    TooManyPods,
}

impl fmt::Display for FilterFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            FilterFailure::Unschedulable => "node(s) were unschedulable",
            // Kubernetes stopped naming the taint in pod statuses, which anyone who may
            // read the pod can see; the scheduler's log names it instead.
            FilterFailure::UntoleratedTaint => "node(s) had untolerated taint(s)",
            FilterFailure::NodeAffinity => "node(s) didn't match Pod's node affinity/selector",
            FilterFailure::InsufficientCpu => "Insufficient cpu",
            FilterFailure::InsufficientMemory => "Insufficient memory",
            FilterFailure::TooManyPods => "Too many pods",
        })
    }
}

/// No node can take the pod: how many there were, and why each one could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    pub node_count: usize,
    pub failures: BTreeMap<String, Vec<FilterFailure>>,
}

impl fmt::Display for FitError {
    /// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.`: each
    /// reason with the number of nodes it ruled out, sorted as text, as kube-scheduler's
    /// `FitError` does; or `no nodes available to schedule pods` without any node.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node_count == 0 {
            return formatter.write_str("no nodes available to schedule pods");
        }
        let mut histogram: BTreeMap<FilterFailure, usize> = BTreeMap::new();
        for failure in self.failures.values().flatten() {
            *histogram.entry(*failure).or_default() += 1;
        }
        let mut reasons: Vec<String> = histogram
            .iter()
            .map(|(failure, nodes)| format!("{nodes} {failure}"))
            .collect();
        reasons.sort();
        write!(
            formatter,
            "0/{} nodes are available: {}.",
            self.node_count,
            reasons.join(", ")
        )
    }
}

/// NodeResourcesFit: room for one more pod, and for the pod's cpu and memory requests
/// (a request of none always fits).
fn resource_failures(
    requests: &PodRequests,
    node: &SchedulableNode,
    usage: &NodeUsage,
) -> Vec<FilterFailure> {
    let mut failures = Vec::new();
    if usage.pods + 1 > node.allocatable.pods {
        failures.push(FilterFailure::TooManyPods);
    }
    let free = node.allocatable.resources.minus(usage.requested);
    if requests.requested.milli_cpu > 0 && requests.requested.milli_cpu > free.milli_cpu {
        failures.push(FilterFailure::InsufficientCpu);
    }
    if requests.requested.memory > 0 && requests.requested.memory > free.memory {
        failures.push(FilterFailure::InsufficientMemory);
    }
    failures
}

/// Why the node cannot take the pod; nothing if it can. As in kube-scheduler, the first
/// plugin that refuses the node decides; only the resource check reports several reasons.
pub fn filter(
    spec: &PodSpec,
    requests: &PodRequests,
    node: &SchedulableNode,
    usage: &NodeUsage,
) -> Vec<FilterFailure> {
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if node.unschedulable && !tolerated_by(tolerations, &unschedulable_taint()) {
        return vec![FilterFailure::Unschedulable];
    }
    if let Some(taint) = first_untolerated(&node.taints, tolerations) {
        tracing::debug!(node = %node.name, key = %taint.key, value = ?taint.value, effect = %taint.effect, "untolerated taint");
        return vec![FilterFailure::UntoleratedTaint];
    }
    if !node_matches(spec, &node.name, &node.labels) {
        return vec![FilterFailure::NodeAffinity];
    }
    resource_failures(requests, node, usage)
}

/// Kubernetes' `MaxNodeScore`.
const MAX_NODE_SCORE: i64 = 100;

/// `leastRequestedScore`: the share of the resource left free once the pod is on the node.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// The NodeResourcesFit plugin's LeastAllocated strategy: cpu and memory weighed equally,
/// each counted with the defaults for containers that request nothing, so such pods
/// spread too.
pub fn least_allocated_score(
    requests: &PodRequests,
    node: &SchedulableNode,
    usage: &NodeUsage,
) -> i64 {
    let requested = usage.non_zero_requested.plus(requests.non_zero);
    let capacity = node.allocatable.resources;
    (least_requested_score(requested.milli_cpu, capacity.milli_cpu)
        + least_requested_score(requested.memory, capacity.memory))
        / 2
}

/// The node for the pod: the best-scoring one that passes every filter, the first by
/// name among equals.
pub fn select_node(
    spec: &PodSpec,
    requests: &PodRequests,
    cache: &ClusterCache,
) -> Result<String, FitError> {
    let mut best: Option<(i64, &str)> = None;
    let mut failures = BTreeMap::new();
    for node in cache.nodes() {
        let usage = cache.usage(&node.name);
        let refused = filter(spec, requests, node, &usage);
        if !refused.is_empty() {
            failures.insert(node.name.clone(), refused);
            continue;
        }
        let score = least_allocated_score(requests, node, &usage);
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, &node.name));
        }
    }
    match best {
        Some((_, name)) => Ok(name.to_owned()),
        None => Err(FitError {
            node_count: cache.node_count(),
            failures,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::resources::pod_requests;

    fn node(name: &str, cpu: &str, extra: Value) -> k8s_openapi::api::core::v1::Node {
        let mut node = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "2"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        });
        for (section, fields) in extra.as_object().into_iter().flatten() {
            for (field, value) in fields.as_object().into_iter().flatten() {
                node[section][field] = value.clone();
            }
        }
        serde_json::from_value(node).expect("a node")
    }

    fn pod(cpu: &str, extra: Value) -> k8s_openapi::api::core::v1::Pod {
        let mut spec =
            json!({"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]});
        for (field, value) in extra.as_object().into_iter().flatten() {
            spec[field] = value.clone();
        }
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
        )
        .expect("a pod")
    }

    fn decide(
        pod: &k8s_openapi::api::core::v1::Pod,
        cache: &ClusterCache,
    ) -> Result<String, String> {
        let requests = pod_requests(pod).expect("valid requests");
        select_node(pod.spec.as_ref().expect("a spec"), &requests, cache)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_message_counts_each_reason_over_the_nodes_like_kube_scheduler() {
        let mut cache = ClusterCache::default();
        cache.set_node(&node("a", "1", json!({})));
        cache.set_node(&node("b", "1", json!({})));
        cache.set_node(&node(
            "c",
            "8",
            json!({"metadata": {"labels": {"zone": "west"}}}),
        ));
        cache.set_node(&node("d", "8", json!({"spec": {"unschedulable": true}})));
        cache.set_node(&node(
            "e",
            "8",
            json!({"spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}}),
        ));
        cache.set_node(&node(
            "f",
            "8",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
        ));
        let picky = pod(
            "2",
            json!({"nodeSelector": {"kubernetes.io/hostname": "a"}}),
        );
        assert_eq!(
            decide(&picky, &cache),
            Err("0/6 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint(s).".to_owned())
        );
        let tolerant = pod(
            "2",
            json!({"tolerations": [{"operator": "Exists"}], "nodeSelector": {"kubernetes.io/hostname": "d"}}),
        );
        assert_eq!(
            decide(&tolerant, &cache),
            Ok("d".to_owned()),
            "tolerating everything includes cordons"
        );
        assert_eq!(
            decide(&pod("1", json!({})), &ClusterCache::default()),
            Err("no nodes available to schedule pods".to_owned())
        );
    }

    #[test]
    fn resources_fit_against_what_bound_pods_request() {
        let mut cache = ClusterCache::default();
        cache.set_node(&node("a", "1", json!({})));
        cache.observe_pod(&serde_json::from_value(json!({
            "metadata": {"name": "bound", "namespace": "default"},
            "spec": {"nodeName": "a", "containers": [{"name": "app", "resources": {"requests": {"cpu": "600m", "memory": "1Gi"}}}]},
        })).expect("a pod"));
        let mut big = pod("500m", json!({}));
        big.spec.as_mut().expect("a spec").containers[0].resources = Some(
            serde_json::from_value(json!({"requests": {"cpu": "500m", "memory": "1"}}))
                .expect("resources"),
        );
        assert_eq!(
            decide(&big, &cache),
            Err("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.".to_owned())
        );
        assert_eq!(decide(&pod("400m", json!({})), &cache), Ok("a".to_owned()));
        cache.observe_pod(
            &serde_json::from_value(json!({
                "metadata": {"name": "second", "namespace": "default"},
                "spec": {"nodeName": "a", "containers": [{"name": "app"}]},
            }))
            .expect("a pod"),
        );
        assert_eq!(
            decide(&pod("0", json!({})), &cache),
            Err("0/1 nodes are available: 1 Too many pods.".to_owned())
        );
    }

    #[test]
    fn the_least_allocated_node_wins_and_ties_go_to_the_first_name() {
        let mut cache = ClusterCache::default();
        cache.set_node(&node("b", "2", json!({})));
        cache.set_node(&node("a", "2", json!({})));
        assert_eq!(decide(&pod("500m", json!({})), &cache), Ok("a".to_owned()));
        let requests = pod_requests(&pod("500m", json!({}))).expect("valid requests");
        cache.assume(
            crate::scheduler::cache::PodKey {
                namespace: "default".to_owned(),
                name: "first".to_owned(),
            },
            "a",
            requests,
        );
        assert_eq!(decide(&pod("500m", json!({})), &cache), Ok("b".to_owned()));
        cache.set_node(&node("c", "4", json!({})));
        assert_eq!(decide(&pod("500m", json!({})), &cache), Ok("c".to_owned()));
    }
}
