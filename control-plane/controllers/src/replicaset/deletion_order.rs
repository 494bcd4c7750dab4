//! Which pods a ReplicaSet deletes first when it has too many: kube-controller-manager's
//! `ActivePodsWithRanks` order, least valuable first. A pod that is not yet placed, not yet
//! running or not ready costs the least to lose; among ready pods the one that became ready
//! most recently, the one that restarts most and the newest go first.
//!
//! Kubernetes compares ready and creation times in logarithmic buckets
//! (`LogarithmicScaleDown`), so that pods of about the same age are not told apart by a few
//! milliseconds; the bucket is `floor(log2(age in nanoseconds))`. Here the order is a sort
//! key, which makes it total: where Kubernetes breaks a tie between two pods of the same
//! bucket by UID at once, this order first looks at restart counts and creation time.

use std::cmp::Reverse;
use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::pods;

/// The annotation that lets users say which pods to delete first (`PodDeletionCost`):
/// lower costs go first.
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `count` least valuable pods of `candidates`. `related` are the pods of the
/// ReplicaSet and its siblings (the ReplicaSets with the same controller); a candidate
/// that shares its node with more of them is deleted first, so that scaling down spreads
/// the remaining pods.
pub fn pods_to_delete(
    mut candidates: Vec<Pod>,
    related: &[Pod],
    count: usize,
    now: Timestamp,
) -> Vec<Pod> {
    if count < candidates.len() {
        let colocated = active_pods_per_node(related);
        candidates.sort_by_cached_key(|pod| DeletionRank::of(pod, &colocated, now));
    }
    candidates.truncate(count);
    candidates
}

fn active_pods_per_node(pods: &[Pod]) -> HashMap<String, usize> {
    let mut per_node = HashMap::new();
    for pod in pods.iter().filter(|pod| pods::is_pod_active(pod)) {
        *per_node.entry(node_name(pod).to_owned()).or_insert(0) += 1;
    }
    per_node
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .unwrap_or_default()
}

/// A pod's place in the deletion order; smaller keys are deleted first. The fields are
/// compared in declaration order, which is Kubernetes' order of rules.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DeletionRank {
    assigned: bool,
    phase: u8,
    ready: bool,
    deletion_cost: i32,
    colocated: Reverse<usize>,
    ready_age_bucket: i64,
    restarts: Reverse<i32>,
    sidecar_restarts: Reverse<i32>,
    creation_age_bucket: i64,
    uid: String,
}

