//! One sync of a Job (`syncJob`): count its pods, decide whether it failed (back-off limit,
//! active deadline) or met its completions, manage its pods otherwise, and hand the new
//! status to `tracking`.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::conditions::{
    self, FAILURE_TARGET, MESSAGE_BACKOFF_LIMIT_EXCEEDED, MESSAGE_COMPLETIONS_REACHED,
    MESSAGE_DEADLINE_EXCEEDED, REASON_BACKOFF_LIMIT_EXCEEDED, REASON_COMPLETIONS_REACHED,
    REASON_DEADLINE_EXCEEDED, SUCCESS_CRITERIA_MET, SUSPENDED,
};
use super::indexes::{OrderedIntervals, valid_completion_index};
use super::{
    Context, JobError, has_tracking_finalizer, is_indexed, is_pod_failed, is_pod_terminating,
};
use super::{manage, pod_control, tracking};
use crate::events::EventType;
use crate::pods::{is_pod_active, is_pod_ready, pod_phase};

/// The pod counts a sync works with and reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub active: i32,
    pub ready: i32,
    pub terminating: i32,
}

/// Everything one sync knows about the Job, as `syncJobCtx` holds it.
pub struct SyncState {
    pub job: Job,
    pub pods: Vec<Pod>,
    /// The terminal (or interim) condition the Job reached in this sync, if any.
    pub finished_condition: Option<JobCondition>,
    pub previous_succeeded_indexes: OrderedIntervals,
    pub succeeded_indexes: OrderedIntervals,
    /// `status.uncountedTerminatedPods` as the sync found it.
    pub uncounted_succeeded: HashSet<String>,
    pub uncounted_failed: HashSet<String>,
    pub succeeded: i32,
    pub failed: i32,
    pub counters: Counters,
    pub now: Timestamp,
}

pub fn status_mut(job: &mut Job) -> &mut JobStatus {
    job.status.get_or_insert_with(JobStatus::default)
}

pub fn completions(job: &Job) -> Option<i32> {
    job.spec.as_ref().and_then(|spec| spec.completions)
}

pub fn is_suspended(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|spec| spec.suspend)
        .unwrap_or(false)
}

fn uids(list: Option<&Vec<String>>) -> HashSet<String> {
    list.into_iter().flatten().cloned().collect()
}

