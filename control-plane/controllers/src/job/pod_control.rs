//! The Job controller's writes to pods: finding and claiming the Job's pods, creating,
//! deleting, and adding or removing the tracking finalizer, with the events
//! kube-controller-manager's `RealPodControl` records.

use std::collections::HashSet;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{Context, JOB_TRACKING_FINALIZER, JobError, has_tracking_finalizer};
use crate::events::EventType;
use crate::owners;
use crate::pods::{is_pod_ready, pod_from_template};

pub fn pod_api(context: &Context, job: &Job) -> Api<Pod> {
    Api::namespaced(context.client.clone(), &job.namespace().unwrap_or_default())
}

/// The Job's pods, read fresh from the API server through its selector and claimed:
/// orphans that match are adopted (and get the tracking finalizer, as Kubernetes adds it
/// on adoption), owned pods that stopped matching are released.
pub async fn pods_for_job(context: &Context, job: &Job) -> Result<Vec<Pod>, JobError> {
    let Some(label_selector) = job.spec.as_ref().and_then(|spec| spec.selector.as_ref()) else {
        // A Job without a selector selects nothing, as LabelSelectorAsSelector(nil) does.
        return Ok(Vec::new());
    };
    let selector = owners::selector(label_selector)?;
    let api = pod_api(context, job);
    let candidates = api
        .list(&ListParams::default().labels_from(&selector))
        .await?
        .items;
    let orphans: HashSet<String> = candidates
        .iter()
        .filter(|pod| owners::controller_of(&pod.metadata).is_none())
        .filter_map(ResourceExt::uid)
        .collect();
    let claimed = owners::claim(&api, job, &selector, candidates).await?;
    let mut pods = Vec::with_capacity(claimed.len());
    for pod in claimed {
        let adopted = pod.uid().is_some_and(|uid| orphans.contains(&uid));
        if adopted && !has_tracking_finalizer(&pod) {
            let patch = json!({"metadata": {"finalizers": [JOB_TRACKING_FINALIZER]}});
            pods.push(
                api.patch(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(patch),
                )
                .await?,
            );
        } else {
            pods.push(pod);
        }
    }
    Ok(pods)
}

/// Creates one pod from `template` for the Job, recording SuccessfulCreate or
/// FailedCreate on the Job.
pub async fn create_pod(
    context: &Context,
    job: &Job,
    template: &PodTemplateSpec,
    generate_name: &str,
) -> Result<Pod, kube::Error> {
    let namespace = job.namespace().unwrap_or_default();
    let pod = pod_from_template(
        template,
        &namespace,
        None,
        generate_name,
        owners::controller_reference(job),
    );
    match pod_api(context, job)
        .create(&PostParams::default(), &pod)
        .await
    {
        Ok(created) => {
            context
                .recorder
                .publish(
                    job,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.name_any()),
                )
                .await;
            Ok(created)
        }
        Err(error) => {
            context
                .recorder
                .publish(
                    job,
                    EventType::Warning,
                    "FailedCreate",
                    format!("Error creating: {}", api_message(&error)),
                )
                .await;
            Err(error)
        }
    }
}

/// Deletes a pod of the Job (its finalizers, if any, stay). A pod that is already gone
/// counts as deleted.
pub async fn delete_pod(context: &Context, job: &Job, pod: &Pod) -> Result<(), kube::Error> {
    match pod_api(context, job)
        .delete(&pod.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => {
            context
                .recorder
                .publish(
                    job,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", pod.name_any()),
                )
                .await;
            Ok(())
        }
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => {
            context
                .recorder
                .publish(
                    job,
                    EventType::Warning,
                    "FailedDelete",
                    format!("Error deleting: {}", api_message(&error)),
                )
                .await;
            Err(error)
        }
    }
}

/// Removes the tracking finalizer with a strategic merge patch, which cannot conflict
/// with the kubelet's writes. A pod that is already gone has no finalizer left.
pub async fn remove_tracking_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    if !has_tracking_finalizer(pod) {
        return Ok(());
    }
    let patch =
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(error),
    }
}

/// How many of `pods` were deleted and how many of those were ready; the first error, if
/// any, is returned after every deletion was tried. With `remove_finalizer` the tracking
/// finalizer goes first, so the pods are not counted as failed (`deleteJobPods`);
/// without it they are (`deleteActivePods`).
pub async fn delete_pods(
    context: &Context,
    job: &Job,
    pods: &[&Pod],
    remove_finalizer: bool,
) -> (i32, i32, Option<kube::Error>) {
    let api = pod_api(context, job);
    let deletions = pods.iter().map(|pod| {
        let api = api.clone();
        async move {
            if remove_finalizer {
                remove_tracking_finalizer(&api, pod).await?;
            }
            delete_pod(context, job, pod).await
        }
    });
    let results = futures::future::join_all(deletions).await;
    let mut deleted = 0;
    let mut deleted_ready = 0;
    let mut first_error = None;
    for (pod, result) in pods.iter().zip(results) {
        match result {
            Ok(()) => {
                deleted += 1;
                if is_pod_ready(pod) {
                    deleted_ready += 1;
                }
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    (deleted, deleted_ready, first_error)
}

pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

/// The API server's message for an API error, as Kubernetes' events quote it.
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}