impl DeletionRank {
    fn of(pod: &Pod, colocated: &HashMap<String, usize>, now: Timestamp) -> DeletionRank {
        let ready = pods::is_pod_ready(pod);
        let (restarts, sidecar_restarts) = maximum_restarts(pod);
        DeletionRank {
            assigned: !node_name(pod).is_empty(),
            phase: phase_ordinal(pods::pod_phase(pod)),
            ready,
            deletion_cost: deletion_cost(pod),
            colocated: Reverse(colocated.get(node_name(pod)).copied().unwrap_or(0)),
            // Only ready pods are compared by how long they have been ready; all others
            // share one bucket.
            ready_age_bucket: if ready {
                age_bucket(ready_time(pod), now)
            } else {
                0
            },
            restarts: Reverse(restarts),
            sidecar_restarts: Reverse(sidecar_restarts),
            creation_age_bucket: age_bucket(
                pod.metadata.creation_timestamp.as_ref().map(|time| time.0),
                now,
            ),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// Pending < Unknown < Running; any other phase counts as Pending, as a missing map entry
/// does in Kubernetes.
fn phase_ordinal(phase: Option<&str>) -> u8 {
    match phase {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

/// The pod's deletion cost; a missing or malformed annotation counts as 0.
fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(POD_DELETION_COST_ANNOTATION))
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(0)
}

/// When the Ready condition last turned True; `None` when it does not say.
fn ready_time(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready" && condition.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|time| time.0)
}

/// `floor(log2(now - time))` in nanoseconds, -1 for a time not in the past, and the
/// smallest bucket for an unknown time (a zero time sorts first in Kubernetes).
fn age_bucket(time: Option<Timestamp>, now: Timestamp) -> i64 {
    let Some(time) = time else {
        return i64::MIN;
    };
    let age = now.as_nanosecond() - time.as_nanosecond();
    if age <= 0 {
        return -1;
    }
    // Truncation is the point: the bucket is the integer part of the logarithm.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let bucket = (age as f64).log2() as i64;
    bucket
}

/// The highest restart count among the regular containers, then among the sidecars
/// (init containers that keep running, `restartPolicy: Always`).
fn maximum_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else {
        return (0, 0);
    };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|container| container.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|spec| spec.init_containers.iter().flatten())
        .filter(|container| container.restart_policy.as_deref() == Some("Always"))
        .map(|container| container.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|container| sidecars.contains(&container.name.as_str()))
        .map(|container| container.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use serde_json::json;

    use super::*;

    const NOW: &str = "2025-01-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().expect("a timestamp")
    }

    fn ago(seconds: i64) -> String {
        (now() - SignedDuration::from_secs(seconds)).to_string()
    }

    /// A running, ready pod on node-1, created an hour ago and ready for 50 minutes.
    fn pod(name: &str) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": ago(3600)},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ago(3000)}],
                "containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0}],
            },
        })
    }

    fn build(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("a pod")
    }

    /// The name of the one pod that goes first out of the two.
    fn first_deleted(first: serde_json::Value, second: serde_json::Value) -> String {
        let candidates = vec![build(first), build(second)];
        let related = candidates.clone();
        let chosen = pods_to_delete(candidates, &related, 1, now());
        chosen[0].metadata.name.clone().expect("a name")
    }

    #[test]
    fn unassigned_pods_go_before_assigned_ones() {
        let mut unassigned = pod("unassigned");
        unassigned["spec"]["nodeName"] = json!(null);
        assert_eq!(first_deleted(pod("assigned"), unassigned), "unassigned");
    }

    #[test]
    fn pending_goes_before_unknown_which_goes_before_running() {
        let mut pending = pod("pending");
        pending["status"]["phase"] = json!("Pending");
        let mut unknown = pod("unknown");
        unknown["status"]["phase"] = json!("Unknown");
        assert_eq!(first_deleted(unknown.clone(), pending), "pending");
        assert_eq!(first_deleted(pod("running"), unknown), "unknown");
    }

    #[test]
    fn not_ready_goes_before_ready() {
        let mut not_ready = pod("not-ready");
        not_ready["status"]["conditions"][0]["status"] = json!("False");
        assert_eq!(first_deleted(pod("ready"), not_ready), "not-ready");
    }

    #[test]
    fn a_lower_deletion_cost_goes_first() {
        let mut cheap = pod("cheap");
        cheap["metadata"]["annotations"] = json!({POD_DELETION_COST_ANNOTATION: "-5"});
        let mut dear = pod("dear");
        dear["metadata"]["annotations"] = json!({POD_DELETION_COST_ANNOTATION: "10"});
        assert_eq!(first_deleted(dear, cheap), "cheap");
    }

    #[test]
    fn a_pod_doubled_up_on_its_node_goes_first() {
        let mut alone = pod("alone");
        alone["spec"]["nodeName"] = json!("node-2");
        let doubled = pod("doubled");
        let mut neighbour = pod("neighbour");
        neighbour["metadata"]["creationTimestamp"] = json!(ago(10));
        let candidates = vec![build(alone), build(doubled), build(neighbour)];
        let related = candidates.clone();
        let chosen = pods_to_delete(candidates, &related, 2, now());
        let names: Vec<_> = chosen
            .iter()
            .map(|pod| pod.metadata.name.clone().expect("a name"))
            .collect();
        assert_eq!(names, ["neighbour", "doubled"]);
    }

    #[test]
    fn the_more_recently_ready_goes_first() {
        let mut recent = pod("recent");
        recent["status"]["conditions"][0]["lastTransitionTime"] = json!(ago(5));
        assert_eq!(first_deleted(pod("settled"), recent), "recent");
    }

    #[test]
    fn more_restarts_go_first() {
        let mut restarting = pod("restarting");
        restarting["status"]["containerStatuses"][0]["restartCount"] = json!(4);
        assert_eq!(first_deleted(pod("steady"), restarting), "restarting");
    }

    #[test]
    fn the_newer_goes_first() {
        let mut newer = pod("newer");
        newer["metadata"]["creationTimestamp"] = json!(ago(60));
        assert_eq!(first_deleted(pod("older"), newer), "newer");
    }

    #[test]
    fn times_within_one_logarithmic_bucket_are_not_told_apart() {
        // 3000 s and 3001 s ago are in the same power-of-two bucket of nanoseconds, so
        // the restart count decides.
        let mut restarting = pod("restarting");
        restarting["status"]["containerStatuses"][0]["restartCount"] = json!(1);
        restarting["status"]["conditions"][0]["lastTransitionTime"] = json!(ago(3001));
        assert_eq!(first_deleted(pod("steady"), restarting), "restarting");
    }

    #[test]
    fn all_candidates_are_returned_when_all_go() {
        let candidates = vec![build(pod("a")), build(pod("b"))];
        assert_eq!(pods_to_delete(candidates, &[], 5, now()).len(), 2);
    }
}
