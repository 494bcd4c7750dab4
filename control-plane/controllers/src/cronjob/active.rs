//! `status.active` of a CronJob: which Jobs it lists, taking out the finished and the
//! vanished ones, and deleting Jobs together with their entry (`deleteJob`).

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PropagationPolicy};

use super::{Context, CronJobError};
use crate::events::EventType;
use crate::job::conditions::{finished_condition_type, is_finished, is_succeeded};

pub fn status_mut(cron_job: &mut CronJob) -> &mut CronJobStatus {
    cron_job.status.get_or_insert_with(CronJobStatus::default)
}

pub fn active(cron_job: &CronJob) -> &[ObjectReference] {
    cron_job
        .status
        .as_ref()
        .and_then(|status| status.active.as_deref())
        .unwrap_or_default()
}

pub fn in_active_list(cron_job: &CronJob, uid: &str) -> bool {
    active(cron_job)
        .iter()
        .any(|reference| reference.uid.as_deref() == Some(uid))
}

pub fn delete_from_active_list(cron_job: &mut CronJob, uid: &str) {
    if let Some(active) = status_mut(cron_job).active.as_mut() {
        active.retain(|reference| reference.uid.as_deref() != Some(uid));
    }
}

pub async fn warn(context: &Context, cron_job: &CronJob, reason: &str, message: String) {
    context
        .recorder
        .publish(cron_job, EventType::Warning, reason, message)
        .await;
}

/// Drops finished and vanished Jobs from `status.active` (SawCompletedJob, MissingJob),
/// notes the latest success, and reports running Jobs the status does not list
/// (UnexpectedJob). Returns whether the status changed.
pub async fn reconcile_active_list(
    context: &Context,
    cron_job: &mut CronJob,
    jobs: &[Job],
) -> Result<bool, CronJobError> {
    let mut changed = false;
    for job in jobs {
        let uid = job.uid().unwrap_or_default();
        let found = in_active_list(cron_job, &uid);
        if !found && !is_finished(job) {
            // The CronJob was read after the Jobs were listed, so a running Job missing
            // from its active list is one this controller did not record.
            let message = format!(
                "Saw a job that the controller did not create or forgot: {}",
                job.name_any()
            );
            warn(context, cron_job, "UnexpectedJob", message).await;
            continue;
        }
        if found && let Some(condition) = finished_condition_type(job) {
            delete_from_active_list(cron_job, &uid);
            let message = format!(
                "Saw completed job: {}, condition: {condition}",
                job.name_any()
            );
            context
                .recorder
                .publish(&*cron_job, EventType::Normal, "SawCompletedJob", message)
                .await;
            changed = true;
        }
        if is_succeeded(job) {
            let completed = job
                .status
                .as_ref()
                .and_then(|status| status.completion_time.clone());
            let status = status_mut(cron_job);
            let later = match (&status.last_successful_time, &completed) {
                (None, _) => true,
                (Some(last), Some(completed)) => completed.0 > last.0,
                (Some(_), None) => false,
            };
            if later {
                status.last_successful_time = completed;
                changed = true;
            }
        }
    }
    let listed: Vec<String> = jobs.iter().filter_map(ResourceExt::uid).collect();
    let missing: Vec<ObjectReference> = active(cron_job)
        .iter()
        .filter(|reference| {
            reference
                .uid
                .as_ref()
                .is_none_or(|uid| !listed.contains(uid))
        })
        .cloned()
        .collect();
    for reference in missing {
        // Asked of the API server rather than trusted from the list, which may lag.
        let namespace = reference
            .namespace
            .clone()
            .or_else(|| cron_job.namespace())
            .unwrap_or_default();
        let name = reference.name.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
        if jobs.get_opt(&name).await?.is_none() {
            context
                .recorder
                .publish(
                    &*cron_job,
                    EventType::Normal,
                    "MissingJob",
                    format!("Active job went missing: {name}"),
                )
                .await;
            delete_from_active_list(cron_job, reference.uid.as_deref().unwrap_or_default());
            changed = true;
        }
    }
    Ok(changed)
}

/// With `concurrencyPolicy: Replace`, every Job still running at the next activation is
/// deleted first.
pub async fn replace_active_jobs(
    context: &Context,
    cron_job: &mut CronJob,
) -> Result<bool, CronJobError> {
    let mut replaced = false;
    for reference in active(cron_job).to_vec() {
        let namespace = reference.namespace.clone().unwrap_or_default();
        let name = reference.name.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
        let job = match jobs.get(&name).await {
            Ok(job) => job,
            Err(error) => {
                warn(context, cron_job, "FailedGet", format!("Get job: {error}")).await;
                return Err(error.into());
            }
        };
        if !delete_job(context, cron_job, &job).await {
            return Err(CronJobError::ReplaceFailed { namespace, name });
        }
        replaced = true;
    }
    Ok(replaced)
}

/// Deletes a Job of the CronJob (its pods follow through the garbage collector) and its
/// entry in `status.active` (`deleteJob`). Returns whether it was deleted.
pub async fn delete_job(context: &Context, cron_job: &mut CronJob, job: &Job) -> bool {
    let jobs: Api<Job> =
        Api::namespaced(context.client.clone(), &job.namespace().unwrap_or_default());
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    if let Err(error) = jobs.delete(&job.name_any(), &background).await {
        warn(
            context,
            cron_job,
            "FailedDelete",
            format!("Deleted job: {error}"),
        )
        .await;
        return false;
    }
    delete_from_active_list(cron_job, &job.uid().unwrap_or_default());
    context
        .recorder
        .publish(
            &*cron_job,
            EventType::Normal,
            "SuccessfulDelete",
            format!("Deleted job {}", job.name_any()),
        )
        .await;
    true
}
