//! Counting finished pods through their finalizers (`trackJobStatusAndRemoveFinalizers`):
//! finished pods' uids go into `status.uncountedTerminatedPods` and are written, their
//! finalizers are removed, and the uids whose finalizer is gone move into the counters;
//! then the terminal condition is set once nothing is left uncounted or terminating.

use std::collections::HashSet;

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::conditions::{self, COMPLETE, FAILURE_TARGET, SUCCESS_CRITERIA_MET};
use super::indexes::{completion_index, valid_completion_index};
use super::sync::{SyncState, completions, status_mut};
use super::{Context, JobError, has_tracking_finalizer, is_indexed, is_pod_failed, pod_control};
use crate::events::EventType;
use crate::pods::pod_phase;

/// At most this many uids wait in `uncountedTerminatedPods`, keeping the status small
/// (`MaxUncountedPods`); the rest are counted by the next sync.
const MAXIMUM_UNCOUNTED_PODS: usize = 500;

pub async fn track_job_status_and_remove_finalizers(
    context: &Context,
    mut state: SyncState,
    mut needs_flush: bool,
) -> Result<(), JobError> {
    let indexed = is_indexed(&state.job);
    let completions = completions(&state.job).unwrap_or(0);
    if indexed {
        state.pods.sort_by_key(completion_index);
    }
    let mut uids_with_finalizer: HashSet<String> = state
        .pods
        .iter()
        .filter(|pod| has_tracking_finalizer(pod))
        .filter_map(ResourceExt::uid)
        .collect();
    if count_uncounted_pods_without_finalizers(&mut state.job, &uids_with_finalizer) {
        needs_flush = true;
    }
    let mut pods_to_remove_finalizer: Vec<&Pod> = Vec::new();
    let mut new_succeeded_indexes: Vec<i32> = Vec::new();
    let mut reached_maximum_uncounted = false;
    let mut uncounted = status_mut(&mut state.job)
        .uncounted_terminated_pods
        .take()
        .unwrap_or_default();
    let failure_finishes_job = state
        .finished_condition
        .as_ref()
        .is_some_and(|condition| condition.type_ != SUCCESS_CRITERIA_MET);
    for pod in &state.pods {
        if !has_tracking_finalizer(pod) {
            continue;
        }
        let uid = pod.uid().unwrap_or_default();
        let considered_failed = is_pod_failed(pod, &state.job);
        let can_remove_finalizer = state.job.metadata.deletion_timestamp.is_some()
            || state.finished_condition.is_some()
            || pod_phase(pod) == Some("Succeeded")
            || considered_failed;
        if !can_remove_finalizer {
            continue;
        }
        pods_to_remove_finalizer.push(pod);
        if pod_phase(pod) == Some("Succeeded") && !state.uncounted_failed.contains(&uid) {
            if indexed {
                if let Some(index) = valid_completion_index(pod, completions)
                    && !state.previous_succeeded_indexes.has(index)
                {
                    new_succeeded_indexes.push(index);
                    needs_flush = true;
                }
            } else if !state.uncounted_succeeded.contains(&uid) {
                uncounted.succeeded.get_or_insert_with(Vec::new).push(uid);
                needs_flush = true;
            }
        } else if considered_failed || failure_finishes_job {
            // Once the Job has failed, every pod it did not see succeed counts as failed.
            let countable = !indexed || valid_completion_index(pod, completions).is_some();
            if !state.uncounted_failed.contains(&uid) && countable {
                uncounted.failed.get_or_insert_with(Vec::new).push(uid);
                needs_flush = true;
            }
        }
        let waiting = new_succeeded_indexes.len()
            + uncounted.succeeded.as_ref().map_or(0, Vec::len)
            + uncounted.failed.as_ref().map_or(0, Vec::len);
        if waiting >= MAXIMUM_UNCOUNTED_PODS {
            reached_maximum_uncounted = true;
            break;
        }
    }
    let status = status_mut(&mut state.job);
    status.uncounted_terminated_pods = Some(uncounted);
    if indexed {
        state.succeeded_indexes = state
            .succeeded_indexes
            .with_ordered_indexes(new_succeeded_indexes);
        let completed_indexes = state.succeeded_indexes.to_string();
        if status.completed_indexes.as_deref().unwrap_or_default() != completed_indexes {
            needs_flush = true;
        }
        status.succeeded = Some(state.succeeded_indexes.total());
        status.completed_indexes = Some(completed_indexes);
    }
    if let Some(interim) = state.finished_condition.take() {
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let already_recorded = conditions
            .iter()
            .any(|condition| condition.type_ == interim.type_ && condition.status == "True");
        let is_interim = interim.type_ == FAILURE_TARGET || interim.type_ == SUCCESS_CRITERIA_MET;
        if is_interim && !already_recorded {
            conditions.push(interim.clone());
            needs_flush = true;
        }
        state.finished_condition = Some(if is_interim {
            conditions::terminal_condition_after(&interim, state.now)
        } else {
            interim
        });
    }

    let pods_to_remove_finalizer: Vec<Pod> =
        pods_to_remove_finalizer.into_iter().cloned().collect();
    let jobs: Api<Job> = Api::namespaced(
        context.client.clone(),
        &state.job.namespace().unwrap_or_default(),
    );
    if needs_flush {
        state.job = write_status(&jobs, &state.job).await?;
        needs_flush = false;
    }
    let removal = remove_finalizers(context, &state.job, &pods_to_remove_finalizer).await;
    for uid in &removal.removed {
        uids_with_finalizer.remove(uid);
    }
    if count_uncounted_pods_without_finalizers(&mut state.job, &uids_with_finalizer) {
        needs_flush = true;
    }
    if let Some(error) = removal.error {
        if needs_flush {
            write_status(&jobs, &state.job).await?;
        }
        return Err(error.into());
    }
    let finished = !reached_maximum_uncounted && enact_job_finished(&mut state);
    if finished || needs_flush {
        state.job = write_status(&jobs, &state.job).await?;
    }
    if finished && let Some(condition) = &state.finished_condition {
        record_job_finished(context, &state.job, condition).await;
    }
    Ok(())
}

