//! The scheduler's view of the cluster (Kubernetes' scheduler cache): each node's
//! scheduling facts, and what the pods bound to it, or about to be, already request.
//!
//! A pod the scheduler has chosen a node for is *assumed* there from the moment of the
//! decision until the pod watch shows it bound, so that the next decisions count it even
//! though its binding is still on its way to the API server.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::ResourceExt;

use super::resources::{Allocatable, PodRequests, Resources, node_allocatable, pod_requests};
use super::taints::scheduling_taints;

/// A pod's identity while it waits and while it is placed: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn of(pod: &Pod) -> PodKey {
        PodKey {
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
        }
    }
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.namespace, self.name)
    }
}

/// What the filters and the score read of a node.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulableNode {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The node's taints and the one its readiness implies.
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Allocatable,
}

impl SchedulableNode {
    pub fn of(node: &Node) -> SchedulableNode {
        let name = node.name_any();
        // A node whose allocatable cannot be read offers nothing, which keeps pods off it
        // rather than guessing.
        let allocatable = node_allocatable(node).unwrap_or_else(|error| {
            tracing::warn!(node = %name, %error, "the node offers nothing to schedule on");
            Allocatable::default()
        });
        SchedulableNode {
            labels: node.labels().clone(),
            taints: scheduling_taints(node),
            unschedulable: node
                .spec
                .as_ref()
                .and_then(|spec| spec.unschedulable)
                .unwrap_or(false),
            allocatable,
            name,
        }
    }
}

/// What the pods on a node request together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    pub requested: Resources,
    pub non_zero_requested: Resources,
    pub pods: i64,
}

impl NodeUsage {
    fn add(&mut self, requests: PodRequests) {
        self.requested = self.requested.plus(requests.requested);
        self.non_zero_requested = self.non_zero_requested.plus(requests.non_zero);
        self.pods += 1;
    }

    fn remove(&mut self, requests: PodRequests) {
        self.requested = self.requested.minus(requests.requested);
        self.non_zero_requested = self.non_zero_requested.minus(requests.non_zero);
        self.pods -= 1;
    }
}

#[derive(Clone, Debug)]
struct Placement {
    node: String,
    requests: PodRequests,
    assumed: bool,
}

#[derive(Debug, Default)]
pub struct ClusterCache {
    /// Sorted by name, which is also the order ties between equal scores are broken in.
    nodes: BTreeMap<String, SchedulableNode>,
    placements: HashMap<PodKey, Placement>,
    usage: HashMap<String, NodeUsage>,
}

fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|node| !node.is_empty())
}

impl ClusterCache {
    /// Records a node's current state; answers whether anything the filters or the score
    /// read has changed, which is when waiting pods deserve another try.
    pub fn set_node(&mut self, node: &Node) -> bool {
        let facts = SchedulableNode::of(node);
        let changed = self.nodes.get(&facts.name) != Some(&facts);
        self.nodes.insert(facts.name.clone(), facts);
        changed
    }

    pub fn remove_node(&mut self, name: &str) {
        self.nodes.remove(name);
    }

