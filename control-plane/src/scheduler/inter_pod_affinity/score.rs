//! InterPodAffinity's score: each topology pair earns the weights of the incoming pod's
//! preferred terms that placed pods there match (negative for anti-affinity), and of the
//! placed pods' terms that the incoming pod matches (their required affinity with
//! Kubernetes' default `hardPodAffinityWeight` of 1); a node scores the sum over its
//! pairs, and the scores are then spread over 0..=100 between the lowest and the highest.

use std::collections::HashMap;

use super::{ClusterView, TopologyPair};
use crate::scheduler::cache::SchedulableNode;
use crate::scheduler::pod_info::{AffinityTerm, PodFacts, WeightedTerm};

/// Kubernetes' default `hardPodAffinityWeight`.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// What the pre-score computed for one incoming pod: the weight earned per topology pair.
#[derive(Debug)]
pub struct AffinityScore<'a> {
    topology_scores: HashMap<TopologyPair<'a>, i64>,
    /// The topology keys that have scores, for a quick lookup per node.
    keys: Vec<&'a str>,
}

impl<'a> AffinityScore<'a> {
    /// The pre-score; nothing when no pod's terms concern the incoming pod (the plugin is
    /// then skipped, as kube-scheduler skips it).
    pub fn prepare(incoming: &'a PodFacts, view: ClusterView<'a>) -> Option<AffinityScore<'a>> {
        let has_constraints = incoming
            .affinity
            .as_ref()
            .is_some_and(|terms| terms.has_preferred_terms());
        if !has_constraints && view.cache.pods_with_affinity() == 0 {
            return None;
        }
        let mut score = AffinityScore {
            topology_scores: HashMap::new(),
            keys: Vec::new(),
        };
        for (node, state) in view.cache.nodes() {
            if node.labels.is_empty() {
                continue;
            }
            for placed in state.pods.values() {
                if has_constraints || placed.facts.has_affinity() {
                    score.process_placed_pod(incoming, &placed.facts, node, view);
                }
            }
        }
        if score.topology_scores.is_empty() {
            return None;
        }
        score.keys.sort_unstable();
        score.keys.dedup();
        Some(score)
    }

    fn add(&mut self, term: &'a AffinityTerm, node: &'a SchedulableNode, weight: i64) {
        if let Some(topology) = node.labels.get(&term.topology_key) {
            *self
                .topology_scores
                .entry((&term.topology_key, topology))
                .or_default() += weight;
            self.keys.push(&term.topology_key);
        }
    }

    fn process_terms(
        &mut self,
        terms: &'a [WeightedTerm],
        subject: &PodFacts,
        node: &'a SchedulableNode,
        view: ClusterView<'a>,
        sign: i64,
    ) {
        for weighted in terms {
            if weighted.term.matches(subject, view.namespaces) {
                self.add(&weighted.term, node, weighted.weight * sign);
            }
        }
    }

    fn process_placed_pod(
        &mut self,
        incoming: &'a PodFacts,
        placed: &'a PodFacts,
        node: &'a SchedulableNode,
        view: ClusterView<'a>,
    ) {
        if let Some(terms) = &incoming.affinity {
            self.process_terms(&terms.preferred_affinity, placed, node, view, 1);
            self.process_terms(&terms.preferred_anti_affinity, placed, node, view, -1);
        }
        if let Some(terms) = &placed.affinity {
            for term in &terms.required_affinity {
                if term.matches(incoming, view.namespaces) {
                    self.add(term, node, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            self.process_terms(&terms.preferred_affinity, incoming, node, view, 1);
            self.process_terms(&terms.preferred_anti_affinity, incoming, node, view, -1);
        }
    }

    /// The node's raw score: what its topology pairs earned.
    pub fn score(&self, node: &SchedulableNode) -> i64 {
        self.keys
            .iter()
            .filter_map(|key| {
                let value = node.labels.get(*key)?;
                self.topology_scores.get(&(*key, value.as_str())).copied()
            })
            .sum()
    }
}

/// InterPodAffinity's normalisation: the lowest raw score becomes 0, the highest 100.
pub fn normalize(scores: &mut [i64]) {
    let (Some(lowest), Some(highest)) =
        (scores.iter().min().copied(), scores.iter().max().copied())
    else {
        return;
    };
    let spread = highest - lowest;
    for score in scores.iter_mut() {
        *score = if spread > 0 {
            // Kubernetes computes this in floating point and truncates.
            (100.0 * ((*score - lowest) as f64 / spread as f64)) as i64
        } else {
            0
        };
    }
}
