//! The RollingUpdate strategy (`rolloutRolling`): the new ReplicaSet grows while the pods
//! stay within `replicas + maxSurge`, and old ReplicaSets shrink while at least
//! `replicas - maxUnavailable` pods stay available, unavailable old pods first.

use super::replica_sets::{TrackedReplicaSet, by_creation};
use super::{DeploymentError, ReplicaSets, Rollout, fenceposts, progress, scaling};

impl Rollout<'_> {
    pub(super) async fn rollout_rolling(&mut self) -> Result<(), DeploymentError> {
        let mut replica_sets = self.new_and_old_replica_sets(true).await?;
        if self.reconcile_new_replica_set(&mut replica_sets).await?
            || self.reconcile_old_replica_sets(&mut replica_sets).await?
        {
            return self.sync_rollout_status(&replica_sets).await;
        }
        if progress::deployment_complete(&self.deployment, self.deployment.status.as_ref()) {
            self.clean_up_old_replica_sets(&replica_sets.old).await?;
        }
        self.sync_rollout_status(&replica_sets).await
    }

    /// Scales the new ReplicaSet towards `replicas` as far as the surge allows, or down to
    /// `replicas` if it has more.
    async fn reconcile_new_replica_set(
        &mut self,
        replica_sets: &mut ReplicaSets,
    ) -> Result<bool, DeploymentError> {
        let desired = fenceposts::desired_replicas(&self.deployment);
        let Some(new_replicas) = replica_sets.new.as_ref().map(TrackedReplicaSet::replicas) else {
            return Ok(false);
        };
        let target = if new_replicas > desired {
            desired
        } else {
            let all: Vec<&TrackedReplicaSet> = replica_sets.all().collect();
            scaling::new_replica_set_replicas(&self.deployment, &all, new_replicas)?
        };
        match replica_sets.new.as_mut() {
            Some(new) => self.scale_replica_set_and_record_event(new, target).await,
            None => Ok(false),
        }
    }

    /// Scales old ReplicaSets down as far as availability allows (`reconcileOldReplicaSets`).
    async fn reconcile_old_replica_sets(
        &mut self,
        replica_sets: &mut ReplicaSets,
    ) -> Result<bool, DeploymentError> {
        let old_replicas: i32 = replica_sets
            .old
            .iter()
            .map(TrackedReplicaSet::replicas)
            .sum();
        if old_replicas == 0 {
            return Ok(false);
        }
        let all_replicas: i32 = replica_sets.all().map(TrackedReplicaSet::replicas).sum();
        let minimum_available = fenceposts::desired_replicas(&self.deployment)
            - fenceposts::max_unavailable(&self.deployment);
        let new_unavailable = replica_sets
            .new
            .as_ref()
            .map_or(0, |new| new.replicas() - new.available_kept());
        // What may go: the pods there will be, less those that must stay available, less
        // the new pods that are not available yet (which must not make old ones go).
        let maximum_scaled_down = all_replicas - minimum_available - new_unavailable;
        if maximum_scaled_down <= 0 {
            return Ok(false);
        }
        replica_sets.old.sort_by(by_creation);
        let cleaned_up = self
            .clean_up_unhealthy_replicas(&mut replica_sets.old, maximum_scaled_down)
            .await?;
        let scaled_down = self
            .scale_down_old_replica_sets(replica_sets, minimum_available)
            .await?;
        Ok(cleaned_up + scaled_down > 0)
    }

    /// Scales old ReplicaSets down by their unavailable pods, oldest first: losing those
    /// costs no availability, and they would otherwise hold the rollout up.
    async fn clean_up_unhealthy_replicas(
        &mut self,
        old: &mut [TrackedReplicaSet],
        maximum: i32,
    ) -> Result<i32, DeploymentError> {
        let mut total = 0;
        for replica_set in old.iter_mut() {
            if total >= maximum {
                break;
            }
            let replicas = replica_set.replicas();
            let unhealthy = replicas - replica_set.available_kept();
            if replicas == 0 || unhealthy == 0 {
                continue;
            }
            let scaled_down = (maximum - total).min(unhealthy);
            self.scale_replica_set_and_record_event(replica_set, replicas - scaled_down)
                .await?;
            total += scaled_down;
        }
        Ok(total)
    }

    /// Scales old ReplicaSets down, oldest first, by as many pods as are available beyond
    /// `replicas - maxUnavailable` (`scaleDownOldReplicaSetsForRollingUpdate`).
    async fn scale_down_old_replica_sets(
        &mut self,
        replica_sets: &mut ReplicaSets,
        minimum_available: i32,
    ) -> Result<i32, DeploymentError> {
        let available: i32 = replica_sets
            .all()
            .map(TrackedReplicaSet::available_kept)
            .sum();
        if available <= minimum_available {
            return Ok(0);
        }
        let to_scale_down = available - minimum_available;
        let mut total = 0;
        for replica_set in &mut replica_sets.old {
            if total >= to_scale_down {
                break;
            }
            let replicas = replica_set.replicas();
            if replicas == 0 {
                continue;
            }
            let scaled_down = replicas.min(to_scale_down - total);
            self.scale_replica_set_and_record_event(replica_set, replicas - scaled_down)
                .await?;
            total += scaled_down;
        }
        Ok(total)
    }
}
