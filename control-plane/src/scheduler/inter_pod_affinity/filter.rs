//! InterPodAffinity's pre-filter and filter: the pods that match the incoming pod's
//! required affinity and anti-affinity terms, and the pods whose required anti-affinity
//! the incoming pod matches, are counted once per topology pair (a topology key and a
//! node's value for it); each node is then judged by the counts of its own pairs.

use std::collections::HashMap;

use super::{ClusterView, TopologyPair};
use crate::scheduler::cache::SchedulableNode;
use crate::scheduler::fit_error::{NodeStatus, Reason};
use crate::scheduler::pod_info::{AffinityTerm, AffinityTerms, PodFacts};

type Counts<'a> = HashMap<TopologyPair<'a>, i64>;

/// Adds `value` to the pair, dropping it when it comes to zero (an empty map means no pod
/// matched anywhere, which the first pod of a self-affine group relies on).
fn add<'a>(counts: &mut Counts<'a>, pair: TopologyPair<'a>, value: i64) {
    let count = counts.entry(pair).or_default();
    *count += value;
    if *count == 0 {
        counts.remove(&pair);
    }
}

/// What the pre-filter computed for one incoming pod.
#[derive(Clone, Debug)]
pub struct AffinityFilter<'a> {
    incoming: &'a PodFacts,
    terms: &'a AffinityTerms,
    view: ClusterView<'a>,
    /// Pods that match all of the incoming pod's required affinity terms.
    affinity_counts: Counts<'a>,
    /// Pods that match one of the incoming pod's required anti-affinity terms.
    anti_affinity_counts: Counts<'a>,
    /// Pods whose required anti-affinity terms the incoming pod matches.
    existing_anti_affinity_counts: Counts<'a>,
}

fn matches_all(terms: &[AffinityTerm], pod: &PodFacts, view: &ClusterView<'_>) -> bool {
    !terms.is_empty() && terms.iter().all(|term| term.matches(pod, view.namespaces))
}

impl<'a> AffinityFilter<'a> {
    /// The pre-filter; nothing when the plugin has nothing to check (kube-scheduler's
    /// Skip): the pod has no required terms and no placed pod's anti-affinity is about it.
    pub fn prepare(
        incoming: &'a PodFacts,
        view: ClusterView<'a>,
        empty: &'a AffinityTerms,
    ) -> Option<AffinityFilter<'a>> {
        let terms = incoming.affinity.as_ref().unwrap_or(empty);
        let has_own_terms =
            !terms.required_affinity.is_empty() || !terms.required_anti_affinity.is_empty();
        if !has_own_terms && view.cache.pods_with_required_anti_affinity() == 0 {
            return None;
        }
        let mut filter = AffinityFilter {
            incoming,
            terms,
            view,
            affinity_counts: Counts::new(),
            anti_affinity_counts: Counts::new(),
            existing_anti_affinity_counts: Counts::new(),
        };
        for (node, state) in view.cache.nodes() {
            for placed in state.pods.values() {
                if has_own_terms || placed.facts.has_required_anti_affinity() {
                    filter.update_with_pod(&placed.facts, node, 1);
                }
            }
        }
        if filter.existing_anti_affinity_counts.is_empty() && !has_own_terms {
            return None;
        }
        Some(filter)
    }

    /// Counts a placed pod in (1) or out (-1), as Kubernetes' `updateWithPod`.
    fn update_with_pod(&mut self, placed: &'a PodFacts, node: &'a SchedulableNode, value: i64) {
        if let Some(placed_terms) = &placed.affinity {
            for term in &placed_terms.required_anti_affinity {
                if term.matches(self.incoming, self.view.namespaces)
                    && let Some(topology) = node.labels.get(&term.topology_key)
                {
                    add(
                        &mut self.existing_anti_affinity_counts,
                        (&term.topology_key, topology),
                        value,
                    );
                }
            }
        }
        if matches_all(&self.terms.required_affinity, placed, &self.view) {
            for term in &self.terms.required_affinity {
                if let Some(topology) = node.labels.get(&term.topology_key) {
                    add(
                        &mut self.affinity_counts,
                        (&term.topology_key, topology),
                        value,
                    );
                }
            }
        }
        for term in &self.terms.required_anti_affinity {
            if term.matches(placed, self.view.namespaces)
                && let Some(topology) = node.labels.get(&term.topology_key)
            {
                add(
                    &mut self.anti_affinity_counts,
                    (&term.topology_key, topology),
                    value,
                );
            }
        }
    }

    /// The same counts without some pods of one node, as preemption would leave them.
    pub fn without(
        &self,
        node: &'a SchedulableNode,
        removed: impl IntoIterator<Item = &'a PodFacts>,
    ) -> AffinityFilter<'a> {
        let mut reduced = self.clone();
        for pod in removed {
            reduced.update_with_pod(pod, node, -1);
        }
        reduced
    }

    /// The pod's required affinity: every term's topology must be on the node, with a
    /// matching pod in it, unless no pod anywhere matches and the pod matches its own
    /// terms (the first of a group that wants to be together).
    fn satisfies_pod_affinity(&self, node: &SchedulableNode) -> bool {
        let mut pods_exist = true;
        for term in &self.terms.required_affinity {
            let Some(topology) = node.labels.get(&term.topology_key) else {
                return false;
            };
            let pair = (term.topology_key.as_str(), topology.as_str());
            if self.affinity_counts.get(&pair).copied().unwrap_or(0) <= 0 {
                pods_exist = false;
            }
        }
        pods_exist
            || (self.affinity_counts.is_empty()
                && matches_all(&self.terms.required_affinity, self.incoming, &self.view))
    }

    fn satisfies_pod_anti_affinity(&self, node: &SchedulableNode) -> bool {
        self.terms.required_anti_affinity.iter().all(|term| {
            node.labels.get(&term.topology_key).is_none_or(|topology| {
                let pair = (term.topology_key.as_str(), topology.as_str());
                self.anti_affinity_counts.get(&pair).copied().unwrap_or(0) <= 0
            })
        })
    }

    fn satisfies_existing_pods_anti_affinity(&self, node: &SchedulableNode) -> bool {
        self.existing_anti_affinity_counts.is_empty()
            || node.labels.iter().all(|(key, value)| {
                let pair = (key.as_str(), value.as_str());
                self.existing_anti_affinity_counts
                    .get(&pair)
                    .copied()
                    .unwrap_or(0)
                    <= 0
            })
    }

    /// The filter, in Kubernetes' order. A node without the pod's required affinity
    /// cannot gain it by evictions; anti-affinity can be resolved by them.
    pub fn filter(&self, node: &SchedulableNode) -> Option<NodeStatus> {
        if !self.satisfies_pod_affinity(node) {
            return Some(NodeStatus::unresolvable(Reason::PodAffinity));
        }
        if !self.satisfies_pod_anti_affinity(node) {
            return Some(NodeStatus::unschedulable(vec![Reason::PodAntiAffinity]));
        }
        if !self.satisfies_existing_pods_anti_affinity(node) {
            return Some(NodeStatus::unschedulable(vec![
                Reason::ExistingPodsAntiAffinity,
            ]));
        }
        None
    }
}
