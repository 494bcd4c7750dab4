//! What kube-scheduler's DefaultPreemption plugin reports after a pod fits nowhere (its
//! PostFilter), which ends the FailedScheduling message: `preemption: 0/3 nodes are
//! available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found
//! for incoming pod.`
//!
//! wasmkube does not preempt. The dry run is done as Kubernetes does it — a node refused
//! for a reason evictions cannot change is not helpful; one with no pod of lower priority
//! has no victims; otherwise the filters run again as if the lower-priority pods were
//! gone — but when that finds a node where evicting would make room, Kubernetes would
//! evict and report nothing more; wasmkube reports nothing more and leaves the pod to
//! wait for room instead.

use std::collections::BTreeMap;

use super::{IncomingPod, filter_node};
use crate::scheduler::cache::ClusterCache;
use crate::scheduler::fit_error::{FitError, NodeStatus, Reason};
use crate::scheduler::inter_pod_affinity::AffinityFilter;

/// `PodEligibleToPreemptOthers`' answer for a pod that may not preempt.
const NOT_ELIGIBLE: &str = "not eligible due to preemptionPolicy=Never.";

/// The PostFilter message, or nothing when preemption would have found a node.
pub fn post_filter(
    pod: &IncomingPod<'_>,
    cache: &ClusterCache,
    fit_error: &FitError,
    affinity: Option<&AffinityFilter<'_>>,
) -> Option<String> {
    if !pod.may_preempt {
        return Some(format!("preemption: {NOT_ELIGIBLE}"));
    }
    let priority = pod.facts.priority;
    let mut statuses = BTreeMap::new();
    for (node, state) in cache.nodes() {
        let helpful = fit_error
            .status_of(&node.name)
            .is_some_and(|status| status.resolvable);
        let status = if !helpful {
            NodeStatus::unresolvable(Reason::PreemptionNotHelpful)
        } else {
            let victims: Vec<_> = state
                .pods
                .values()
                .filter(|placed| placed.facts.priority < priority)
                .collect();
            if victims.is_empty() {
                NodeStatus::unresolvable(Reason::NoPreemptionVictims)
            } else {
                let mut usage = state.usage;
                for victim in &victims {
                    usage.remove(victim.requests);
                }
                let reduced = affinity.map(|affinity| {
                    affinity.without(node, victims.iter().map(|victim| &*victim.facts))
                });
                // No verdict: evicting would make room, and Kubernetes would preempt.
                filter_node(pod, node, &usage, reduced.as_ref())?
            }
        };
        statuses.insert(node.name.clone(), status);
    }
    let mut found = FitError::new(cache.node_count());
    found.statuses = statuses;
    Some(format!("preemption: {found}"))
}
