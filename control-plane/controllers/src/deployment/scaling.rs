//! Scaling a Deployment's ReplicaSets: one ReplicaSet with its event and its replicas
//! annotations, the new ReplicaSet's size within the surge, and proportional scaling
//! (`scale`) when `spec.replicas` changes in the middle of a rollout or while paused, so
//! that neither the new nor the old pods gain ground from a mere resize.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;

use super::replica_sets::{TrackedReplicaSet, by_creation};
use super::{DeploymentError, ReplicaSets, Rollout, fenceposts, revision};
use crate::events::EventType;

/// Where a ReplicaSet is in `ReplicaSets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    New,
    Old(usize),
}

impl ReplicaSets {
    fn get(&self, slot: Slot) -> Option<&TrackedReplicaSet> {
        match slot {
            Slot::New => self.new.as_ref(),
            Slot::Old(index) => self.old.get(index),
        }
    }

    fn get_mut(&mut self, slot: Slot) -> Option<&mut TrackedReplicaSet> {
        match slot {
            Slot::New => self.new.as_mut(),
            Slot::Old(index) => self.old.get_mut(index),
        }
    }

    /// The ReplicaSets with replicas: the old ones newest first, then the new one.
    fn active_slots(&mut self) -> Vec<Slot> {
        self.old.sort_by(|first, second| by_creation(second, first));
        (0..self.old.len())
            .map(Slot::Old)
            .chain(self.new.is_some().then_some(Slot::New))
            .filter(|slot| {
                self.get(*slot)
                    .is_some_and(|replica_set| replica_set.replicas() > 0)
            })
            .collect()
    }

    /// The one ReplicaSet that should have all the replicas when at most one has any
    /// (`FindActiveOrLatest`): that one, or the newest when none has any.
    fn active_or_latest(&mut self) -> Option<Slot> {
        if self.new.is_none() && self.old.is_empty() {
            return None;
        }
        let active = self.active_slots();
        match active.as_slice() {
            [] if self.new.is_some() => Some(Slot::New),
            [] => Some(Slot::Old(0)),
            [only] => Some(*only),
            _ => None,
        }
    }
}

/// The replicas the new ReplicaSet may have now (`NewRSNewReplicas`): for a rolling
/// update, as many as fit under `replicas + maxSurge` pods (counting the pods each
/// ReplicaSet has or will have) and no more than `replicas`; for Recreate, all.
pub(super) fn new_replica_set_replicas(
    deployment: &Deployment,
    all: &[&TrackedReplicaSet],
    new_replicas: i32,
) -> Result<i32, DeploymentError> {
    let desired = fenceposts::desired_replicas(deployment);
    match fenceposts::strategy_type(deployment) {
        fenceposts::ROLLING_UPDATE => {
            let max_surge = deployment
                .spec
                .as_ref()
                .and_then(|spec| spec.strategy.as_ref())
                .and_then(|strategy| strategy.rolling_update.as_ref())
                .and_then(|rolling| rolling.max_surge.as_ref())
                .map_or(Ok(0), |surge| {
                    fenceposts::scaled_value(surge, desired, true)
                })?;
            let current: i32 = all
                .iter()
                .map(|replica_set| replica_set.surge_count())
                .sum();
            let maximum_total = desired + max_surge;
            if current >= maximum_total {
                return Ok(new_replicas);
            }
            let scale_up = (maximum_total - current).min(desired - new_replicas);
            Ok(new_replicas + scale_up)
        }
        fenceposts::RECREATE => Ok(desired),
        other => Err(DeploymentError::UnexpectedStrategy(other.to_owned())),
    }
}

/// Whether the new ReplicaSet has all the replicas, meant for this size, all available
/// (`IsSaturated`).
fn is_saturated(deployment: &Deployment, new: Option<&TrackedReplicaSet>) -> bool {
    let Some(new) = new else {
        return false;
    };
    let desired = fenceposts::desired_replicas(deployment);
    new.replicas() == desired
        && revision::desired_replicas_annotation(&new.object) == Some(desired)
        && new.available_kept() == desired
}

