//! A Deployment's status: the counts of its pods, the Available condition, and the
//! Progressing condition that tells a rollout that moves, one that is done, one that has
//! made no progress within `progressDeadlineSeconds`, and a paused one
//! (`calculateStatus`, `syncRolloutStatus`, `checkPausedConditions`).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};

use super::conditions::{self, AVAILABLE, PROGRESSING, REPLICA_FAILURE};
use super::{DeploymentError, ReplicaSets, Rollout, fenceposts};

/// Kubernetes reads `progressDeadlineSeconds` of MaxInt32 as "no deadline".
const NO_DEADLINE: i32 = i32::MAX;

pub(super) fn progress_deadline_seconds(deployment: &Deployment) -> Option<i32> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.progress_deadline_seconds)
        .filter(|seconds| *seconds != NO_DEADLINE)
}

pub(super) fn has_progress_deadline(deployment: &Deployment) -> bool {
    progress_deadline_seconds(deployment).is_some()
}

fn nonzero(count: i32) -> Option<i32> {
    (count != 0).then_some(count)
}

fn value(count: Option<i32>) -> i32 {
    count.unwrap_or(0)
}

/// The status the ReplicaSets' pods give, with the Available condition set and the other
/// conditions kept (`calculateStatus`). Zero counts are left out, as Kubernetes'
/// `omitempty` fields are.
pub(super) fn calculate_status(
    deployment: &Deployment,
    replica_sets: &ReplicaSets,
    now: Timestamp,
) -> DeploymentStatus {
    let available: i32 = replica_sets
        .all()
        .map(|replica_set| replica_set.pods.available)
        .sum();
    let total: i32 = replica_sets
        .all()
        .map(|replica_set| replica_set.replicas())
        .sum();
    let unavailable = (total - available).max(0);
    let current = deployment.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: deployment.metadata.generation,
        replicas: nonzero(
            replica_sets
                .all()
                .map(|replica_set| replica_set.pods.active)
                .sum(),
        ),
        updated_replicas: nonzero(replica_sets.new.as_ref().map_or(0, |new| new.pods.active)),
        ready_replicas: nonzero(
            replica_sets
                .all()
                .map(|replica_set| replica_set.pods.ready)
                .sum(),
        ),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero(unavailable),
        collision_count: current.collision_count,
        conditions: current.conditions,
        terminating_replicas: current.terminating_replicas,
    };
    let minimum_available =
        fenceposts::desired_replicas(deployment) - fenceposts::max_unavailable(deployment);
    let condition = if available >= minimum_available {
        conditions::new_condition(
            AVAILABLE,
            "True",
            conditions::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".to_owned(),
            now,
        )
    } else {
        conditions::new_condition(
            AVAILABLE,
            "False",
            conditions::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".to_owned(),
            now,
        )
    };
    conditions::set_condition(&mut status, condition);
    status
}

/// All replicas updated and available, no old ones left, and the latest generation
/// observed (`DeploymentComplete`).
pub(super) fn deployment_complete(
    deployment: &Deployment,
    status: Option<&DeploymentStatus>,
) -> bool {
    let desired = fenceposts::desired_replicas(deployment);
    let Some(status) = status else {
        return false;
    };
    value(status.updated_replicas) == desired
        && value(status.replicas) == desired
        && value(status.available_replicas) == desired
        && status.observed_generation >= deployment.metadata.generation
}

/// Whether the new status shows progress over the Deployment's current one: more updated,
/// ready or available pods, or fewer old ones (`DeploymentProgressing`).
fn deployment_progressing(deployment: &Deployment, new: &DeploymentStatus) -> bool {
    let old = deployment.status.clone().unwrap_or_default();
    let old_old_replicas = value(old.replicas) - value(old.updated_replicas);
    let new_old_replicas = value(new.replicas) - value(new.updated_replicas);
    value(new.updated_replicas) > value(old.updated_replicas)
        || new_old_replicas < old_old_replicas
        || value(new.ready_replicas) > value(old.ready_replicas)
        || value(new.available_replicas) > value(old.available_replicas)
}

/// When the Progressing condition's deadline passes, if the rollout's progress is judged
/// at all: not without a deadline or a Progressing condition, not once complete or timed
/// out.
fn deadline(deployment: &Deployment, condition: &DeploymentCondition) -> Option<Timestamp> {
    let seconds = progress_deadline_seconds(deployment)?;
    let last_update = condition.last_update_time.as_ref()?.0;
    Some(last_update + SignedDuration::from_secs(i64::from(seconds)))
}