/// A whole-status PUT with the resourceVersion read: a concurrent writer makes it fail
/// with 409 Conflict and the sync is retried on the newer Job.
async fn write_status(jobs: &Api<Job>, job: &Job) -> Result<Job, kube::Error> {
    jobs.replace_status(&job.name_any(), &PostParams::default(), job)
        .await
}

struct FinalizerRemoval {
    removed: Vec<String>,
    error: Option<kube::Error>,
}

async fn remove_finalizers(context: &Context, job: &Job, pods: &[Pod]) -> FinalizerRemoval {
    let api = pod_control::pod_api(context, job);
    let results = futures::future::join_all(
        pods.iter()
            .map(|pod| pod_control::remove_tracking_finalizer(&api, pod)),
    )
    .await;
    let mut removal = FinalizerRemoval {
        removed: Vec::new(),
        error: None,
    };
    for (pod, result) in pods.iter().zip(results) {
        match result {
            Ok(()) => removal.removed.push(pod.uid().unwrap_or_default()),
            Err(error) => {
                removal.error.get_or_insert(error);
            }
        }
    }
    removal
}

/// Moves the uncounted uids whose pods no longer carry the finalizer (or are gone) into
/// the counters (`cleanUncountedPodsWithoutFinalizers`). Returns whether it changed.
fn count_uncounted_pods_without_finalizers(
    job: &mut Job,
    uids_with_finalizer: &HashSet<String>,
) -> bool {
    let status = status_mut(job);
    let Some(uncounted) = status.uncounted_terminated_pods.as_mut() else {
        return false;
    };
    let mut changed = false;
    for (list, counter) in [
        (&mut uncounted.succeeded, &mut status.succeeded),
        (&mut uncounted.failed, &mut status.failed),
    ] {
        let Some(uids) = list.as_mut() else { continue };
        let before = uids.len();
        uids.retain(|uid| uids_with_finalizer.contains(uid));
        let counted = i32::try_from(before - uids.len()).unwrap_or(i32::MAX);
        if counted > 0 {
            *counter = Some(counter.unwrap_or(0).saturating_add(counted));
            changed = true;
        }
    }
    changed
}

/// Sets the terminal condition (and completionTime) once every finished pod is counted
/// and none is terminating (`enactJobFinished`).
fn enact_job_finished(state: &mut SyncState) -> bool {
    let Some(condition) = state.finished_condition.clone() else {
        return false;
    };
    let status = status_mut(&mut state.job);
    let uncounted = status
        .uncounted_terminated_pods
        .as_ref()
        .map_or(0, |uncounted| {
            uncounted.succeeded.as_ref().map_or(0, Vec::len)
                + uncounted.failed.as_ref().map_or(0, Vec::len)
        });
    if uncounted > 0 || state.counters.terminating > 0 {
        return false;
    }
    if condition.type_ == COMPLETE {
        status.completion_time = condition.last_transition_time.clone();
    }
    conditions::ensure_condition_status(status.conditions.get_or_insert_with(Vec::new), condition);
    true
}

async fn record_job_finished(context: &Context, job: &Job, condition: &JobCondition) {
    if condition.type_ == COMPLETE {
        let succeeded = job.status.as_ref().and_then(|status| status.succeeded);
        if let (Some(completions), Some(succeeded)) = (completions(job), succeeded)
            && succeeded > completions
        {
            context
                .recorder
                .publish(
                    job,
                    EventType::Warning,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
                .await;
        }
        context
            .recorder
            .publish(job, EventType::Normal, "Completed", "Job completed")
            .await;
    } else {
        context
            .recorder
            .publish(
                job,
                EventType::Warning,
                condition.reason.as_deref().unwrap_or_default(),
                condition.message.clone().unwrap_or_default(),
            )
            .await;
    }
}
