//! The DaemonSet controller's decisions, apart from the API calls that carry them out:
//! which nodes need a pod and which pods must go (`manage`), which old pods a rolling
//! update replaces next (`rollingUpdate` without surge), and the status
//! (`updateDaemonSetStatus`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::daemon_pods::{is_pod_updated, oldest_bound_first};
use super::eligibility::NodeVerdict;
use super::failed_pods_backoff::FailedPodsBackoff;
use crate::events::EventType;
use crate::pods::{is_pod_available, is_pod_ready, pod_phase};

/// The DaemonSet's pods grouped by the node each is bound to or meant for.
pub type NodePods = BTreeMap<String, Vec<Pod>>;

/// An event to publish about the DaemonSet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub event_type: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// A pod to delete. A pod bound to a node that no longer exists is deleted at once: no
/// kubelet is left to confirm a graceful deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodDeletion {
    pub name: String,
    pub immediately: bool,
}

impl PodDeletion {
    fn graceful(pod: &Pod) -> PodDeletion {
        PodDeletion {
            name: pod.name_any(),
            immediately: false,
        }
    }
}

#[derive(Debug, Default)]
pub struct ManagePlan {
    pub nodes_needing_pods: Vec<String>,
    pub pods_to_delete: Vec<PodDeletion>,
    pub notices: Vec<Notice>,
    /// When a failed pod waits out its back-off, when to look again.
    pub retry_after: Option<Duration>,
}

fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// `manage` and `podsShouldBeOnNode`: per node, a pod where one should run and none is,
/// failed and succeeded pods deleted (failed ones at most as often as the back-off lets),
/// all but the oldest of several running pods deleted, and every pod deleted where none
/// may continue running. Pods meant for nodes that no longer exist are deleted too.
pub fn plan_manage(
    daemon_set: &DaemonSet,
    verdicts: &[(String, NodeVerdict)],
    node_pods: &NodePods,
    backoff: &mut FailedPodsBackoff,
    now: Instant,
) -> ManagePlan {
    let mut plan = ManagePlan::default();
    let observed_generation = daemon_set
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        .unwrap_or_default();
    let uid = daemon_set.uid().unwrap_or_default();
    for (node_name, verdict) in verdicts {
        let pods = node_pods.get(node_name);
        match pods {
            None if verdict.should_run => plan.nodes_needing_pods.push(node_name.clone()),
            Some(pods) if verdict.should_continue_running => {
                let backoff_key = format!("{uid}/{observed_generation}/{node_name}");
                let mut running: Vec<&Pod> = Vec::new();
                for pod in pods.iter().filter(|pod| !is_deleting(pod)) {
                    match pod_phase(pod) {
                        Some("Failed") => {
                            if let Some(remaining) = backoff.remaining(&backoff_key, now) {
                                plan.retry_after = Some(
                                    plan.retry_after
                                        .map_or(remaining, |other| other.min(remaining)),
                                );
                                continue;
                            }
                            backoff.next(&backoff_key, now);
                            plan.notices.push(Notice {
                                event_type: EventType::Warning,
                                reason: "FailedDaemonPod",
                                message: format!(
                                    "Found failed daemon pod {}/{} on node {node_name}, will try to kill it",
                                    pod.namespace().unwrap_or_default(),
                                    pod.name_any()
                                ),
                            });
                            plan.pods_to_delete.push(PodDeletion::graceful(pod));
                        }
                        Some("Succeeded") => {
                            plan.notices.push(Notice {
                                event_type: EventType::Normal,
                                reason: "SucceededDaemonPod",
                                message: format!(
                                    "Found succeeded daemon pod {}/{} on node {node_name}, will try to delete it",
                                    pod.namespace().unwrap_or_default(),
                                    pod.name_any()
                                ),
                            });
                            plan.pods_to_delete.push(PodDeletion::graceful(pod));
                        }
                        _ => running.push(pod),
                    }
                }
                running.sort_by(|left, right| oldest_bound_first(left, right));
                plan.pods_to_delete
                    .extend(running.iter().skip(1).map(|pod| PodDeletion::graceful(pod)));
            }
            Some(pods) if !verdict.should_continue_running => {
                plan.pods_to_delete.extend(
                    pods.iter()
                        .filter(|pod| !is_deleting(pod))
                        .map(PodDeletion::graceful),
                );
            }
            _ => {}
        }
    }
    let existing: BTreeSet<&str> = verdicts.iter().map(|(name, _)| name.as_str()).collect();
    for (node_name, pods) in node_pods {
        if existing.contains(node_name.as_str()) {
            continue;
        }
        // Kubernetes deletes the pods still waiting for a missing node here and leaves
        // bound ones to the pod garbage collector; wasmkube has none, so the DaemonSet
        // controller removes both.
        for pod in pods.iter().filter(|pod| !is_deleting(pod)) {
            let bound = pod
                .spec
                .as_ref()
                .and_then(|spec| spec.node_name.as_deref())
                .is_some_and(|name| !name.is_empty());
            plan.pods_to_delete.push(PodDeletion {
                name: pod.name_any(),
                immediately: bound,
            });
        }
    }
    plan
}