/// Whether the rollout has made no progress since its deadline (`DeploymentTimedOut`).
fn deployment_timed_out(deployment: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(condition) = conditions::get_condition(Some(new), PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(conditions::NEW_REPLICA_SET_AVAILABLE) => false,
        Some(conditions::PROGRESS_DEADLINE_EXCEEDED) => true,
        _ => deadline(deployment, condition).is_some_and(|deadline| deadline < now),
    }
}

impl Rollout<'_> {
    /// `syncDeploymentStatus`: writes the calculated status if it differs.
    pub(super) async fn sync_deployment_status(
        &mut self,
        replica_sets: &ReplicaSets,
    ) -> Result<(), DeploymentError> {
        let status = calculate_status(&self.deployment, replica_sets, self.now);
        if self.deployment.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.deployment.status = Some(status);
        self.write_status().await
    }

    /// `syncRolloutStatus`: the calculated status with the Progressing condition judged
    /// and the ReplicaSets' failures carried over, written if it differs.
    pub(super) async fn sync_rollout_status(
        &mut self,
        replica_sets: &ReplicaSets,
    ) -> Result<(), DeploymentError> {
        let mut status = calculate_status(&self.deployment, replica_sets, self.now);
        let has_deadline = has_progress_deadline(&self.deployment);
        if !has_deadline {
            conditions::remove_condition(&mut status, PROGRESSING);
        }
        let current =
            conditions::get_condition(self.deployment.status.as_ref(), PROGRESSING).cloned();
        let already_complete = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .and_then(|condition| condition.reason.as_deref())
                == Some(conditions::NEW_REPLICA_SET_AVAILABLE);
        if has_deadline && !already_complete {
            self.judge_progress(&mut status, current.as_ref(), replica_sets);
        }
        match replica_failure(replica_sets) {
            Some(failure) => conditions::set_condition(&mut status, failure),
            None => conditions::remove_condition(&mut status, REPLICA_FAILURE),
        }
        self.requeue_stuck_deployment(&status);
        if self.deployment.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.deployment.status = Some(status);
        self.write_status().await
    }

    fn judge_progress(
        &self,
        status: &mut DeploymentStatus,
        current: Option<&DeploymentCondition>,
        replica_sets: &ReplicaSets,
    ) {
        let subject = match replica_sets.new.as_ref() {
            Some(new) => format!("ReplicaSet {:?}", new.name()),
            None => format!(
                "Deployment {:?}",
                self.deployment.metadata.name.as_deref().unwrap_or_default()
            ),
        };
        if deployment_complete(&self.deployment, Some(status)) {
            let condition = conditions::new_condition(
                PROGRESSING,
                "True",
                conditions::NEW_REPLICA_SET_AVAILABLE,
                format!("{subject} has successfully progressed."),
                self.now,
            );
            conditions::set_condition(status, condition);
        } else if deployment_progressing(&self.deployment, status) {
            let mut condition = conditions::new_condition(
                PROGRESSING,
                "True",
                conditions::REPLICA_SET_UPDATED,
                format!("{subject} is progressing."),
                self.now,
            );
            // Progress moves the last update time even when the reason stays, which
            // `set_condition` would not do; the transition time stays while it is True.
            if let Some(current) = current {
                if current.status == "True" {
                    condition.last_transition_time = current.last_transition_time.clone();
                }
                conditions::remove_condition(status, PROGRESSING);
            }
            conditions::set_condition(status, condition);
        } else if deployment_timed_out(&self.deployment, status, self.now) {
            let condition = conditions::new_condition(
                PROGRESSING,
                "False",
                conditions::PROGRESS_DEADLINE_EXCEEDED,
                format!("{subject} has timed out progressing."),
                self.now,
            );
            conditions::set_condition(status, condition);
        }
    }

    /// Arranges a sync for when a rollout that is not moving reaches its deadline
    /// (`requeueStuckDeployment`), a second late so that the deadline has surely passed.
    fn requeue_stuck_deployment(&mut self, status: &DeploymentStatus) {
        let Some(current) = conditions::get_condition(self.deployment.status.as_ref(), PROGRESSING)
        else {
            return;
        };
        if deployment_complete(&self.deployment, Some(status))
            || current.reason.as_deref() == Some(conditions::PROGRESS_DEADLINE_EXCEEDED)
        {
            return;
        }
        let Some(deadline) = deadline(&self.deployment, current) else {
            return;
        };
        let remaining =
            Duration::try_from(deadline.duration_since(self.now)).unwrap_or(Duration::ZERO);
        self.requeue_within(remaining + Duration::from_secs(1));
    }

    /// Marks the Progressing condition paused or resumed (`checkPausedConditions`), so
    /// that time spent paused never counts against the progress deadline.
    pub(super) async fn check_paused_conditions(&mut self) -> Result<(), DeploymentError> {
        if !has_progress_deadline(&self.deployment) {
            return Ok(());
        }
        let current = conditions::get_condition(self.deployment.status.as_ref(), PROGRESSING);
        let reason = current.and_then(|condition| condition.reason.as_deref());
        if reason == Some(conditions::PROGRESS_DEADLINE_EXCEEDED) {
            return Ok(());
        }
        let paused_condition = reason == Some(conditions::DEPLOYMENT_PAUSED);
        let paused = super::spec_paused(&self.deployment);
        let condition = if paused && !paused_condition {
            (conditions::DEPLOYMENT_PAUSED, "Deployment is paused")
        } else if !paused && paused_condition {
            (conditions::DEPLOYMENT_RESUMED, "Deployment is resumed")
        } else {
            return Ok(());
        };
        let condition = conditions::new_condition(
            PROGRESSING,
            "Unknown",
            condition.0,
            condition.1.to_owned(),
            self.now,
        );
        conditions::set_condition(
            self.deployment.status.get_or_insert_with(Default::default),
            condition,
        );
        self.write_status().await
    }
}

