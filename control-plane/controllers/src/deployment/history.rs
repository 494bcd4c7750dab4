//! The revision history a Deployment keeps (`cleanupDeployment`): old ReplicaSets with no
//! pods are what `kubectl rollout undo` goes back to, and all but the newest
//! `revisionHistoryLimit` of them are deleted.

use kube::api::DeleteParams;

use super::replica_sets::{TrackedReplicaSet, by_revision};
use super::{DeploymentError, Rollout};

impl Rollout<'_> {
    /// Deletes the oldest revisions beyond `revisionHistoryLimit`, skipping any that still
    /// have pods, are meant to have some, or whose last scaling the ReplicaSet controller
    /// has not yet seen.
    pub(super) async fn clean_up_old_replica_sets(
        &mut self,
        old: &[TrackedReplicaSet],
    ) -> Result<(), DeploymentError> {
        let Some(limit) = self
            .deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.revision_history_limit)
        else {
            return Ok(());
        };
        let mut cleanable: Vec<&TrackedReplicaSet> = old
            .iter()
            .filter(|replica_set| replica_set.object.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            return Ok(());
        }
        cleanable.sort_by(|first, second| by_revision(first, second));
        for replica_set in cleanable.into_iter().take(excess) {
            if replica_set.status_replicas() != 0
                || replica_set.replicas() != 0
                || !replica_set.observed()
            {
                continue;
            }
            tracing::debug!(replica_set = %replica_set.name(), deployment = %self.deployment.metadata.name.as_deref().unwrap_or_default(), "cleaning up an old replica set");
            match self
                .replica_set_api
                .delete(&replica_set.name(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.is_not_found() => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}
