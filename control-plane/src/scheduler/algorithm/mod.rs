//! One scheduling decision, as kube-scheduler's `schedulePod` makes it: the pre-filters
//! (NodeAffinity's node names, InterPodAffinity's counts), the filters in the default
//! profile's order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit,
//! InterPodAffinity) over the nodes from a rotating start until enough feasible ones are
//! found, then the weighted scores; when no node fits, the reasons node by node and what
//! preemption would find (`preemption`).

mod preemption;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use super::cache::{ClusterCache, NodeState, NodeUsage, SchedulableNode};
use super::fit_error::{FitError, NodeStatus, Reason, ScheduleError};
use super::inter_pod_affinity::{self, AffinityFilter, AffinityScore, ClusterView};
use super::node_affinity::{
    NamedNodes, has_preferred_terms, node_matches, preferred_score, required_node_names,
};
use super::pod_info::{AffinityTerms, PodFacts};
use super::resources::{PodRequests, ResourceError, pod_requests};
use super::scores;
use super::selector::SelectorError;
use super::taints::{
    first_untolerated, intolerable_preferences, tolerated_by, unschedulable_taint,
};

/// kube-scheduler's `minFeasibleNodesToFind` and `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// NodeAffinity's pre-filter message when the pod's terms name no node in common.
const AFFINITY_TERMS_CONFLICT: &str = "pod affinity terms conflict";

/// The pod being scheduled, with what the plugins read of it worked out once.
#[derive(Debug)]
pub struct IncomingPod<'a> {
    pub spec: &'a PodSpec,
    pub requests: PodRequests,
    pub facts: Arc<PodFacts>,
    /// Affinity terms that cannot be compiled turn the pod away at InterPodAffinity's
    /// pre-filter, as kube-scheduler's "parsing pod" does.
    affinity_error: Option<SelectorError>,
    /// False with `preemptionPolicy: Never`.
    may_preempt: bool,
}

impl<'a> IncomingPod<'a> {
    /// None when the pod has no spec (nothing to schedule).
    pub fn of(pod: &'a Pod) -> Option<Result<IncomingPod<'a>, ResourceError>> {
        let spec = pod.spec.as_ref()?;
        let requests = match pod_requests(pod) {
            Ok(requests) => requests,
            Err(error) => return Some(Err(error)),
        };
        let (affinity, affinity_error) = match AffinityTerms::of(pod) {
            Ok(affinity) => (affinity, None),
            Err(error) => (None, Some(error)),
        };
        Some(Ok(IncomingPod {
            spec,
            requests,
            facts: Arc::new(PodFacts::with_affinity(pod, affinity)),
            affinity_error,
            may_preempt: spec.preemption_policy.as_deref() != Some("Never"),
        }))
    }
}

/// Where the pod goes, and how many nodes were looked at (the next decision starts that
/// much further along the list).
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<String, ScheduleError>,
    pub processed_nodes: usize,
}

