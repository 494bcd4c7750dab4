//! `manageJob`: as many active pods as the Job wants, no more — min(parallelism, remaining
//! completions) — created in slow-start batches after the failure back-off, and the
//! excess (or, when suspended, all) deleted.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::indexes::{
    COMPLETION_INDEX_ANNOTATION, add_completion_index_env, completion_index, first_pending_indexes,
    pod_generate_name_with_index,
};
use super::sync::{SyncState, completions, is_suspended};
use super::{
    Context, JOB_TRACKING_FINALIZER, is_indexed, is_pod_failed, is_pod_terminating,
    only_replace_failed_pods, pod_control,
};
use crate::pods::{pod_phase, pod_ready_since};

/// Creations start with one pod and double per successful batch, so a Job whose pods
/// cannot be created (quota, admission) fails fast without flooding the API server.
const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// At most this many pods are created or deleted in one sync (`MaxPodCreateDeletePerSync`).
const MAXIMUM_POD_CREATE_DELETE_PER_SYNC: usize = 500;

pub struct ManageOutcome {
    pub requeue_after: Option<Duration>,
    pub error: Option<kube::Error>,
}

pub async fn manage_job(
    context: &Context,
    state: &mut SyncState,
    active_pods: &[&Pod],
) -> ManageOutcome {
    let job = &state.job;
    let spec = job.spec.clone().unwrap_or_default();
    let active = state.counters.active;
    if is_suspended(job) {
        let to_delete = active_pods_for_removal(job, active_pods, active_pods.len());
        let (deleted, deleted_ready, error) =
            pod_control::delete_pods(context, job, &to_delete, true).await;
        state.counters.active -= deleted;
        state.counters.terminating += deleted;
        state.counters.ready -= deleted_ready;
        return ManageOutcome {
            requeue_after: None,
            error,
        };
    }
    let parallelism = spec.parallelism.unwrap_or(1);
    let want_active = match completions(job) {
        // Without completions the Job is done once any pod succeeds: nothing new starts
        // after that, and what runs is left to finish.
        None if state.succeeded > 0 => active,
        None => parallelism,
        Some(completions) => (completions - state.succeeded).clamp(0, parallelism.max(0)),
    };
    let remove_at_least = usize::try_from(active - want_active).unwrap_or(0);
    let mut to_delete = active_pods_for_removal(job, active_pods, remove_at_least);
    to_delete.truncate(MAXIMUM_POD_CREATE_DELETE_PER_SYNC);
    if !to_delete.is_empty() {
        // Deleting and creating in one sync could fight over an index; deletion goes first.
        let (deleted, deleted_ready, error) =
            pod_control::delete_pods(context, job, &to_delete, true).await;
        state.counters.active -= deleted;
        state.counters.terminating += deleted;
        state.counters.ready -= deleted_ready;
        return ManageOutcome {
            requeue_after: None,
            error,
        };
    }
    let terminating = if only_replace_failed_pods(job) {
        state.counters.terminating
    } else {
        0
    };
    let missing = want_active - terminating - active;
    if missing <= 0 {
        return ManageOutcome {
            requeue_after: None,
            error: None,
        };
    }
    let remaining_backoff = failure_backoff_remaining(context, state);
    if !remaining_backoff.is_zero() {
        return ManageOutcome {
            requeue_after: Some(remaining_backoff),
            error: None,
        };
    }
    let missing = usize::try_from(missing)
        .unwrap_or(0)
        .min(MAXIMUM_POD_CREATE_DELETE_PER_SYNC);
    let (created, error) = create_pods(context, state, active_pods, missing).await;
    state.counters.active += created;
    ManageOutcome {
        requeue_after: None,
        error,
    }
}

fn failure_backoff_remaining(context: &Context, state: &SyncState) -> Duration {
    let succeeded: Vec<&Pod> = state
        .pods
        .iter()
        .filter(|pod| pod_phase(pod) == Some("Succeeded"))
        .collect();
    let failed: Vec<&Pod> = state
        .pods
        .iter()
        .filter(|pod| is_pod_failed(pod, &state.job))
        .collect();
    context
        .settings
        .pod_failure_backoff
        .remaining(&succeeded, &failed, state.now)
}