    /// Starts over from a complete list of nodes.
    pub fn replace_nodes<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Node>) {
        self.nodes = nodes
            .into_iter()
            .map(|node| {
                let facts = SchedulableNode::of(node);
                (facts.name.clone(), facts)
            })
            .collect();
    }

    pub fn nodes(&self) -> impl Iterator<Item = &SchedulableNode> {
        self.nodes.values()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn usage(&self, node: &str) -> NodeUsage {
        self.usage.get(node).copied().unwrap_or_default()
    }

    fn place(&mut self, key: PodKey, placement: Placement) {
        self.unplace(&key);
        self.usage
            .entry(placement.node.clone())
            .or_default()
            .add(placement.requests);
        self.placements.insert(key, placement);
    }

    fn unplace(&mut self, key: &PodKey) {
        if let Some(previous) = self.placements.remove(key)
            && let Some(usage) = self.usage.get_mut(&previous.node)
        {
            usage.remove(previous.requests);
            if usage.pods == 0 {
                self.usage.remove(&previous.node);
            }
        }
    }

    /// Counts a pod the watch shows bound on its node, in place of any assumption.
    /// Unbound pods take nothing, unless assumed.
    pub fn observe_pod(&mut self, pod: &Pod) {
        let key = PodKey::of(pod);
        match bound_node(pod) {
            Some(node) => {
                // A bound pod's requests were validated when it was created; one that
                // still cannot be read counts as asking for nothing rather than being lost.
                let requests = pod_requests(pod).unwrap_or_else(|error| {
                    tracing::warn!(pod = %key, %error, "counting the pod's requests as none");
                    PodRequests::default()
                });
                let placement = Placement {
                    node: node.to_owned(),
                    requests,
                    assumed: false,
                };
                self.place(key, placement);
            }
            None if !self.is_assumed(&key) => self.unplace(&key),
            None => {}
        }
    }

    /// A pod that is gone (deleted, or finished) takes nothing any more.
    pub fn forget_pod(&mut self, key: &PodKey) {
        self.unplace(key);
    }

    /// Starts over from a complete list of pods, keeping the assumptions about pods that
    /// are still there and still unbound.
    pub fn replace_pods<'a>(&mut self, pods: impl IntoIterator<Item = &'a Pod>) {
        let mut assumptions: HashMap<PodKey, Placement> = self
            .placements
            .drain()
            .filter(|(_, placement)| placement.assumed)
            .collect();
        self.usage.clear();
        for pod in pods {
            let key = PodKey::of(pod);
            match (bound_node(pod), assumptions.remove(&key)) {
                (None, Some(assumed)) => self.place(key, assumed),
                _ => self.observe_pod(pod),
            }
        }
    }

    /// Counts the pod on the node the scheduler chose, until the watch shows it bound or
    /// the binding fails.
    pub fn assume(&mut self, key: PodKey, node: &str, requests: PodRequests) {
        let placement = Placement {
            node: node.to_owned(),
            requests,
            assumed: true,
        };
        self.place(key, placement);
    }

    pub fn forget_assumption(&mut self, key: &PodKey) {
        if self.is_assumed(key) {
            self.unplace(key);
        }
    }

    pub fn is_assumed(&self, key: &PodKey) -> bool {
        self.placements
            .get(key)
            .is_some_and(|placement| placement.assumed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, node: Option<&str>, cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": "1Mi"}}}],
            },
        }))
        .expect("a pod")
    }

    fn key(name: &str) -> PodKey {
        PodKey {
            namespace: "default".to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn bound_pods_add_up_per_node_and_leave_when_forgotten() {
        let mut cache = ClusterCache::default();
        cache.observe_pod(&pod("a", Some("n1"), "100m"));
        cache.observe_pod(&pod("b", Some("n1"), "200m"));
        cache.observe_pod(&pod("pending", None, "1"));
        assert_eq!(cache.usage("n1").requested.milli_cpu, 300);
        assert_eq!(cache.usage("n1").pods, 2);
        cache.observe_pod(&pod("b", Some("n1"), "200m"));
        assert_eq!(cache.usage("n1").pods, 2, "an update is not a second pod");
        cache.forget_pod(&key("a"));
        assert_eq!(cache.usage("n1").requested.milli_cpu, 200);
        cache.forget_pod(&key("b"));
        assert_eq!(cache.usage("n1"), NodeUsage::default());
    }

    #[test]
    fn an_assumed_pod_counts_until_the_watch_shows_where_it_went() {
        let mut cache = ClusterCache::default();
        let requests = pod_requests(&pod("a", None, "500m")).expect("valid requests");
        cache.assume(key("a"), "n1", requests);
        assert!(cache.is_assumed(&key("a")));
        // An older, unbound copy of the pod from the watch does not undo the assumption.
        cache.observe_pod(&pod("a", None, "500m"));
        assert_eq!(cache.usage("n1").requested.milli_cpu, 500);
        // Someone else bound it elsewhere: it counts where it really is.
        cache.observe_pod(&pod("a", Some("n2"), "500m"));
        assert!(!cache.is_assumed(&key("a")));
        assert_eq!(cache.usage("n1"), NodeUsage::default());
        assert_eq!(cache.usage("n2").requested.milli_cpu, 500);

        cache.assume(key("b"), "n1", requests);
        cache.forget_assumption(&key("b"));
        assert_eq!(cache.usage("n1"), NodeUsage::default());
    }

    #[test]
    fn a_relist_keeps_assumptions_about_pods_still_waiting() {
        let mut cache = ClusterCache::default();
        let requests = pod_requests(&pod("a", None, "500m")).expect("valid requests");
        cache.assume(key("waiting"), "n1", requests);
        cache.assume(key("deleted"), "n1", requests);
        cache.observe_pod(&pod("old", Some("n1"), "1"));
        cache.replace_pods([
            &pod("waiting", None, "500m"),
            &pod("new", Some("n2"), "100m"),
        ]);
        assert!(cache.is_assumed(&key("waiting")));
        assert!(!cache.is_assumed(&key("deleted")));
        assert_eq!(cache.usage("n1").requested.milli_cpu, 500);
        assert_eq!(cache.usage("n2").requested.milli_cpu, 100);
    }

    #[test]
    fn only_changes_the_scheduler_reads_count_as_node_changes() {
        let node = |heartbeat: &str, cpu: &str| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n1", "labels": {"zone": "east"}},
                "status": {
                    "allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "10"},
                    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat}],
                },
            }))
            .expect("a node")
        };
        let mut cache = ClusterCache::default();
        assert!(cache.set_node(&node("2024-01-01T00:00:00Z", "1")));
        assert!(!cache.set_node(&node("2024-01-01T00:01:00Z", "1")));
        assert!(cache.set_node(&node("2024-01-01T00:02:00Z", "2")));
        assert_eq!(cache.node_count(), 1);
        cache.remove_node("n1");
        assert_eq!(cache.node_count(), 0);
    }
}
