//! The CronJob controller (kube-controller-manager's `cronjob-controller`, the v2 one):
//! creates a Job for each activation of a CronJob's schedule in its time zone, within its
//! starting deadline and concurrency policy, keeps `status.active`, `lastScheduleTime` and
//! `lastSuccessfulTime`, and deletes finished Jobs beyond the history limits.
//!
//! Jobs are named `<cronjob>-<minutes since the epoch of the scheduled time>`, so the name
//! itself prevents running one activation twice, whatever the controller forgot.
//!
//! The current time comes from a `Clock` in the controller's context: the system clock in
//! production, a clock the test advances in tests, so that a schedule can be followed
//! without waiting for real minutes.

mod active;
mod history;
mod schedule;
mod sync;
mod timing;

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::ControllerManagerOptions;
use crate::events::EventRecorder;
use crate::owners;
use crate::retry::RetryBackoff;

/// Where the CronJob controller reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Yields whenever the clock jumps rather than runs (a test clock being advanced), so
    /// that every CronJob is looked at again; the system clock never jumps.
    fn jumps(&self) -> BoxStream<'static, ()>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn jumps(&self) -> BoxStream<'static, ()> {
        futures::stream::pending().boxed()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CronJobError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("the CronJob has no namespace")]
    MissingNamespace,
    #[error("could not replace job {namespace}/{name}")]
    ReplaceFailed { namespace: String, name: String },
}

struct Context {
    client: Client,
    recorder: EventRecorder,
    retry: RetryBackoff,
    clock: Arc<dyn Clock>,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    run_with_clock(client, Arc::new(SystemClock)).await;
}

/// The CronJob controller reading the time from `clock`.
pub async fn run_with_clock(client: Client, clock: Arc<dyn Clock>) {
    let jumps = clock.jumps();
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: EventRecorder::new(client.clone(), "cronjob-controller"),
        retry: RetryBackoff::default(),
        clock,
    });
    Controller::new(
        Api::<CronJob>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Job>::all(client), watcher::Config::default())
    .reconcile_all_on(jumps)
    .run(reconcile, error_policy, context)
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "cronjob reconcile failed");
        }
    })
    .await;
}

async fn reconcile(cached: Arc<CronJob>, context: Arc<Context>) -> Result<Action, CronJobError> {
    let action = reconcile_cron_job(&cached, &context).await?;
    context.retry.succeeded(cached.as_ref());
    Ok(action)
}

fn error_policy(cron_job: Arc<CronJob>, error: &CronJobError, context: Arc<Context>) -> Action {
    tracing::warn!(%error, cronjob = %cron_job.name_any(), "syncing cronjob failed; retrying");
    context.retry.requeue_after_failure(cron_job.as_ref())
}

/// Reads the CronJob and its Jobs fresh, deletes finished Jobs beyond the history
/// limits, starts what is due, and writes the status once if anything changed.
async fn reconcile_cron_job(cached: &CronJob, context: &Context) -> Result<Action, CronJobError> {
    let namespace = cached.namespace().ok_or(CronJobError::MissingNamespace)?;
    let cron_jobs: Api<CronJob> = Api::namespaced(context.client.clone(), &namespace);
    let Some(mut cron_job) = cron_jobs.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let uid = cron_job.uid().unwrap_or_default();
    let jobs: Vec<Job> = Api::<Job>::namespaced(context.client.clone(), &namespace)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|job| owners::is_controlled_by(&job.metadata, &uid))
        .collect();
    let cleaned_up = history::clean_up_finished_jobs(context, &mut cron_job, &jobs).await;
    let outcome = sync::sync_cron_job(context, &mut cron_job, &jobs).await;
    if cleaned_up || outcome.update_status {
        cron_jobs
            .replace_status(&cron_job.name_any(), &PostParams::default(), &cron_job)
            .await?;
    }
    match (outcome.requeue_after, outcome.error) {
        (Some(delay), _) => Ok(Action::requeue(delay)),
        (None, Some(error)) => Err(error),
        (None, None) => Ok(Action::await_change()),
    }
}