/// Returns when to sync the Job again (back-off or active deadline), if before a change.
pub async fn sync_job(
    context: &Context,
    mut job: Job,
    pods: Vec<Pod>,
) -> Result<Option<Duration>, JobError> {
    let now = Timestamp::now();
    let status = status_mut(&mut job);
    let uncounted = status
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    let uncounted_succeeded = uids(uncounted.succeeded.as_ref());
    let uncounted_failed = uids(uncounted.failed.as_ref());
    let counted_succeeded = status.succeeded.unwrap_or(0);
    let counted_failed = status.failed.unwrap_or(0);
    let mut state = SyncState {
        job,
        pods,
        finished_condition: None,
        previous_succeeded_indexes: OrderedIntervals::default(),
        succeeded_indexes: OrderedIntervals::default(),
        uncounted_succeeded,
        uncounted_failed,
        succeeded: 0,
        failed: 0,
        counters: Counters::default(),
        now,
    };
    let (new_succeeded, new_failed) = new_finished_pod_counts(&state);
    // The counters come from the stored status, which anyone may write: no overflow.
    state.succeeded = counted_succeeded
        .saturating_add(new_succeeded)
        .saturating_add(len(&state.uncounted_succeeded));
    state.failed = counted_failed
        .saturating_add(new_failed)
        .saturating_add(len(&state.uncounted_failed));
    let active_pods: Vec<Pod> = state
        .pods
        .iter()
        .filter(|pod| is_pod_active(pod))
        .cloned()
        .collect();
    state.counters = Counters {
        active: len(&active_pods),
        ready: len_where(&active_pods, is_pod_ready),
        terminating: len_where(&state.pods, is_pod_terminating),
    };
    if state
        .job
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none()
        && !is_suspended(&state.job)
    {
        status_mut(&mut state.job).start_time = Some(Time(now));
    }

    let mut requeue_after = decide_failure(&mut state);
    if is_indexed(&state.job) {
        count_succeeded_indexes(&mut state);
    }
    let mut manage_error = None;
    let mut suspend_condition_changed = false;
    let active_refs: Vec<&Pod> = active_pods.iter().collect();
    if state.finished_condition.is_some() {
        let (deleted, deleted_ready, error) =
            pod_control::delete_pods(context, &state.job, &active_refs, false).await;
        if deleted != state.counters.active {
            // Pods that are still active must be deleted before the Job can finish.
            state.finished_condition = None;
        }
        state.counters.active -= deleted;
        state.counters.terminating += deleted;
        state.counters.ready -= deleted_ready;
        manage_error = error;
    } else {
        let manage_called = state.job.metadata.deletion_timestamp.is_none();
        if manage_called {
            let outcome = manage::manage_job(context, &mut state, &active_refs).await;
            requeue_after = earliest(requeue_after, outcome.requeue_after);
            manage_error = outcome.error;
        }
        let complete = match completions(&state.job) {
            None => state.succeeded > 0 && state.counters.active == 0,
            Some(completions) => state.succeeded >= completions && state.counters.active == 0,
        };
        if complete {
            state.finished_condition = Some(conditions::new_condition(
                SUCCESS_CRITERIA_MET,
                "True",
                REASON_COMPLETIONS_REACHED,
                MESSAGE_COMPLETIONS_REACHED,
                now,
            ));
        } else if manage_called {
            suspend_condition_changed = update_suspended_condition(context, &mut state).await;
        }
    }

    let status = status_mut(&mut state.job);
    let needs_status_update = suspend_condition_changed
        || status.active.unwrap_or(0) != state.counters.active
        || status.ready != Some(state.counters.ready)
        || status.terminating != Some(state.counters.terminating);
    status.active = Some(state.counters.active);
    status.ready = Some(state.counters.ready);
    status.terminating = Some(state.counters.terminating);
    tracking::track_job_status_and_remove_finalizers(context, state, needs_status_update).await?;
    match manage_error {
        Some(error) => Err(error.into()),
        None => Ok(requeue_after),
    }
}

fn len<T>(items: impl IntoIterator<Item = T>) -> i32 {
    i32::try_from(items.into_iter().count()).unwrap_or(i32::MAX)
}

fn len_where(pods: &[Pod], predicate: impl Fn(&Pod) -> bool) -> i32 {
    len(pods.iter().filter(|pod| predicate(pod)))
}

fn earliest(first: Option<Duration>, second: Option<Duration>) -> Option<Duration> {
    match (first, second) {
        (Some(first), Some(second)) => Some(first.min(second)),
        (first, second) => first.or(second),
    }
}

/// The finished pods not yet counted in the status (`getNewFinishedPods`): they still
/// carry the finalizer, are not in the uncounted lists, and for Indexed Jobs have an
/// index the Job asks for.
fn new_finished_pod_counts(state: &SyncState) -> (i32, i32) {
    let completions = completions(&state.job).unwrap_or(0);
    let indexed = is_indexed(&state.job);
    let countable = |pod: &&Pod| {
        has_tracking_finalizer(pod)
            && (!indexed || valid_completion_index(pod, completions).is_some())
    };
    let succeeded = state
        .pods
        .iter()
        .filter(countable)
        .filter(|pod| pod_phase(pod) == Some("Succeeded"))
        .filter(|pod| {
            !state
                .uncounted_succeeded
                .contains(&pod.uid().unwrap_or_default())
        });
    let failed = state
        .pods
        .iter()
        .filter(countable)
        .filter(|pod| is_pod_failed(pod, &state.job))
        .filter(|pod| {
            !state
                .uncounted_failed
                .contains(&pod.uid().unwrap_or_default())
        });
    (len(succeeded), len(failed))
}

