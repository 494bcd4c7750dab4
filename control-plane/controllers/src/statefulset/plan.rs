//! The StatefulSet controller's decisions, apart from the API calls that carry them out:
//! Kubernetes' `updateStatefulSet` (without the MaxUnavailableStatefulSet alpha feature)
//! as a list of steps, and the status it reports.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;

use super::identity::{identity_matches, member_ordinal, pod_revision};
use crate::pods::{is_pod_available, is_pod_ready, pod_phase};

/// Which of the set's two revisions a new pod is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    Current,
    Update,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Create { ordinal: i32, revision: Revision },
    Delete { name: String },
    UpdateIdentity { name: String, ordinal: i32 },
}

/// The two revisions by name, the current one (what the pods were, `status.currentRevision`)
/// and the one the template asks for.
pub struct Revisions<'a> {
    pub current: &'a str,
    pub update: &'a str,
}

pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

/// `getStartOrdinal`: `spec.ordinals.start`, 0 without it.
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|spec| spec.ordinals.as_ref())
        .and_then(|ordinals| ordinals.start)
        .unwrap_or(0)
}

pub fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|spec| spec.min_ready_seconds)
        .unwrap_or(0)
}

fn update_strategy(set: &StatefulSet) -> (&str, Option<i32>) {
    let strategy = set
        .spec
        .as_ref()
        .and_then(|spec| spec.update_strategy.as_ref());
    let strategy_type = strategy
        .and_then(|strategy| strategy.type_.as_deref())
        .unwrap_or("RollingUpdate");
    let partition = strategy
        .and_then(|strategy| strategy.rolling_update.as_ref())
        .map(|rolling_update| rolling_update.partition.unwrap_or(0));
    (strategy_type, partition)
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn is_running_and_ready(pod: &Pod) -> bool {
    pod_phase(pod) == Some("Running") && is_pod_ready(pod)
}

/// `isUnavailable`: not available for `minReadySeconds`, or on its way out.
fn is_unavailable(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    !is_pod_available(pod, min_ready_seconds, now) || is_terminating(pod)
}

/// `newVersionedStatefulSetPod`'s choice: below the partition (or, without a rolling
/// update section, below the current replicas) a pod is re-created at the current
/// revision, elsewhere at the update revision. The Go condition's grouping is kept.
fn revision_for(set: &StatefulSet, ordinal: i32) -> Revision {
    let (strategy_type, partition) = update_strategy(set);
    let start = start_ordinal(set);
    let current_replicas = set
        .status
        .as_ref()
        .and_then(|status| status.current_replicas)
        .unwrap_or(0);
    let below_current = strategy_type == "RollingUpdate"
        && partition.is_none()
        && ordinal < start.saturating_add(current_replicas);
    let below_partition =
        partition.is_some_and(|partition| ordinal < start.saturating_add(partition));
    if below_current || below_partition {
        Revision::Current
    } else {
        Revision::Update
    }
}

/// One ordinal of the wanted range: its pod, or the ordinal still to be created.
enum Slot<'a> {
    Existing(&'a Pod),
    Missing(i32),
}

impl Slot<'_> {
    fn is_unavailable(&self, min_ready_seconds: i32, now: Timestamp) -> bool {
        match self {
            Slot::Existing(pod) => is_unavailable(pod, min_ready_seconds, now),
            Slot::Missing(_) => true,
        }
    }
}