/// The new ReplicaSet's ReplicaFailure condition, else the first old one's
/// (`getReplicaFailures`).
fn replica_failure(replica_sets: &ReplicaSets) -> Option<DeploymentCondition> {
    let failure_of = |replica_set: &super::TrackedReplicaSet| {
        replica_set
            .object
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|condition| condition.type_ == REPLICA_FAILURE)
            .map(conditions::from_replica_set_condition)
    };
    replica_sets
        .new
        .as_ref()
        .and_then(failure_of)
        .or_else(|| replica_sets.all().find_map(failure_of))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 3},
            "spec": {
                "replicas": 3,
                "progressDeadlineSeconds": 60,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {},
            },
            "status": status,
        }))
        .expect("a deployment")
    }

    fn status(value: serde_json::Value) -> DeploymentStatus {
        serde_json::from_value(value).expect("a status")
    }

    #[test]
    fn complete_needs_all_replicas_updated_and_available_and_the_generation_observed() {
        let done = status(
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        let deployment = deployment(json!({}));
        assert!(deployment_complete(&deployment, Some(&done)));
        let stale = status(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert!(!deployment_complete(&deployment, Some(&stale)));
    }

    #[test]
    fn progress_is_more_updated_ready_or_available_pods_or_fewer_old_ones() {
        let deployment =
            deployment(json!({"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3}));
        assert!(deployment_progressing(
            &deployment,
            &status(json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 3}))
        ));
        assert!(!deployment_progressing(
            &deployment,
            &status(json!({"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3}))
        ));
    }

    #[test]
    fn a_rollout_times_out_once_its_last_progress_is_older_than_the_deadline() {
        let now: Timestamp = "2025-01-01T00:10:00Z".parse().expect("a time");
        let progressing = |updated: &str, reason: &str| {
            status(json!({"conditions": [{
                "type": "Progressing", "status": "True", "reason": reason,
                "lastUpdateTime": updated, "lastTransitionTime": updated,
            }]}))
        };
        let deployment = deployment(json!({}));
        assert!(deployment_timed_out(
            &deployment,
            &progressing("2025-01-01T00:08:00Z", conditions::REPLICA_SET_UPDATED),
            now
        ));
        assert!(!deployment_timed_out(
            &deployment,
            &progressing("2025-01-01T00:09:30Z", conditions::REPLICA_SET_UPDATED),
            now
        ));
        assert!(!deployment_timed_out(
            &deployment,
            &progressing(
                "2025-01-01T00:00:00Z",
                conditions::NEW_REPLICA_SET_AVAILABLE
            ),
            now
        ));
    }
}
