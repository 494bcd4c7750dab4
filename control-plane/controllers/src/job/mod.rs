//! The Job controller (kube-controller-manager's `job-controller`): runs a Job's pods to
//! the requested number of completions, within its parallelism, back-off limit and active
//! deadline, and reports it finished.
//!
//! Pods are counted the way Kubernetes counts them since finalizer tracking: every pod is
//! created with the `batch.kubernetes.io/job-tracking` finalizer; a finished pod's uid is
//! first written to `status.uncountedTerminatedPods`, then its finalizer is removed, then
//! the uid moves into the `succeeded` or `failed` counter. A crash between any two steps
//! neither loses nor double-counts a pod, and a finished pod that is deleted has already
//! been counted. Each reconcile reads the Job and its pods fresh from the API server, so
//! it never acts on a state older than its own last write.
//!
//! Alongside run the removal of the tracking finalizer from pods whose Job is gone
//! (`orphans`) and the deletion of finished Jobs after `ttlSecondsAfterFinished`
//! (`ttl_after_finished`).

mod backoff;
pub(crate) mod conditions;
mod indexes;
mod manage;
mod orphans;
mod pod_control;
mod sync;
mod tracking;
mod ttl_after_finished;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::owners::ClaimError;
use crate::pods::pod_phase;
use crate::retry::RetryBackoff;

pub use backoff::PodFailureBackoff;

/// The finalizer that keeps a Job's pod until the Job has counted it.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// The only `spec.managedBy` this controller manages; Jobs naming another controller are
/// left to it.
const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("claiming pods: {0}")]
    Claim(#[from] ClaimError),
    #[error("the Job has no namespace")]
    MissingNamespace,
}

/// What the Job controller can be told beyond the controller manager's options.
#[derive(Clone, Copy, Debug)]
pub struct JobSettings {
    /// The delay before replacing failed pods: 10 s after the first failure, doubling
    /// per further failure, at most 6 minutes, as the Kubernetes documentation states.
    pub pod_failure_backoff: PodFailureBackoff,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            pod_failure_backoff: PodFailureBackoff {
                base: Duration::from_secs(10),
                maximum: Duration::from_secs(360),
            },
        }
    }
}

struct Context {
    client: Client,
    recorder: EventRecorder,
    retry: RetryBackoff,
    settings: JobSettings,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    run_with_settings(client, JobSettings::default()).await;
}

/// The Job controller with its own settings (tests shorten the pod failure back-off),
/// together with the orphan finalizer cleanup and the TTL-after-finished controller.
pub async fn run_with_settings(client: Client, settings: JobSettings) {
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: EventRecorder::new(client.clone(), "job-controller"),
        retry: RetryBackoff::default(),
        settings,
    });
    let jobs = Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "job reconcile failed");
            }
        });
    tokio::join!(
        jobs,
        orphans::run(client.clone()),
        ttl_after_finished::run(client)
    );
}

async fn reconcile(cached: Arc<Job>, context: Arc<Context>) -> Result<Action, JobError> {
    let action = reconcile_job(&cached, &context).await?;
    context.retry.succeeded(cached.as_ref());
    Ok(action)
}

fn error_policy(job: Arc<Job>, error: &JobError, context: Arc<Context>) -> Action {
    tracing::warn!(%error, job = %job.name_any(), "syncing job failed; retrying");
    context.retry.requeue_after_failure(job.as_ref())
}

async fn reconcile_job(cached: &Job, context: &Context) -> Result<Action, JobError> {
    let namespace = cached.namespace().ok_or(JobError::MissingNamespace)?;
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let Some(job) = jobs.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    if conditions::is_finished(&job) || is_managed_elsewhere(&job) {
        return Ok(Action::await_change());
    }
    let mode = completion_mode(&job);
    if mode != "NonIndexed" && mode != "Indexed" {
        context
            .recorder
            .publish(
                &job,
                EventType::Warning,
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
            )
            .await;
        return Ok(Action::await_change());
    }
    let pods = pod_control::pods_for_job(context, &job).await?;
    let requeue_after = sync::sync_job(context, job, pods).await?;
    Ok(requeue_after.map_or_else(Action::await_change, Action::requeue))
}

fn is_managed_elsewhere(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|spec| spec.managed_by.as_deref())
        .is_some_and(|manager| manager != JOB_CONTROLLER_NAME)
}

fn completion_mode(job: &Job) -> &str {
    job.spec
        .as_ref()
        .and_then(|spec| spec.completion_mode.as_deref())
        .unwrap_or("NonIndexed")
}

fn is_indexed(job: &Job) -> bool {
    completion_mode(job) == "Indexed"
}

fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|finalizers| finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER))
}

/// Only failed pods are replaced (`podReplacementPolicy: Failed`); otherwise a pod that
/// is being deleted is replaced at once and counts as failed (`onlyReplaceFailedPods`).
fn only_replace_failed_pods(job: &Job) -> bool {
    job.spec.as_ref().is_some_and(|spec| {
        spec.pod_replacement_policy.as_deref() == Some("Failed")
            || spec.pod_failure_policy.is_some()
    })
}

/// `isPodFailed`: Failed, or being deleted before it succeeded (such a pod may never reach
/// a terminal phase) unless only failed pods are replaced.
fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    let phase = pod_phase(pod);
    if phase == Some("Failed") {
        return true;
    }
    !only_replace_failed_pods(job)
        && pod.metadata.deletion_timestamp.is_some()
        && phase != Some("Succeeded")
}

/// Being deleted and not yet finished (`IsPodTerminating`).
fn is_pod_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && !matches!(pod_phase(pod), Some("Succeeded" | "Failed"))
}