/// `updateStatefulSet`: the steps Kubernetes would take now. In OrderedReady mode
/// (monotonic) they stop at the first pod created, deleted or not yet healthy; in
/// Parallel mode every ordinal is handled at once.
pub fn plan_update(
    set: &StatefulSet,
    members: &[Pod],
    revisions: &Revisions<'_>,
    now: Timestamp,
) -> Vec<Step> {
    let start = start_ordinal(set);
    let count = replicas(set).max(0);
    let end = start.saturating_add(count);
    let min_ready_seconds = min_ready_seconds(set);
    let mut slots: Vec<Slot<'_>> = (start..end).map(Slot::Missing).collect();
    let mut condemned: Vec<(i32, &Pod)> = Vec::new();
    for pod in members {
        let Some(ordinal) = member_ordinal(set, pod) else {
            continue;
        };
        if (start..end).contains(&ordinal) {
            if let Some(slot) = usize::try_from(ordinal - start)
                .ok()
                .and_then(|index| slots.get_mut(index))
            {
                *slot = Slot::Existing(pod);
            }
        } else {
            condemned.push((ordinal, pod));
        }
    }
    condemned.sort_by_key(|(ordinal, _)| std::cmp::Reverse(*ordinal));
    let first_unavailable_condemned = condemned
        .iter()
        .rev()
        .find(|(_, pod)| is_unavailable(pod, min_ready_seconds, now))
        .map(|(ordinal, _)| *ordinal);
    let first_unavailable_is_condemned = !slots
        .iter()
        .any(|slot| slot.is_unavailable(min_ready_seconds, now));
    let first_unavailable = first_unavailable_is_condemned
        .then_some(first_unavailable_condemned)
        .flatten();

    if set.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let monotonic = set
        .spec
        .as_ref()
        .and_then(|spec| spec.pod_management_policy.as_deref())
        != Some("Parallel");
    let mut steps = Vec::new();

    for slot in &slots {
        let pod = match slot {
            Slot::Missing(ordinal) => {
                steps.push(Step::Create {
                    ordinal: *ordinal,
                    revision: revision_for(set, *ordinal),
                });
                if monotonic {
                    return steps;
                }
                continue;
            }
            Slot::Existing(pod) => *pod,
        };
        // A finished pod (Failed, or Succeeded after an eviction or a node reboot) is
        // deleted; its replacement comes with the next look, once it is gone.
        if matches!(pod_phase(pod), Some("Failed" | "Succeeded")) {
            if !is_terminating(pod) {
                steps.push(Step::Delete {
                    name: pod.metadata.name.clone().unwrap_or_default(),
                });
            }
            if monotonic {
                return steps;
            }
            continue;
        }
        if monotonic
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_pod_available(pod, min_ready_seconds, now))
        {
            return steps;
        }
        if !identity_matches(set, pod)
            && let Some(ordinal) = member_ordinal(set, pod)
        {
            steps.push(Step::UpdateIdentity {
                name: pod.metadata.name.clone().unwrap_or_default(),
                ordinal,
            });
        }
    }

    for (ordinal, pod) in &condemned {
        if is_terminating(pod) {
            if monotonic {
                return steps;
            }
            continue;
        }
        let is_first_unavailable = first_unavailable == Some(*ordinal);
        if monotonic
            && !is_first_unavailable
            && (!is_running_and_ready(pod) || !is_pod_available(pod, min_ready_seconds, now))
        {
            return steps;
        }
        steps.push(Step::Delete {
            name: pod.metadata.name.clone().unwrap_or_default(),
        });
        if monotonic {
            return steps;
        }
    }

    let (strategy_type, partition) = update_strategy(set);
    if strategy_type == "OnDelete" {
        return steps;
    }
    let update_min = usize::try_from(partition.unwrap_or(0)).unwrap_or(0);
    for slot in slots.iter().skip(update_min).rev() {
        let Slot::Existing(pod) = slot else {
            // A pod created above at the update revision, not yet available.
            return steps;
        };
        if pod_revision(pod) != revisions.update && !is_terminating(pod) {
            steps.push(Step::Delete {
                name: pod.metadata.name.clone().unwrap_or_default(),
            });
            return steps;
        }
        if is_unavailable(pod, min_ready_seconds, now) {
            return steps;
        }
    }
    steps
}

/// `computeReplicaStatus` over the set's pods, then `completeRollingUpdate`: once every
/// pod is of the update revision and ready, the update revision becomes the current one.
pub fn compute_status(
    set: &StatefulSet,
    members: &[Pod],
    revisions: &Revisions<'_>,
    now: Timestamp,
) -> StatefulSetStatus {
    let min_ready_seconds = min_ready_seconds(set);
    let previous = set.status.clone().unwrap_or_default();
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(revisions.current.to_owned()),
        update_revision: Some(revisions.update.to_owned()),
        collision_count: Some(previous.collision_count.unwrap_or(0)),
        conditions: previous.conditions,
        ..Default::default()
    };
    let (mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0);
    for pod in members {
        if pod_phase(pod).is_some_and(|phase| !phase.is_empty()) {
            status.replicas += 1;
            if !is_terminating(pod) {
                if pod_revision(pod) == revisions.current {
                    current += 1;
                }
                if pod_revision(pod) == revisions.update {
                    updated += 1;
                }
            }
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_pod_available(pod, min_ready_seconds, now) {
                available += 1;
            }
        }
    }
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(current);
    status.updated_replicas = Some(updated);
    let (strategy_type, _) = update_strategy(set);
    if strategy_type == "RollingUpdate" && updated == status.replicas && ready == status.replicas {
        status.current_replicas = Some(updated);
        status.current_revision = status.update_revision.clone();
    }
    status
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