/// How many replicas of `to_add` this ReplicaSet gets, in proportion to its size
/// (`GetProportion`); never more than what is left to add or remove.
fn proportion(
    replica_set: &TrackedReplicaSet,
    deployment: &Deployment,
    to_add: i32,
    added: i32,
) -> i32 {
    if replica_set.replicas() == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(replica_set, deployment);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The change this ReplicaSet's size needs to keep its share of the Deployment's
/// maximum pods (`getReplicaSetFraction`).
fn fraction(replica_set: &TrackedReplicaSet, deployment: &Deployment) -> i32 {
    let desired = fenceposts::desired_replicas(deployment);
    if desired == 0 {
        return -replica_set.replicas();
    }
    let maximum = desired + fenceposts::max_surge(deployment);
    let maximum_before = match revision::max_replicas_annotation(&replica_set.object) {
        Some(annotated) if annotated != 0 => annotated,
        // Without the annotation (someone scaled the ReplicaSet by hand) the
        // Deployment's current size is the best guess.
        _ => deployment
            .status
            .as_ref()
            .and_then(|status| status.replicas)
            .unwrap_or(0),
    };
    if maximum_before == 0 {
        return 0;
    }
    let scaled = f64::from(replica_set.replicas()) * f64::from(maximum) / f64::from(maximum_before);
    // Rounded half away from zero as Go's math.Round; the result is a pod count.
    #[allow(clippy::cast_possible_truncation)]
    let rounded = scaled.round() as i32;
    rounded - replica_set.replicas()
}

impl Rollout<'_> {
    /// Scales `replica_set` to `new_size`, if that changes it.
    pub(super) async fn scale_replica_set_and_record_event(
        &mut self,
        replica_set: &mut TrackedReplicaSet,
        new_size: i32,
    ) -> Result<bool, DeploymentError> {
        let current = replica_set.replicas();
        if current == new_size {
            return Ok(false);
        }
        let operation = if current < new_size { "up" } else { "down" };
        self.scale_replica_set(replica_set, new_size, operation)
            .await
    }

    /// Writes `new_size` and the Deployment's current replicas annotations into the
    /// ReplicaSet when either differs, with a ScalingReplicaSet event for a new size;
    /// answers whether the size changed.
    async fn scale_replica_set(
        &mut self,
        replica_set: &mut TrackedReplicaSet,
        new_size: i32,
        operation: &str,
    ) -> Result<bool, DeploymentError> {
        let desired = fenceposts::desired_replicas(&self.deployment);
        let maximum = desired + fenceposts::max_surge(&self.deployment);
        let old_size = replica_set.replicas();
        let size_changes = old_size != new_size;
        if !size_changes
            && !revision::replicas_annotations_need_update(&replica_set.object, desired, maximum)
        {
            return Ok(false);
        }
        let mut updated = replica_set.object.clone();
        updated.spec.get_or_insert_with(Default::default).replicas = Some(new_size);
        revision::set_replicas_annotations(&mut updated, desired, maximum);
        let name = replica_set.name();
        replica_set.object = self
            .replica_set_api
            .replace(&name, &PostParams::default(), &updated)
            .await?;
        if size_changes {
            self.publish(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {name} from {old_size} to {new_size}"),
            )
            .await;
        }
        Ok(size_changes)
    }

    /// `scale`: a resize without a rollout. With one active ReplicaSet it gets all the
    /// replicas; with a saturated new one the old ones go to zero; during a rolling update
    /// the difference is shared among the active ReplicaSets by their size, larger ones
    /// first, newer first when growing and older first when shrinking.
    pub(super) async fn scale(
        &mut self,
        replica_sets: &mut ReplicaSets,
    ) -> Result<(), DeploymentError> {
        let desired = fenceposts::desired_replicas(&self.deployment);
        if let Some(slot) = replica_sets.active_or_latest() {
            if let Some(replica_set) = replica_sets.get_mut(slot) {
                self.scale_replica_set_and_record_event(replica_set, desired)
                    .await?;
            }
            return Ok(());
        }
        if is_saturated(&self.deployment, replica_sets.new.as_ref()) {
            for old in replica_sets.old.iter_mut().filter(|old| old.replicas() > 0) {
                self.scale_replica_set_and_record_event(old, 0).await?;
            }
            return Ok(());
        }
        if !fenceposts::is_rolling_update(&self.deployment) {
            return Ok(());
        }
        let mut active = replica_sets.active_slots();
        let total: i32 = active
            .iter()
            .filter_map(|slot| replica_sets.get(*slot))
            .map(TrackedReplicaSet::replicas)
            .sum();
        let allowed = if desired > 0 {
            desired + fenceposts::max_surge(&self.deployment)
        } else {
            0
        };
        let to_add = allowed - total;
        let size_then_age = |first: &Slot, second: &Slot, newer_first: bool| {
            let (Some(first), Some(second)) = (replica_sets.get(*first), replica_sets.get(*second))
            else {
                return Ordering::Equal;
            };
            second.replicas().cmp(&first.replicas()).then_with(|| {
                if newer_first {
                    by_creation(second, first)
                } else {
                    by_creation(first, second)
                }
            })
        };
        let operation = match to_add.cmp(&0) {
            Ordering::Greater => {
                active.sort_by(|first, second| size_then_age(first, second, true));
                "up"
            }
            Ordering::Less => {
                active.sort_by(|first, second| size_then_age(first, second, false));
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(active.len());
        for slot in &active {
            let Some(replica_set) = replica_sets.get(*slot) else {
                continue;
            };
            let share = proportion(replica_set, &self.deployment, to_add, added);
            sizes.push(replica_set.replicas() + share);
            added += share;
        }
        for (index, (slot, mut size)) in active.into_iter().zip(sizes).enumerate() {
            if index == 0 && to_add != 0 {
                // What rounding left over goes to the largest.
                size = (size + to_add - added).max(0);
            }
            if let Some(replica_set) = replica_sets.get_mut(slot) {
                self.scale_replica_set(replica_set, size, operation).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use serde_json::json;

    use super::super::replica_sets::PodCounts;
    use super::*;

    fn deployment(replicas: i32, surge: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 1}},
            },
        }))
        .expect("a deployment")
    }

    fn tracked(replicas: i32, active: i32, max_replicas: Option<i32>) -> TrackedReplicaSet {
        let annotations = max_replicas.map_or(
            json!({}),
            |maximum| json!({revision::MAX_REPLICAS_ANNOTATION: maximum.to_string()}),
        );
        let object: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "web-x", "annotations": annotations},
            "spec": {"replicas": replicas, "selector": {}},
        }))
        .expect("a replica set");
        TrackedReplicaSet {
            object,
            pods: PodCounts {
                active,
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge_counting_pods_still_going_away() {
        let deployment = deployment(10, 3);
        let replicas = |old: &TrackedReplicaSet, new: &TrackedReplicaSet| {
            new_replica_set_replicas(&deployment, &[old, new], new.replicas()).expect("replicas")
        };
        assert_eq!(replicas(&tracked(8, 8, None), &tracked(2, 0, None)), 5);
        // The old ReplicaSet was scaled to 6 but still has 8 pods: only one more fits.
        assert_eq!(replicas(&tracked(6, 8, None), &tracked(4, 4, None)), 5);
        // Never more than replicas.
        assert_eq!(replicas(&tracked(0, 0, None), &tracked(9, 9, None)), 10);
    }

    #[test]
    fn fractions_keep_each_replica_set_s_share() {
        // Scaled from 10 (+3 surge) to 20 (+3): a ReplicaSet with 4 of the 13 gets 4 more
        // of 23, rounded: 4 * 23 / 13 = 7.08 → 7.
        let doubled = deployment(20, 3);
        assert_eq!(fraction(&tracked(4, 4, Some(13)), &doubled), 3);
        assert_eq!(proportion(&tracked(4, 4, Some(13)), &doubled, 10, 9), 1);
        // Scaling to zero takes everything away.
        assert_eq!(fraction(&tracked(4, 4, Some(13)), &deployment(0, 3)), -4);
    }
}
