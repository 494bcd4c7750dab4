//! The scheduler's view of the cluster (Kubernetes' scheduler cache): each node's
//! scheduling facts, the pods bound to it or about to be with what they request, and the
//! namespaces' labels that affinity terms may select on. It is kept up to date event by
//! event, so that a decision reads it as it is, with nothing to rebuild.
//!
//! A pod the scheduler has chosen a node for is *assumed* there from the moment of the
//! decision until the pod watch shows it bound, so that the next decisions count it even
//! though its binding is still on its way to the API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Taint};
use kube::ResourceExt;

use super::pod_info::{NamespaceLabels, PodFacts, PodKey};
use super::resources::{Allocatable, PodRequests, Resources, node_allocatable, pod_requests};
use super::taints::scheduling_taints;

/// What the filters and the scores read of a node.
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
    pub fn add(&mut self, requests: PodRequests) {
        self.requested = self.requested.plus(requests.requested);
        self.non_zero_requested = self.non_zero_requested.plus(requests.non_zero);
        self.pods += 1;
    }

    pub fn remove(&mut self, requests: PodRequests) {
        self.requested = self.requested.minus(requests.requested);
        self.non_zero_requested = self.non_zero_requested.minus(requests.non_zero);
        self.pods -= 1;
    }
}

/// A pod counted on a node.
#[derive(Clone, Debug)]
pub struct PlacedPod {
    pub facts: Arc<PodFacts>,
    pub requests: PodRequests,
}

/// A node as the scheduler knows it. Its facts are missing while pods are bound to a
/// node the node watch has not shown (or no longer shows): they still count there.
#[derive(Debug, Default)]
pub struct NodeState {
    pub facts: Option<SchedulableNode>,
    pub usage: NodeUsage,
    pub pods: HashMap<PodKey, PlacedPod>,
}

impl NodeState {
    fn is_unused(&self) -> bool {
        self.facts.is_none() && self.pods.is_empty()
    }
}

#[derive(Clone, Debug)]
struct Placement {
    node: String,
    assumed: bool,
}

#[derive(Debug, Default)]
pub struct ClusterCache {
    /// Sorted by name, which is also the order ties between equal scores are broken in.
    nodes: BTreeMap<String, NodeState>,
    /// How many entries of `nodes` have facts.
    node_count: usize,
    placements: HashMap<PodKey, Placement>,
    namespaces: NamespaceLabels,
    /// Placed pods with any pod (anti-)affinity, and with required anti-affinity: when
    /// there are none, the affinity plugins have nothing to look at.
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
}

fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|node| !node.is_empty())
}

impl ClusterCache {
    /// Records a node's current state; answers whether anything the filters or the scores
    /// read has changed, which is when waiting pods deserve another try.
    pub fn set_node(&mut self, node: &Node) -> bool {
        let facts = SchedulableNode::of(node);
        let state = self.nodes.entry(facts.name.clone()).or_default();
        if state.facts.as_ref() == Some(&facts) {
            return false;
        }
        if state.facts.is_none() {
            self.node_count += 1;
        }
        state.facts = Some(facts);
        true
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Some(state) = self.nodes.get_mut(name)
            && state.facts.take().is_some()
        {
            self.node_count -= 1;
            if state.is_unused() {
                self.nodes.remove(name);
            }
        }
    }

