//! A ReplicaSet's status (`calculateStatus`): how many of its pods exist, carry all the
//! template's labels, are ready and are available, and the ReplicaFailure condition while
//! pods cannot be created or deleted.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::manage::ManageFailure;
use crate::pods;

pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The status `owned` (the ReplicaSet's active pods, before this sync's creates and
/// deletes) gives, keeping an existing ReplicaFailure condition while the failure lasts.
pub fn calculate_status(
    replica_set: &ReplicaSet,
    owned: &[Pod],
    failure: Option<&ManageFailure>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut status = replica_set.status.clone().unwrap_or_default();
    let template_labels = replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.metadata.as_ref())
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    let minimum_ready_seconds = minimum_ready_seconds(replica_set);
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    for pod in owned {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if template_labels
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
        {
            fully_labeled += 1;
        }
        if pods::is_pod_ready(pod) {
            ready += 1;
            if pods::is_pod_available(pod, minimum_ready_seconds, now) {
                available += 1;
            }
        }
    }
    let has_failure_condition = status
        .conditions
        .iter()
        .flatten()
        .any(|condition| condition.type_ == REPLICA_FAILURE);
    match failure {
        Some(failure) if !has_failure_condition => {
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .push(ReplicaSetCondition {
                    type_: REPLICA_FAILURE.to_owned(),
                    status: "True".to_owned(),
                    reason: Some(failure.reason.to_owned()),
                    message: Some(failure.message.clone()),
                    last_transition_time: Some(Time(now)),
                });
        }
        None if has_failure_condition => {
            if let Some(conditions) = status.conditions.as_mut() {
                conditions.retain(|condition| condition.type_ != REPLICA_FAILURE);
            }
            if status.conditions.as_ref().is_some_and(Vec::is_empty) {
                status.conditions = None;
            }
        }
        _ => {}
    }
    status.replicas = count(owned.len());
    // Zero counts are left out, as Kubernetes' `omitempty` fields are.
    status.fully_labeled_replicas = nonzero(fully_labeled);
    status.ready_replicas = nonzero(ready);
    status.available_replicas = nonzero(available);
    status
}

/// Whether `status` says anything the stored status does not, or the stored status has
/// not yet observed the ReplicaSet's generation (`updateReplicaSetStatus`' check).
pub fn needs_update(replica_set: &ReplicaSet, status: &ReplicaSetStatus) -> bool {
    let Some(current) = replica_set.status.as_ref() else {
        return true;
    };
    current.replicas != status.replicas
        || current.fully_labeled_replicas.unwrap_or(0) != status.fully_labeled_replicas.unwrap_or(0)
        || current.ready_replicas.unwrap_or(0) != status.ready_replicas.unwrap_or(0)
        || current.available_replicas.unwrap_or(0) != status.available_replicas.unwrap_or(0)
        || replica_set.metadata.generation != current.observed_generation
        || current.conditions != status.conditions
}

/// How long until the next ready pod becomes available (ready for `minReadySeconds`), so
/// that the ReplicaSet is synced again then; `None` when no pod is waiting for that.
pub fn next_availability(
    replica_set: &ReplicaSet,
    owned: &[Pod],
    now: Timestamp,
) -> Option<Duration> {
    let minimum_ready_seconds = minimum_ready_seconds(replica_set);
    if minimum_ready_seconds <= 0 {
        return None;
    }
    owned
        .iter()
        .filter_map(pods::pod_ready_since)
        .map(|since| since + SignedDuration::from_secs(i64::from(minimum_ready_seconds)))
        .filter(|available_at| *available_at > now)
        .min()
        .and_then(|available_at| Duration::try_from(available_at.duration_since(now)).ok())
}

fn minimum_ready_seconds(replica_set: &ReplicaSet) -> i32 {
    replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
        .unwrap_or(0)
}

fn count(number: usize) -> i32 {
    i32::try_from(number).unwrap_or(i32::MAX)
}

fn nonzero(number: usize) -> Option<i32> {
    (number > 0).then(|| count(number))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn replica_set() -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {
                "replicas": 3,
                "minReadySeconds": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}},
            },
        }))
        .expect("a replica set")
    }

    fn pod(labels: serde_json::Value, ready_since: Option<&str>) -> Pod {
        let conditions = match ready_since {
            Some(since) => {
                json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}])
            }
            None => json!([{"type": "Ready", "status": "False"}]),
        };
        serde_json::from_value(json!({
            "metadata": {"labels": labels},
            "status": {"phase": "Running", "conditions": conditions},
        }))
        .expect("a pod")
    }

    #[test]
    fn counts_labeled_ready_and_available_pods() {
        let now: Timestamp = "2025-01-01T00:01:00Z".parse().expect("a time");
        let owned = [
            pod(
                json!({"app": "web", "tier": "front"}),
                Some("2025-01-01T00:00:00Z"),
            ),
            pod(json!({"app": "web"}), Some("2025-01-01T00:00:55Z")),
            pod(json!({"app": "web", "tier": "front"}), None),
        ];
        let status = calculate_status(&replica_set(), &owned, None, now);
        assert_eq!(status.replicas, 3);
        assert_eq!(status.fully_labeled_replicas, Some(2));
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        assert!(needs_update(&replica_set(), &status));
        assert_eq!(
            next_availability(&replica_set(), &owned, now),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_failure_adds_the_condition_once_and_success_removes_it() {
        let now = Timestamp::UNIX_EPOCH;
        let failure = ManageFailure {
            reason: "FailedCreate",
            message: "exceeded quota".to_owned(),
        };
        let mut replica_set = replica_set();
        let failed = calculate_status(&replica_set, &[], Some(&failure), now);
        let condition = &failed.conditions.as_ref().expect("conditions")[0];
        assert_eq!(condition.type_, REPLICA_FAILURE);
        assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
        assert_eq!(condition.message.as_deref(), Some("exceeded quota"));
        replica_set.status = Some(failed.clone());
        let again = calculate_status(&replica_set, &[], Some(&failure), now);
        assert_eq!(again.conditions, failed.conditions);
        let recovered = calculate_status(&replica_set, &[], None, now);
        assert_eq!(recovered.conditions, None);
    }
}