/// Creates up to `count` pods (for Indexed Jobs, one per pending index) in batches of
/// 1, 2, 4 …, stopping after a batch with a failure. Returns how many were created.
async fn create_pods(
    context: &Context,
    state: &SyncState,
    active_pods: &[&Pod],
    count: usize,
) -> (i32, Option<kube::Error>) {
    let job = &state.job;
    let mut template = job
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default();
    let indexed = is_indexed(job);
    if indexed && let Some(spec) = template.spec.as_mut() {
        add_completion_index_env(spec);
    }
    let metadata = template.metadata.get_or_insert_with(Default::default);
    let finalizers = metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(JOB_TRACKING_FINALIZER.to_owned());
    }
    let mut pending: Vec<Option<i32>> = if indexed {
        let mut busy: BTreeSet<i32> = active_pods
            .iter()
            .filter_map(|p| completion_index(p))
            .collect();
        if only_replace_failed_pods(job) {
            busy.extend(
                state
                    .pods
                    .iter()
                    .filter(|pod| is_pod_terminating(pod))
                    .filter_map(completion_index),
            );
        }
        first_pending_indexes(
            &state.succeeded_indexes,
            &busy,
            count,
            completions(job).unwrap_or(0),
        )
        .into_iter()
        .map(Some)
        .collect()
    } else {
        vec![None; count]
    };
    let job_name = job.name_any();
    let mut created = 0;
    let mut batch_size = SLOW_START_INITIAL_BATCH_SIZE;
    while !pending.is_empty() {
        let batch: Vec<Option<i32>> = pending.drain(..batch_size.min(pending.len())).collect();
        let creations = batch.iter().map(|index| {
            let mut template = template.clone();
            let generate_name = match index {
                Some(index) => {
                    let metadata = template.metadata.get_or_insert_with(Default::default);
                    let value = index.to_string();
                    metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .insert(COMPLETION_INDEX_ANNOTATION.to_owned(), value.clone());
                    metadata
                        .labels
                        .get_or_insert_with(Default::default)
                        .insert(COMPLETION_INDEX_ANNOTATION.to_owned(), value);
                    if let Some(spec) = template.spec.as_mut() {
                        spec.hostname = Some(format!("{job_name}-{index}"));
                    }
                    pod_generate_name_with_index(&job_name, *index)
                }
                None => format!("{job_name}-"),
            };
            async move { pod_control::create_pod(context, job, &template, &generate_name).await }
        });
        let results = futures::future::join_all(creations).await;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(_) => created += 1,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if first_error.is_some() {
            // The pods not tried yet are created by a later sync.
            return (created, first_error);
        }
        batch_size = batch_size.saturating_mul(2);
    }
    (created, None)
}

/// The active pods to delete: for Indexed Jobs every pod with a missing, out-of-range or
/// repeated index, and then the least advanced pods until `remove_at_least` are chosen
/// (`activePodsForRemoval`).
fn active_pods_for_removal<'a>(
    job: &Job,
    pods: &[&'a Pod],
    remove_at_least: usize,
) -> Vec<&'a Pod> {
    let mut remove: Vec<&Pod> = Vec::new();
    let mut keep: Vec<&Pod> = Vec::new();
    if is_indexed(job) {
        let completions = completions(job).unwrap_or(0);
        let mut by_index: Vec<&Pod> = pods.to_vec();
        by_index.sort_by_key(|pod| completion_index(pod));
        let mut kept_indexes: Vec<(i32, &Pod)> = Vec::new();
        for pod in by_index {
            match completion_index(pod).filter(|index| *index < completions) {
                None => remove.push(pod),
                Some(index) => match kept_indexes.last_mut() {
                    Some((kept_index, kept)) if *kept_index == index => {
                        // Of two pods with one index the more advanced stays.
                        if removal_order(pod) > removal_order(kept) {
                            remove.push(kept);
                            *kept = pod;
                        } else {
                            remove.push(pod);
                        }
                    }
                    _ => kept_indexes.push((index, pod)),
                },
            }
        }
        keep = kept_indexes.into_iter().map(|(_, pod)| pod).collect();
    } else {
        keep.extend(pods.iter().copied());
    }
    if remove.len() < remove_at_least {
        keep.sort_by_key(|pod| removal_order(pod));
        let more = (remove_at_least - remove.len()).min(keep.len());
        remove.extend(keep.into_iter().take(more));
    }
    remove
}

/// The order in which active pods are given up (`controller.ActivePods`): unscheduled
/// before scheduled, pending before running, not ready before ready, ready for less time
/// before ready for longer, more restarts before fewer, newer before older.
fn removal_order(pod: &Pod) -> impl Ord {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .is_some_and(|node| !node.is_empty());
    let phase_rank = match pod_phase(pod) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    };
    let ready_since = pod_ready_since(pod);
    let restarts: i32 = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .map(|statuses| statuses.iter().map(|status| status.restart_count).sum())
        .unwrap_or(0);
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|Time(time)| *time);
    (
        scheduled,
        phase_rank,
        ready_since.is_some(),
        ready_since.map(Reverse),
        Reverse(restarts),
        Reverse(created),
    )
}
