//! The TTL-after-finished controller (kube-controller-manager's `ttlafterfinished`): a
//! finished Job with `ttlSecondsAfterFinished` is deleted that long after its Complete or
//! Failed condition was set; its pods go with it through the garbage collector.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use super::conditions::{finish_time, is_finished};
use crate::retry::RetryBackoff;

#[derive(Debug, thiserror::Error)]
pub enum TtlError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("unable to find the time when the Job {namespace}/{name} finished")]
    MissingFinishTime { namespace: String, name: String },
}

struct TtlContext {
    client: Client,
    retry: RetryBackoff,
}

pub async fn run(client: Client) {
    let context = Arc::new(TtlContext {
        client: client.clone(),
        retry: RetryBackoff::default(),
    });
    Controller::new(Api::<Job>::all(client), watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "ttl-after-finished reconcile failed");
            }
        })
        .await;
}

async fn reconcile(cached: Arc<Job>, context: Arc<TtlContext>) -> Result<Action, TtlError> {
    let action = clean_up(&cached, &context).await?;
    context.retry.succeeded(cached.as_ref());
    Ok(action)
}

async fn clean_up(cached: &Job, context: &TtlContext) -> Result<Action, TtlError> {
    match time_left(cached, Timestamp::now())? {
        None => return Ok(Action::await_change()),
        Some(left) if !left.is_zero() => return Ok(Action::requeue(left)),
        Some(_) => {}
    }
    // The cached Job says its time is up; the TTL may have been changed since, so the
    // decision is made again on the Job as the API server has it now.
    let namespace = cached.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let Some(fresh) = jobs.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    match time_left(&fresh, Timestamp::now())? {
        None => return Ok(Action::await_change()),
        Some(left) if !left.is_zero() => return Ok(Action::requeue(left)),
        Some(_) => {}
    }
    let delete = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: fresh.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    tracing::debug!(job = %fresh.name_any(), %namespace, "cleaning up a finished job after its TTL");
    match jobs.delete(&fresh.name_any(), &delete).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(Action::await_change()),
        Err(error) => Err(error.into()),
    }
}

/// How long until the Job's TTL after finishing expires (zero once it has), or `None`
/// when the Job does not need cleaning up: no TTL, not finished, or already being deleted.
fn time_left(job: &Job, now: Timestamp) -> Result<Option<Duration>, TtlError> {
    let Some(ttl) = job
        .spec
        .as_ref()
        .and_then(|spec| spec.ttl_seconds_after_finished)
    else {
        return Ok(None);
    };
    if job.metadata.deletion_timestamp.is_some() || !is_finished(job) {
        return Ok(None);
    }
    let finished = finish_time(job).ok_or_else(|| TtlError::MissingFinishTime {
        namespace: job.namespace().unwrap_or_default(),
        name: job.name_any(),
    })?;
    // A TTL that ends beyond the representable future never expires.
    let Ok(expires) = finished.checked_add(SignedDuration::from_secs(i64::from(ttl))) else {
        return Ok(None);
    };
    Ok(Some(
        Duration::try_from(expires.duration_since(now)).unwrap_or(Duration::ZERO),
    ))
}

fn error_policy(job: Arc<Job>, error: &TtlError, context: Arc<TtlContext>) -> Action {
    tracing::warn!(%error, job = %job.name_any(), "cleaning up a finished job failed; retrying");
    context.retry.requeue_after_failure(job.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished_job(ttl: Option<i32>, finished_at: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
            "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": finished_at}]},
        }))
        .expect("a job")
    }

    #[test]
    fn the_time_left_counts_from_the_finish() {
        let now: Timestamp = "2025-01-01T00:00:10Z".parse().expect("a time");
        let job = finished_job(Some(30), "2025-01-01T00:00:00Z");
        assert_eq!(
            time_left(&job, now).expect("a finish time"),
            Some(Duration::from_secs(20))
        );
        let expired = finished_job(Some(5), "2025-01-01T00:00:00Z");
        assert_eq!(
            time_left(&expired, now).expect("a finish time"),
            Some(Duration::ZERO)
        );
        let kept = finished_job(None, "2025-01-01T00:00:00Z");
        assert_eq!(time_left(&kept, now).expect("no ttl"), None);
    }
}
