//! Pods that still carry the tracking finalizer when no Job will count them any more —
//! their Job was deleted (with background propagation, or by the garbage collector) or
//! released them — get the finalizer removed, so their deletion is not held forever
//! (the Job controller's orphan queue, `syncOrphanPod`).

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use super::conditions::is_finished;
use super::pod_control::remove_tracking_finalizer;
use super::{has_tracking_finalizer, is_managed_elsewhere};
use crate::owners::controller_of;
use crate::retry::RetryBackoff;

#[derive(Debug, thiserror::Error)]
pub enum OrphanError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

struct OrphanContext {
    client: Client,
    retry: RetryBackoff,
}

pub async fn run(client: Client) {
    let context = Arc::new(OrphanContext {
        client: client.clone(),
        retry: RetryBackoff::default(),
    });
    Controller::new(Api::<Pod>::all(client), watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "orphan pod finalizer cleanup failed");
            }
        })
        .await;
}

async fn reconcile(pod: Arc<Pod>, context: Arc<OrphanContext>) -> Result<Action, OrphanError> {
    if !has_tracking_finalizer(&pod) || !is_orphaned(&pod, &context).await? {
        context.retry.succeeded(pod.as_ref());
        return Ok(Action::await_change());
    }
    let pods: Api<Pod> =
        Api::namespaced(context.client.clone(), &pod.namespace().unwrap_or_default());
    remove_tracking_finalizer(&pods, &pod).await?;
    context.retry.succeeded(pod.as_ref());
    Ok(Action::await_change())
}

/// No Job counts the pod: it has no controller, or its Job is gone, replaced, or already
/// finished. A pod controlled by something other than a Job, or by a Job another
/// controller manages, is left alone.
async fn is_orphaned(pod: &Pod, context: &OrphanContext) -> Result<bool, kube::Error> {
    let Some(reference) = controller_of(&pod.metadata) else {
        return Ok(true);
    };
    if reference.kind != Job::kind(&()) || reference.api_version != Job::api_version(&()) {
        return Ok(false);
    }
    let jobs: Api<Job> =
        Api::namespaced(context.client.clone(), &pod.namespace().unwrap_or_default());
    let job = jobs
        .get_opt(&reference.name)
        .await?
        .filter(|job| job.uid().as_deref() == Some(reference.uid.as_str()));
    Ok(match job {
        Some(job) if is_managed_elsewhere(&job) => false,
        Some(job) => is_finished(&job),
        None => true,
    })
}

fn error_policy(pod: Arc<Pod>, error: &OrphanError, context: Arc<OrphanContext>) -> Action {
    tracing::warn!(%error, pod = %pod.name_any(), "removing an orphan pod's job-tracking finalizer failed; retrying");
    context.retry.requeue_after_failure(pod.as_ref())
}