/// `numFeasibleNodesToFind` with the default adaptive percentage: every node in small
/// clusters, then a share that shrinks with the cluster's size, but at least 100.
fn feasible_nodes_to_find(nodes: usize) -> usize {
    if nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return nodes;
    }
    let percentage = 50_usize
        .saturating_sub(nodes / 125)
        .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    (nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// NodeResourcesFit: room for one more pod, and for the pod's cpu and memory requests
/// (a request of none always fits). Kubernetes 1.33 calls every shortage resolvable by
/// preemption, even a request larger than the whole node.
fn resource_failures(
    requests: &PodRequests,
    node: &SchedulableNode,
    usage: &NodeUsage,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if usage.pods + 1 > node.allocatable.pods {
        reasons.push(Reason::TooManyPods);
    }
    let free = node.allocatable.resources.minus(usage.requested);
    if requests.requested.milli_cpu > 0 && requests.requested.milli_cpu > free.milli_cpu {
        reasons.push(Reason::InsufficientCpu);
    }
    if requests.requested.memory > 0 && requests.requested.memory > free.memory {
        reasons.push(Reason::InsufficientMemory);
    }
    reasons
}

/// The filters in order; the first plugin that refuses the node decides.
pub fn filter_node(
    pod: &IncomingPod<'_>,
    node: &SchedulableNode,
    usage: &NodeUsage,
    affinity: Option<&AffinityFilter<'_>>,
) -> Option<NodeStatus> {
    let tolerations = pod.spec.tolerations.as_deref().unwrap_or_default();
    if node.unschedulable && !tolerated_by(tolerations, &unschedulable_taint()) {
        return Some(NodeStatus::unresolvable(Reason::Unschedulable));
    }
    if let Some(taint) = first_untolerated(&node.taints, tolerations) {
        tracing::debug!(node = %node.name, key = %taint.key, value = ?taint.value, effect = %taint.effect, "untolerated taint");
        return Some(NodeStatus::unresolvable(Reason::UntoleratedTaint));
    }
    if !node_matches(pod.spec, &node.name, &node.labels) {
        return Some(NodeStatus::unresolvable(Reason::NodeAffinity));
    }
    let shortages = resource_failures(&pod.requests, node, usage);
    if !shortages.is_empty() {
        return Some(NodeStatus::unschedulable(shortages));
    }
    affinity.and_then(|affinity| affinity.filter(node))
}

type Candidate<'a> = (&'a SchedulableNode, &'a NodeState);

/// Picks among nodes with the same best score as kube-scheduler's `selectHost` does, by
/// reservoir sampling: each of the equals has the same chance. Always taking the first
/// would pile pods onto one node for as long as the integer scores cannot tell a few
/// pods more from a few pods less (a 32-cpu node scores the same with 0 or 30 pods of
/// 10m). SplitMix64; not for anything that needs to be unpredictable.
#[derive(Debug)]
pub struct TieBreaker {
    state: u64,
}

impl TieBreaker {
    pub fn seeded(seed: u64) -> TieBreaker {
        TieBreaker { state: seed }
    }

    /// Seeded from the clock, so that schedulers started together differ.
    pub fn from_clock() -> TieBreaker {
        let nanoseconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        TieBreaker::seeded(nanoseconds as u64)
    }

    /// A number in `0..bound` (`bound` at least 1).
    fn below(&mut self, bound: usize) -> usize {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^= mixed >> 31;
        (mixed % bound.max(1) as u64) as usize
    }
}

/// Adds each node's weighted score to its total.
fn add_weighted(totals: &mut [i64], scores: &[i64], weight: i64) {
    for (total, score) in totals.iter_mut().zip(scores) {
        *total += weight * score;
    }
}

/// The index of the best feasible node: the highest weighted total, one of the equals at
/// random.
fn best_node(
    pod: &IncomingPod<'_>,
    feasible: &[Candidate<'_>],
    view: ClusterView<'_>,
    ties: &mut TieBreaker,
) -> usize {
    let mut totals = vec![0_i64; feasible.len()];
    let per_node = |score: &dyn Fn(&SchedulableNode, &NodeState) -> i64| -> Vec<i64> {
        feasible
            .iter()
            .map(|(node, state)| score(node, state))
            .collect()
    };
    let least_allocated =
        per_node(&|node, state| scores::least_allocated(&pod.requests, node, &state.usage));
    add_weighted(
        &mut totals,
        &least_allocated,
        scores::NODE_RESOURCES_FIT_WEIGHT,
    );
    if !scores::requests_nothing(&pod.requests) {
        let balanced =
            per_node(&|node, state| scores::balanced_allocation(&pod.requests, node, &state.usage));
        add_weighted(&mut totals, &balanced, scores::BALANCED_ALLOCATION_WEIGHT);
    }
    // Without any taint on the feasible nodes every node scores the same 100 here.
    if feasible.iter().any(|(node, _)| !node.taints.is_empty()) {
        let tolerations = pod.spec.tolerations.as_deref().unwrap_or_default();
        let mut taints = per_node(&|node, _| intolerable_preferences(&node.taints, tolerations));
        scores::normalize(&mut taints, true);
        add_weighted(&mut totals, &taints, scores::TAINT_TOLERATION_WEIGHT);
    }
    if has_preferred_terms(pod.spec) {
        let mut preferred =
            per_node(&|node, _| preferred_score(pod.spec, &node.name, &node.labels));
        scores::normalize(&mut preferred, false);
        add_weighted(&mut totals, &preferred, scores::NODE_AFFINITY_WEIGHT);
    }
    if let Some(affinity) = AffinityScore::prepare(&pod.facts, view) {
        let mut raw = per_node(&|node, _| affinity.score(node));
        inter_pod_affinity::normalize(&mut raw);
        add_weighted(&mut totals, &raw, scores::INTER_POD_AFFINITY_WEIGHT);
    }
    let mut best = 0;
    let mut equals = 1;
    for (index, total) in totals.iter().enumerate().skip(1) {
        if *total > totals[best] {
            best = index;
            equals = 1;
        } else if *total == totals[best] {
            equals += 1;
            if ties.below(equals) == 0 {
                best = index;
            }
        }
    }
    best
}

/// A pod turned away before any node was filtered: the verdict stands for every node.
fn rejected_before_filtering(cache: &ClusterCache, message: String, reason: Reason) -> FitError {
    let mut fit_error = FitError::new(cache.node_count());
    fit_error.pre_filter_message = Some(message);
    fit_error.absent = Some(NodeStatus::unresolvable(reason));
    fit_error
}

/// Decides where the pod goes; the search through the nodes starts at `start`.
pub fn schedule(
    pod: &IncomingPod<'_>,
    cache: &ClusterCache,
    start: usize,
    ties: &mut TieBreaker,
) -> Outcome {
    let unfit = |mut fit_error: FitError, affinity: Option<&AffinityFilter<'_>>, processed| {
        fit_error.post_filter_message = preemption::post_filter(pod, cache, &fit_error, affinity);
        Outcome {
            result: Err(ScheduleError::Unfit(fit_error)),
            processed_nodes: processed,
        }
    };
    if cache.node_count() == 0 {
        return Outcome {
            result: Err(ScheduleError::NoNodes),
            processed_nodes: 0,
        };
    }
    let named = required_node_names(pod.spec);
    if named == NamedNodes::Conflict {
        let rejected = rejected_before_filtering(
            cache,
            AFFINITY_TERMS_CONFLICT.to_owned(),
            Reason::NodeAffinity,
        );
        return unfit(rejected, None, 0);
    }
    if let Some(error) = &pod.affinity_error {
        let rejected =
            rejected_before_filtering(cache, format!("parsing pod: {error}"), Reason::PodAffinity);
        return unfit(rejected, None, 0);
    }
    let view = ClusterView::of(cache);
    let no_terms = AffinityTerms::default();
    let affinity = AffinityFilter::prepare(&pod.facts, view, &no_terms);
    let mut fit_error = FitError::new(cache.node_count());
    let candidates: Vec<Candidate<'_>> = match &named {
        NamedNodes::Only(names) => {
            fit_error.absent = Some(NodeStatus::unresolvable(Reason::NodeAffinityPreFilter));
            cache
                .nodes()
                .filter(|(node, _)| names.contains(&node.name))
                .collect()
        }
        NamedNodes::Any | NamedNodes::Conflict => cache.nodes().collect(),
    };
    let wanted = feasible_nodes_to_find(candidates.len());
    let mut feasible: Vec<Candidate<'_>> = Vec::new();
    let mut processed = 0;
    for offset in 0..candidates.len() {
        if feasible.len() >= wanted {
            break;
        }
        let (node, state) = candidates[(start + offset) % candidates.len()];
        processed += 1;
        match filter_node(pod, node, &state.usage, affinity.as_ref()) {
            Some(status) => {
                fit_error.statuses.insert(node.name.clone(), status);
            }
            None => feasible.push((node, state)),
        }
    }
    let chosen = match feasible.len() {
        0 => return unfit(fit_error, affinity.as_ref(), processed),
        1 => 0,
        _ => best_node(pod, &feasible, view, ties),
    };
    Outcome {
        result: Ok(feasible[chosen].0.name.clone()),
        processed_nodes: processed,
    }
}