    /// Starts over from a complete list of nodes.
    pub fn replace_nodes<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Node>) {
        for state in self.nodes.values_mut() {
            state.facts = None;
        }
        self.node_count = 0;
        for node in nodes {
            self.set_node(node);
        }
        self.nodes.retain(|_, state| !state.is_unused());
    }

    /// The nodes that exist, by name, with what is placed on them.
    pub fn nodes(&self) -> impl Iterator<Item = (&SchedulableNode, &NodeState)> + Clone {
        self.nodes
            .values()
            .filter_map(|state| state.facts.as_ref().map(|facts| (facts, state)))
    }

    pub fn node_count(&self) -> usize {
        self.node_count
    }

    #[cfg(test)]
    pub fn usage(&self, node: &str) -> NodeUsage {
        self.nodes
            .get(node)
            .map(|state| state.usage)
            .unwrap_or_default()
    }

    pub fn namespaces(&self) -> &NamespaceLabels {
        &self.namespaces
    }

    pub fn pods_with_affinity(&self) -> usize {
        self.pods_with_affinity
    }

    pub fn pods_with_required_anti_affinity(&self) -> usize {
        self.pods_with_required_anti_affinity
    }

    fn count_affinity(&mut self, facts: &PodFacts, sign: isize) {
        if facts.has_affinity() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_add_signed(sign);
        }
        if facts.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity = self
                .pods_with_required_anti_affinity
                .saturating_add_signed(sign);
        }
    }

    fn place(&mut self, key: PodKey, node: &str, assumed: bool, pod: PlacedPod) {
        self.unplace(&key);
        self.count_affinity(&pod.facts, 1);
        let state = self.nodes.entry(node.to_owned()).or_default();
        state.usage.add(pod.requests);
        state.pods.insert(key.clone(), pod);
        self.placements.insert(
            key,
            Placement {
                node: node.to_owned(),
                assumed,
            },
        );
    }

    fn unplace(&mut self, key: &PodKey) -> Option<PlacedPod> {
        let previous = self.placements.remove(key)?;
        let state = self.nodes.get_mut(&previous.node)?;
        let placed = state.pods.remove(key)?;
        state.usage.remove(placed.requests);
        if state.is_unused() {
            self.nodes.remove(&previous.node);
        }
        self.count_affinity(&placed.facts, -1);
        Some(placed)
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
                let placed = PlacedPod {
                    facts: Arc::new(PodFacts::of_placed(pod)),
                    requests,
                };
                self.place(key, node, false, placed);
            }
            None if !self.is_assumed(&key) => {
                self.unplace(&key);
            }
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
        let assumed: Vec<PodKey> = self
            .placements
            .iter()
            .filter(|(_, placement)| placement.assumed)
            .map(|(key, _)| key.clone())
            .collect();
        let mut assumptions: HashMap<PodKey, (String, PlacedPod)> = HashMap::new();
        for key in assumed {
            if let Some(node) = self
                .placements
                .get(&key)
                .map(|placement| placement.node.clone())
                && let Some(placed) = self.unplace(&key)
            {
                assumptions.insert(key, (node, placed));
            }
        }
        let keys: Vec<PodKey> = self.placements.keys().cloned().collect();
        for key in keys {
            self.unplace(&key);
        }
        for pod in pods {
            let key = PodKey::of(pod);
            match (bound_node(pod), assumptions.remove(&key)) {
                (None, Some((node, placed))) => self.place(key, &node, true, placed),
                _ => self.observe_pod(pod),
            }
        }
    }

    /// Counts the pod on the node the scheduler chose, until the watch shows it bound or
    /// the binding fails.
    pub fn assume(&mut self, key: PodKey, node: &str, requests: PodRequests, facts: Arc<PodFacts>) {
        self.place(key, node, true, PlacedPod { facts, requests });
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

    /// Records a namespace's labels; answers whether they changed.
    pub fn set_namespace(&mut self, namespace: &Namespace) -> bool {
        let labels = namespace.labels().clone();
        let previous = self.namespaces.insert(namespace.name_any(), labels.clone());
        previous.as_ref() != Some(&labels)
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    pub fn replace_namespaces<'a>(&mut self, namespaces: impl IntoIterator<Item = &'a Namespace>) {
        self.namespaces = namespaces
            .into_iter()
            .map(|namespace| (namespace.name_any(), namespace.labels().clone()))
            .collect();
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

    fn assume(cache: &mut ClusterCache, name: &str, node: &str, cpu: &str) {
        let pending = pod(name, None, cpu);
        let requests = pod_requests(&pending).expect("valid requests");
        cache.assume(
            key(name),
            node,
            requests,
            Arc::new(PodFacts::of_placed(&pending)),
        );
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
        assert!(
            cache.nodes.is_empty(),
            "an unknown node with no pods is dropped"
        );
    }

    #[test]
    fn a_pod_bound_by_name_counts_on_its_node_without_the_scheduler() {
        // spec.nodeName set at creation: the scheduler never binds it, but counts it.
        let mut cache = ClusterCache::default();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"}},
        }))
        .expect("a node");
        cache.observe_pod(&pod("pinned", Some("n1"), "250m"));
        cache.set_node(&node);
        let (_, state) = cache.nodes().next().expect("the node");
        assert_eq!(state.usage.requested.milli_cpu, 250);
        assert!(state.pods.contains_key(&key("pinned")));
    }

    #[test]
    fn an_assumed_pod_counts_until_the_watch_shows_where_it_went() {
        let mut cache = ClusterCache::default();
        assume(&mut cache, "a", "n1", "500m");
        assert!(cache.is_assumed(&key("a")));
        // An older, unbound copy of the pod from the watch does not undo the assumption.
        cache.observe_pod(&pod("a", None, "500m"));
        assert_eq!(cache.usage("n1").requested.milli_cpu, 500);
        // Someone else bound it elsewhere: it counts where it really is.
        cache.observe_pod(&pod("a", Some("n2"), "500m"));
        assert!(!cache.is_assumed(&key("a")));
        assert_eq!(cache.usage("n1"), NodeUsage::default());
        assert_eq!(cache.usage("n2").requested.milli_cpu, 500);

        assume(&mut cache, "b", "n1", "500m");
        cache.forget_assumption(&key("b"));
        assert_eq!(cache.usage("n1"), NodeUsage::default());
    }

    #[test]
    fn a_relist_keeps_assumptions_about_pods_still_waiting() {
        let mut cache = ClusterCache::default();
        assume(&mut cache, "waiting", "n1", "500m");
        assume(&mut cache, "deleted", "n1", "500m");
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
    fn affinity_counters_follow_placements() {
        let mut cache = ClusterCache::default();
        let mut spread = pod("spread", Some("n1"), "100m");
        spread.spec.as_mut().expect("a spec").affinity = Some(
            serde_json::from_value(json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {}, "topologyKey": "kubernetes.io/hostname"},
                ],
            }}))
            .expect("an affinity"),
        );
        cache.observe_pod(&spread);
        cache.observe_pod(&pod("plain", Some("n1"), "100m"));
        assert_eq!(cache.pods_with_affinity(), 1);
        assert_eq!(cache.pods_with_required_anti_affinity(), 1);
        cache.observe_pod(&spread);
        assert_eq!(
            cache.pods_with_required_anti_affinity(),
            1,
            "an update is no new pod"
        );
        cache.forget_pod(&key("spread"));
        assert_eq!(cache.pods_with_affinity(), 0);
        assert_eq!(cache.pods_with_required_anti_affinity(), 0);
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
        cache.replace_nodes([&node("2024-01-01T00:03:00Z", "1")]);
        assert_eq!(cache.node_count(), 1);
        cache.replace_nodes([]);
        assert_eq!(cache.node_count(), 0);
    }
}
