//! A Deployment's conditions (`Available`, `Progressing`, `ReplicaFailure`), their
//! reasons as Kubernetes names them, and the rules for replacing one.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus, ReplicaSetCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Progressing: one of the Deployment's ReplicaSets was scaled during a rollout.
pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
/// Progressing: the new ReplicaSet could not be created.
pub const FAILED_REPLICA_SET_CREATE: &str = "ReplicaSetCreateError";
/// Progressing: the new ReplicaSet was created.
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
/// Progressing: an existing ReplicaSet was found to be the new one.
pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
/// Progressing: the new ReplicaSet has all the replicas, available.
pub const NEW_REPLICA_SET_AVAILABLE: &str = "NewReplicaSetAvailable";
/// Progressing: no progress within `progressDeadlineSeconds`.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// Progressing: the Deployment is paused; its progress is not judged.
pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
/// Progressing: the Deployment was resumed; the deadline counts from now.
pub const DEPLOYMENT_RESUMED: &str = "DeploymentResumed";
/// Available: at least `replicas - maxUnavailable` pods are available.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// Available: fewer than that.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn get_condition<'a>(
    status: Option<&'a DeploymentStatus>,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_)
}

/// Replaces the condition of the same type (`SetDeploymentCondition`): nothing changes if
/// its status and reason are the same, and the transition time is kept if its status is.
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_condition(Some(status), &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|existing| existing.type_ != condition.type_);
    conditions.push(condition);
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|condition| condition.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// A ReplicaSet's condition as the Deployment reports it.
pub fn from_replica_set_condition(condition: &ReplicaSetCondition) -> DeploymentCondition {
    DeploymentCondition {
        type_: condition.type_.clone(),
        status: condition.status.clone(),
        reason: condition.reason.clone(),
        message: condition.message.clone(),
        last_update_time: condition.last_transition_time.clone(),
        last_transition_time: condition.last_transition_time.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_status_and_reason_change_nothing_and_same_status_keeps_the_transition_time() {
        let earlier = Timestamp::UNIX_EPOCH;
        let later = Timestamp::constant(1000, 0);
        let mut status = DeploymentStatus::default();
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                NEW_REPLICA_SET_CREATED,
                "a".to_owned(),
                earlier,
            ),
        );
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                NEW_REPLICA_SET_CREATED,
                "b".to_owned(),
                later,
            ),
        );
        let condition = get_condition(Some(&status), PROGRESSING).expect("the condition");
        assert_eq!(condition.message.as_deref(), Some("a"));
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                NEW_REPLICA_SET_AVAILABLE,
                "c".to_owned(),
                later,
            ),
        );
        let condition = get_condition(Some(&status), PROGRESSING).expect("the condition");
        assert_eq!(condition.reason.as_deref(), Some(NEW_REPLICA_SET_AVAILABLE));
        assert_eq!(condition.last_transition_time, Some(Time(earlier)));
        assert_eq!(condition.last_update_time, Some(Time(later)));
        remove_condition(&mut status, PROGRESSING);
        assert_eq!(status.conditions, None);
    }
}
