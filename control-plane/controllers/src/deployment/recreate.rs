//! The Recreate strategy (`rolloutRecreate`): every old ReplicaSet goes to zero, and only
//! once none of their pods runs any more is the new ReplicaSet created and scaled up, so
//! that old and new pods never run at the same time.

use super::{DeploymentError, ReplicaSets, Rollout, fenceposts, progress};

impl Rollout<'_> {
    pub(super) async fn rollout_recreate(&mut self) -> Result<(), DeploymentError> {
        // The new ReplicaSet is not created yet, so that nothing scales up before the old
        // pods are gone.
        let mut replica_sets = self.new_and_old_replica_sets(false).await?;
        let mut scaled_down = false;
        for old in replica_sets.old.iter_mut().filter(|old| old.replicas() > 0) {
            scaled_down |= self.scale_replica_set_and_record_event(old, 0).await?;
        }
        if scaled_down || old_pods_running(&replica_sets) {
            return self.sync_rollout_status(&replica_sets).await;
        }
        if replica_sets.new.is_none() {
            replica_sets = self.new_and_old_replica_sets(true).await?;
        }
        let desired = fenceposts::desired_replicas(&self.deployment);
        if let Some(new) = replica_sets.new.as_mut() {
            self.scale_replica_set_and_record_event(new, desired)
                .await?;
        }
        if progress::deployment_complete(&self.deployment, self.deployment.status.as_ref()) {
            self.clean_up_old_replica_sets(&replica_sets.old).await?;
        }
        self.sync_rollout_status(&replica_sets).await
    }
}

/// Whether an old ReplicaSet may still have a pod that runs (`oldPodsRunning`): one of
/// its pods has not finished (even while being deleted), its status still counts pods, or
/// the ReplicaSet controller has not yet seen it scaled to zero (a sync of it that began
/// before could still create a pod).
fn old_pods_running(replica_sets: &ReplicaSets) -> bool {
    replica_sets
        .old
        .iter()
        .any(|old| old.pods.unfinished > 0 || old.status_replicas() > 0 || !old.observed())
}