/// Sets the interim failure condition when the back-off limit or the active deadline is
/// passed; otherwise returns when the active deadline will pass.
fn decide_failure(state: &mut SyncState) -> Option<Duration> {
    let job = &state.job;
    if let Some(met) = conditions::find_condition(job, SUCCESS_CRITERIA_MET)
        .filter(|condition| condition.status == "True")
    {
        state.finished_condition = Some(met.clone());
        return None;
    }
    if let Some(target) = conditions::find_condition(job, FAILURE_TARGET)
        .filter(|condition| condition.status == "True")
    {
        state.finished_condition = Some(conditions::terminal_condition_after(target, state.now));
        return None;
    }
    let spec = job.spec.as_ref();
    let backoff_limit = spec.and_then(|spec| spec.backoff_limit).unwrap_or(6);
    let failure = |reason: &str, message: &str| {
        Some(conditions::new_condition(
            FAILURE_TARGET,
            "True",
            reason,
            message,
            state.now,
        ))
    };
    if state.failed > backoff_limit
        || past_backoff_limit_on_failure(job, &state.pods, backoff_limit)
    {
        state.finished_condition = failure(
            REASON_BACKOFF_LIMIT_EXCEEDED,
            MESSAGE_BACKOFF_LIMIT_EXCEEDED,
        );
        return None;
    }
    let deadline = active_deadline(job)?;
    if deadline <= state.now {
        state.finished_condition = failure(REASON_DEADLINE_EXCEEDED, MESSAGE_DEADLINE_EXCEEDED);
        return None;
    }
    Duration::try_from(deadline.duration_since(state.now)).ok()
}

/// When the Job's active deadline passes, if it has one and is not suspended.
fn active_deadline(job: &Job) -> Option<Timestamp> {
    let seconds = job.spec.as_ref()?.active_deadline_seconds?;
    if is_suspended(job) {
        return None;
    }
    let started = job.status.as_ref()?.start_time.as_ref()?.0;
    // A deadline beyond the representable future is no deadline.
    started.checked_add(SignedDuration::from_secs(seconds)).ok()
}

/// With `restartPolicy: OnFailure` a failing container restarts in place, so its restarts
/// count towards the back-off limit (`pastBackoffLimitOnFailure`).
fn past_backoff_limit_on_failure(job: &Job, pods: &[Pod], backoff_limit: i32) -> bool {
    let restart_policy = job
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|spec| spec.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|pod| matches!(pod_phase(pod), Some("Running" | "Pending")))
        .filter_map(|pod| pod.status.as_ref())
        .flat_map(|status| {
            status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten())
        })
        .map(|container| container.restart_count)
        .sum();
    if backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= backoff_limit
    }
}

/// `calculateSucceededIndexes`: the indexes in the status plus those of succeeded pods not
/// counted yet; the Job's succeeded count is their number.
fn count_succeeded_indexes(state: &mut SyncState) {
    let completions = completions(&state.job).unwrap_or(0);
    let recorded = state
        .job
        .status
        .as_ref()
        .and_then(|status| status.completed_indexes.as_deref())
        .unwrap_or_default();
    state.previous_succeeded_indexes = OrderedIntervals::parse(recorded, completions);
    let new_indexes: BTreeSet<i32> = state
        .pods
        .iter()
        .filter(|pod| pod_phase(pod) == Some("Succeeded") && has_tracking_finalizer(pod))
        .filter_map(|pod| valid_completion_index(pod, completions))
        .collect();
    state.succeeded_indexes = state
        .previous_succeeded_indexes
        .with_ordered_indexes(new_indexes);
    state.succeeded = state.succeeded_indexes.total();
}

/// Keeps the Suspended condition in step with `spec.suspend`, with the Suspended and
/// Resumed events; a resumed Job's start time restarts its active deadline.
async fn update_suspended_condition(context: &Context, state: &mut SyncState) -> bool {
    let suspended = is_suspended(&state.job);
    let (status, reason, message, event) = if suspended {
        ("True", "JobSuspended", "Job suspended", "Suspended")
    } else {
        ("False", "JobResumed", "Job resumed", "Resumed")
    };
    let condition = conditions::new_condition(SUSPENDED, status, reason, message, state.now);
    let job_status = status_mut(&mut state.job);
    let changed = conditions::ensure_condition_status(
        job_status.conditions.get_or_insert_with(Vec::new),
        condition,
    );
    if !changed {
        return false;
    }
    if !suspended {
        job_status.start_time = Some(Time(state.now));
    }
    context
        .recorder
        .publish(&state.job, EventType::Normal, event, message)
        .await;
    true
}