/// `GetScaledValueFromIntOrPercent` rounding up: a number, or a percentage of `total`.
pub fn scaled_value(value: &IntOrString, total: usize) -> Result<usize, String> {
    match value {
        IntOrString::Int(number) => usize::try_from(*number)
            .map_err(|_| format!("invalid value for IntOrString: {number} is negative")),
        IntOrString::String(text) => {
            let percent = text
                .strip_suffix('%')
                .and_then(|number| number.parse::<usize>().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {text:?}"))?;
            Ok((percent * total).div_ceil(100))
        }
    }
}

/// The allowed number of unavailable pods during a rolling update: `maxUnavailable` of the
/// desired pods, at least one when the DaemonSet wants any (as Kubernetes does when
/// neither surge nor unavailability is allowed). Surge is not implemented, so
/// `maxSurge` is not read.
fn max_unavailable(daemon_set: &DaemonSet, desired: usize) -> Result<usize, String> {
    let configured = daemon_set
        .spec
        .as_ref()
        .and_then(|spec| spec.update_strategy.as_ref())
        .and_then(|strategy| strategy.rolling_update.as_ref())
        .and_then(|rolling_update| rolling_update.max_unavailable.as_ref())
        .map_or(Ok(1), |value| scaled_value(value, desired))?;
    Ok(if desired > 0 {
        configured.max(1)
    } else {
        configured
    })
}

/// `rollingUpdate` with no surge: old pods that are not available are replaced at once;
/// available old pods are replaced while fewer than `maxUnavailable` pods are unavailable,
/// counting every node that should run a pod but has none, or has an unavailable new one.
pub fn plan_rolling_update(
    daemon_set: &DaemonSet,
    verdicts: &[(String, NodeVerdict)],
    node_pods: &NodePods,
    hash: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Result<Vec<PodDeletion>, String> {
    let min_ready_seconds = min_ready_seconds(daemon_set);
    let mut nodes: BTreeMap<&str, Vec<&Pod>> = node_pods
        .iter()
        .map(|(name, pods)| (name.as_str(), pods.iter().collect()))
        .collect();
    let mut desired = 0;
    for (node_name, _) in verdicts.iter().filter(|(_, verdict)| verdict.should_run) {
        desired += 1;
        nodes.entry(node_name.as_str()).or_default();
    }
    let max_unavailable = max_unavailable(daemon_set, desired)?;
    let mut unavailable = 0;
    let mut replacements = Vec::new();
    let mut candidates = Vec::new();
    for pods in nodes.values() {
        let Some((new_pod, old_pod)) = updated_and_old_pod(pods, hash, generation) else {
            // More than one pod of a kind: the manage step cleans this node up.
            unavailable += 1;
            continue;
        };
        match (new_pod, old_pod) {
            (None, None) | (Some(_), Some(_)) => unavailable += 1,
            (Some(new_pod), None) => {
                if !is_pod_available(new_pod, min_ready_seconds, now) {
                    unavailable += 1;
                }
            }
            (None, Some(old_pod)) => {
                if !is_pod_available(old_pod, min_ready_seconds, now) {
                    replacements.push(PodDeletion::graceful(old_pod));
                } else if unavailable < max_unavailable {
                    candidates.push(PodDeletion::graceful(old_pod));
                }
            }
        }
    }
    let room = max_unavailable
        .saturating_sub(unavailable)
        .min(candidates.len());
    replacements.extend(candidates.into_iter().take(room));
    Ok(replacements)
}

/// `findUpdatedPodsOnNode`: the node's one current and one old pod (either may be absent),
/// or nothing when it has two of a kind. Pods being deleted do not count.
fn updated_and_old_pod<'a>(
    pods: &[&'a Pod],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let mut new_pod = None;
    let mut old_pod = None;
    for pod in pods.iter().filter(|pod| !is_deleting(pod)) {
        let slot = if is_pod_updated(pod, hash, generation) {
            &mut new_pod
        } else {
            &mut old_pod
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(*pod);
    }
    Some((new_pod, old_pod))
}

pub fn min_ready_seconds(daemon_set: &DaemonSet) -> i32 {
    daemon_set
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
        .unwrap_or_default()
}

/// `updateDaemonSetStatus`: per node that should run a pod, whether it has one, and
/// whether the oldest is ready, available and of the current revision; per node that
/// should not, whether it has one anyway.
pub fn compute_status(
    daemon_set: &DaemonSet,
    verdicts: &[(String, NodeVerdict)],
    node_pods: &NodePods,
    hash: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> DaemonSetStatus {
    let min_ready_seconds = min_ready_seconds(daemon_set);
    let mut status = daemon_set.status.clone().unwrap_or_default();
    let mut desired = 0;
    let mut current = 0;
    let mut misscheduled = 0;
    let mut ready = 0;
    let mut updated = 0;
    let mut available = 0;
    for (node_name, verdict) in verdicts {
        let oldest = node_pods.get(node_name).and_then(|pods| {
            pods.iter()
                .min_by(|left, right| oldest_bound_first(left, right))
        });
        if !verdict.should_run {
            if oldest.is_some() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        let Some(pod) = oldest else { continue };
        current += 1;
        if is_pod_ready(pod) {
            ready += 1;
            if is_pod_available(pod, min_ready_seconds, now) {
                available += 1;
            }
        }
        if is_pod_updated(pod, hash, generation) {
            updated += 1;
        }
    }
    status.desired_number_scheduled = desired;
    status.current_number_scheduled = current;
    status.number_misscheduled = misscheduled;
    status.number_ready = ready;
    status.updated_number_scheduled = Some(updated);
    status.number_available = Some(available);
    status.number_unavailable = Some(desired - available);
    status.observed_generation = daemon_set.metadata.generation;
    status
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
