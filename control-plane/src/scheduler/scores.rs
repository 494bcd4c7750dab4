//! The node scores of kube-scheduler's default profile that wasmkube computes, each on
//! 0..=100 before its plugin's weight: NodeResourcesFit's LeastAllocated (weight 1),
//! NodeResourcesBalancedAllocation (1), NodeAffinity's preferred terms (2) and
//! TaintToleration's PreferNoSchedule count (3); InterPodAffinity's (2) is in
//! `inter_pod_affinity`. PodTopologySpread's system default spreading and ImageLocality
//! are not computed.

use super::cache::{NodeUsage, SchedulableNode};
use super::resources::PodRequests;

/// Kubernetes' `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;

/// The default profile's plugin weights.
pub const TAINT_TOLERATION_WEIGHT: i64 = 3;
pub const NODE_AFFINITY_WEIGHT: i64 = 2;
pub const NODE_RESOURCES_FIT_WEIGHT: i64 = 1;
pub const INTER_POD_AFFINITY_WEIGHT: i64 = 2;
pub const BALANCED_ALLOCATION_WEIGHT: i64 = 1;

/// `leastRequestedScore`: the share of the resource left free once the pod is on the node.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// The NodeResourcesFit plugin's LeastAllocated strategy: cpu and memory weighed equally,
/// each counted with the defaults for containers that request nothing (so such pods
/// spread too); a resource the node does not offer is left out.
pub fn least_allocated(requests: &PodRequests, node: &SchedulableNode, usage: &NodeUsage) -> i64 {
    let requested = usage.non_zero_requested.plus(requests.non_zero);
    let capacity = node.allocatable.resources;
    let mut total = 0;
    let mut resources = 0;
    for (requested, capacity) in [
        (requested.milli_cpu, capacity.milli_cpu),
        (requested.memory, capacity.memory),
    ] {
        if capacity != 0 {
            total += least_requested_score(requested, capacity);
            resources += 1;
        }
    }
    if resources == 0 { 0 } else { total / resources }
}

/// Whether the pod requests nothing at all: NodeResourcesBalancedAllocation skips such
/// pods (since Kubernetes 1.32), or they would all pile onto the emptiest-looking node.
pub fn requests_nothing(requests: &PodRequests) -> bool {
    requests.requested.milli_cpu == 0 && requests.requested.memory == 0
}

/// NodeResourcesBalancedAllocation: favours nodes whose cpu and memory would be used in
/// the same proportion once the pod is there — 100 × (1 − the standard deviation of the
/// two fractions, which for two is half their difference). It counts the requests as
/// written, without defaults.
pub fn balanced_allocation(
    requests: &PodRequests,
    node: &SchedulableNode,
    usage: &NodeUsage,
) -> i64 {
    let requested = usage.requested.plus(requests.requested);
    let capacity = node.allocatable.resources;
    let fraction = |requested: i64, capacity: i64| {
        (capacity != 0).then(|| (requested as f64 / capacity as f64).min(1.0))
    };
    let deviation = match (
        fraction(requested.milli_cpu, capacity.milli_cpu),
        fraction(requested.memory, capacity.memory),
    ) {
        (Some(cpu), Some(memory)) => ((cpu - memory) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
}

/// Kubernetes' `DefaultNormalizeScore`: scales so the highest becomes 100 (and, reversed,
/// so the highest becomes 0 and a zero 100).
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let highest = scores.iter().copied().max().unwrap_or(0).max(0);
    for score in scores.iter_mut() {
        if highest == 0 {
            if reverse {
                *score = MAX_NODE_SCORE;
            }
            continue;
        }
        let scaled = MAX_NODE_SCORE * *score / highest;
        *score = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::resources::{Allocatable, Resources};

    const GIB: i64 = 1024 * 1024 * 1024;

    fn node(milli_cpu: i64, memory: i64) -> SchedulableNode {
        SchedulableNode {
            name: "n".to_owned(),
            labels: Default::default(),
            taints: Vec::new(),
            unschedulable: false,
            allocatable: Allocatable {
                resources: Resources { milli_cpu, memory },
                pods: 110,
            },
        }
    }

    fn requests(milli_cpu: i64, memory: i64) -> PodRequests {
        let resources = Resources { milli_cpu, memory };
        PodRequests {
            requested: resources,
            non_zero: resources,
        }
    }

    fn usage(milli_cpu: i64, memory: i64) -> NodeUsage {
        let mut usage = NodeUsage::default();
        usage.add(requests(milli_cpu, memory));
        usage
    }

    #[test]
    fn least_allocated_averages_the_free_shares() {
        // cpu: (4000 - 3000) * 100 / 4000 = 25; memory: (8 - 2) * 100 / 8 = 75.
        let score = least_allocated(
            &requests(1000, GIB),
            &node(4000, 8 * GIB),
            &usage(2000, GIB),
        );
        assert_eq!(score, 50);
        assert_eq!(
            least_allocated(&requests(1000, GIB), &node(4000, 0), &NodeUsage::default()),
            75,
            "a resource the node does not list is left out, not counted as full"
        );
        assert_eq!(
            least_allocated(
                &requests(5000, GIB),
                &node(4000, 8 * GIB),
                &NodeUsage::default()
            ),
            43,
            "an overcommitted resource scores 0"
        );
    }

    #[test]
    fn balanced_allocation_prefers_even_use_of_cpu_and_memory() {
        // Fractions 0.5 and 0.5: perfectly balanced.
        let even = balanced_allocation(
            &requests(1000, 2 * GIB),
            &node(4000, 8 * GIB),
            &usage(1000, 2 * GIB),
        );
        assert_eq!(even, 100);
        // Fractions 0.75 and 0.25: deviation 0.25.
        let uneven = balanced_allocation(
            &requests(2000, GIB),
            &node(4000, 8 * GIB),
            &usage(1000, GIB),
        );
        assert_eq!(uneven, 75);
        // Fractions capped at 1: 1 and 0.125, deviation 0.4375 → 56.
        let over = balanced_allocation(
            &requests(8000, GIB),
            &node(4000, 8 * GIB),
            &NodeUsage::default(),
        );
        assert_eq!(over, 56);
        assert!(requests_nothing(&PodRequests::default()));
        assert!(!requests_nothing(&requests(1, 0)));
    }

    #[test]
    fn default_normalisation_scales_to_the_highest() {
        let mut scores = [0, 20, 80];
        normalize(&mut scores, false);
        assert_eq!(scores, [0, 25, 100]);
        let mut taints = [0, 1, 2];
        normalize(&mut taints, true);
        assert_eq!(taints, [100, 50, 0]);
        let mut none = [0, 0];
        normalize(&mut none, true);
        assert_eq!(none, [100, 100]);
        let mut nothing = [0, 0];
        normalize(&mut nothing, false);
        assert_eq!(nothing, [0, 0]);
    }
}
