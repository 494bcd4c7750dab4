//! One sync of a CronJob (`syncCronJob`): reconcile `status.active` with the Jobs that
//! exist, then start the activation that is due, if the time zone, suspension, schedule,
//! starting deadline and concurrency policy allow it.

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Resource, ResourceExt};

use super::active::{
    active, in_active_list, reconcile_active_list, replace_active_jobs, status_mut, warn,
};
use super::schedule::Schedule;
use super::timing::{CronJobTiming, MissedSchedules};
use super::{Context, CronJobError};
use crate::events::EventType;
use crate::owners;

/// The annotation on each Job with the time it was scheduled for, in the CronJob's zone.
const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub struct SyncOutcome {
    pub requeue_after: Option<Duration>,
    pub update_status: bool,
    pub error: Option<CronJobError>,
}

impl SyncOutcome {
    fn done(update_status: bool) -> SyncOutcome {
        SyncOutcome {
            requeue_after: None,
            update_status,
            error: None,
        }
    }
}

/// The schedule's time zone: `spec.timeZone` (an IANA name) or, without one, the
/// controller manager's local zone, as in Kubernetes.
fn schedule_time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None | Some("Local") => Ok(TimeZone::system()),
        Some("" | "UTC") => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
    }
}

pub async fn sync_cron_job(context: &Context, cron_job: &mut CronJob, jobs: &[Job]) -> SyncOutcome {
    let now = context.clock.now();
    let mut update_status = match reconcile_active_list(context, cron_job, jobs).await {
        Ok(changed) => changed,
        Err(error) => {
            return SyncOutcome {
                requeue_after: None,
                update_status: true,
                error: Some(error),
            };
        }
    };
    if cron_job.metadata.deletion_timestamp.is_some() {
        return SyncOutcome::done(update_status);
    }
    let spec = cron_job.spec.clone().unwrap_or_default();
    let zone = match schedule_time_zone(spec.time_zone.as_deref()) {
        Ok(zone) => zone,
        Err(problem) => {
            let message = format!(
                "invalid timeZone: {:?}: {problem}",
                spec.time_zone.unwrap_or_default()
            );
            warn(context, cron_job, "UnknownTimeZone", message).await;
            return SyncOutcome::done(update_status);
        }
    };
    if spec.suspend == Some(true) {
        return SyncOutcome::done(update_status);
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            let message = format!("unparseable schedule: {:?} : {error}", spec.schedule);
            warn(context, cron_job, "UnparseableSchedule", message).await;
            return SyncOutcome::done(update_status);
        }
    };
    let created = cron_job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |time| time.0);
    let last_schedule = |cron_job: &CronJob| {
        cron_job
            .status
            .as_ref()
            .and_then(|status| status.last_schedule_time.as_ref())
            .map(|time| time.0)
    };
    let timing = CronJobTiming {
        created,
        last_schedule: last_schedule(cron_job),
        starting_deadline_seconds: spec.starting_deadline_seconds,
        schedule: &schedule,
        zone: &zone,
    };
    let (scheduled, missed) = match timing.time_to_run(now) {
        Ok(due) => due,
        Err(error) => {
            let message = format!("invalid schedule: {} : {error}", spec.schedule);
            warn(context, cron_job, "InvalidSchedule", message).await;
            return SyncOutcome::done(update_status);
        }
    };
    if missed == MissedSchedules::Many {
        warn(
            context,
            cron_job,
            "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_owned(),
        )
        .await;
    }
    let later = |update_status| SyncOutcome {
        requeue_after: timing.delay_until_next(now),
        update_status,
        error: None,
    };
    let Some(scheduled) = scheduled else {
        return later(update_status);
    };
    let too_late = spec
        .starting_deadline_seconds
        .and_then(|deadline| {
            scheduled
                .checked_add(SignedDuration::from_secs(deadline))
                .ok()
        })
        .is_some_and(|latest_start| latest_start < now);
    if too_late {
        let when = scheduled
            .to_zoned(TimeZone::UTC)
            .strftime("%a, %d %b %Y %H:%M:%S %z")
            .to_string();
        let message = format!("Missed scheduled time to start a job: {when}");
        warn(context, cron_job, "MissSchedule", message).await;
        return later(update_status);
    }
    let job_name = job_name(cron_job, scheduled);
    let already_processed = active(cron_job)
        .iter()
        .any(|reference| reference.name.as_deref() == Some(job_name.as_str()))
        || last_schedule(cron_job) == Some(scheduled);
    if already_processed {
        return later(update_status);
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !active(cron_job).is_empty() {
        context
            .recorder
            .publish(
                &*cron_job,
                EventType::Normal,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            .await;
        return later(update_status);
    }
    if policy == "Replace" {
        match replace_active_jobs(context, cron_job).await {
            Ok(replaced) => update_status |= replaced,
            Err(error) => {
                return SyncOutcome {
                    requeue_after: None,
                    update_status,
                    error: Some(error),
                };
            }
        }
    }
    let job = match create_job(
        context,
        cron_job,
        &job_name,
        scheduled,
        spec.time_zone.is_some(),
        &zone,
    )
    .await
    {
        Ok(Some(job)) => job,
        Ok(None) => return SyncOutcome::done(update_status),
        Err(error) => {
            return SyncOutcome {
                requeue_after: None,
                update_status,
                error: Some(error),
            };
        }
    };
    let status = status_mut(cron_job);
    status
        .active
        .get_or_insert_with(Vec::new)
        .push(job_reference(&job));
    status.last_schedule_time = Some(Time(scheduled));
    let timing = CronJobTiming {
        last_schedule: Some(scheduled),
        ..timing
    };
    SyncOutcome {
        requeue_after: timing.delay_until_next(now),
        update_status: true,
        error: None,
    }
}

/// `<cronjob>-<minutes since the epoch>`: one name per activation.
fn job_name(cron_job: &CronJob, scheduled: Timestamp) -> String {
    format!(
        "{}-{}",
        cron_job.name_any(),
        scheduled.as_second().div_euclid(60)
    )
}

/// Creates the activation's Job (`getJobFromTemplate2`). Returns `None` when a Job of that
/// name exists already and is someone else's or already listed as active.
async fn create_job(
    context: &Context,
    cron_job: &CronJob,
    name: &str,
    scheduled: Timestamp,
    has_time_zone: bool,
    zone: &TimeZone,
) -> Result<Option<Job>, CronJobError> {
    let template = cron_job
        .spec
        .as_ref()
        .map(|spec| spec.job_template.clone())
        .unwrap_or_default();
    let template_metadata = template.metadata.unwrap_or_default();
    let mut annotations = template_metadata.annotations.unwrap_or_default();
    // Without spec.timeZone the annotation is in UTC, as Go's LoadLocation("") gives.
    let annotation_zone = if has_time_zone {
        zone.clone()
    } else {
        TimeZone::UTC
    };
    annotations.insert(
        SCHEDULED_TIMESTAMP_ANNOTATION.to_owned(),
        rfc3339(scheduled, annotation_zone),
    );
    let namespace = cron_job.namespace().unwrap_or_default();
    let job = Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.clone()),
            labels: template_metadata.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owners::controller_reference(cron_job)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    match jobs.create(&PostParams::default(), &job).await {
        Ok(created) => {
            context
                .recorder
                .publish(
                    cron_job,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created job {}", created.name_any()),
                )
                .await;
            Ok(Some(created))
        }
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            // Created before, but the status that should list it was not written.
            let existing = jobs.get(name).await?;
            let uid = cron_job.uid().unwrap_or_default();
            let ours = owners::is_controlled_by(&existing.metadata, &uid);
            let listed = existing
                .uid()
                .is_some_and(|uid| in_active_list(cron_job, &uid));
            Ok((ours && !listed).then_some(existing))
        }
        Err(error) => {
            let message = match &error {
                kube::Error::Api(status) => status.message.clone(),
                other => other.to_string(),
            };
            warn(
                context,
                cron_job,
                "FailedCreate",
                format!("Error creating job: {message}"),
            )
            .await;
            Err(error.into())
        }
    }
}

/// Go's RFC 3339 layout: `Z` for UTC, otherwise the numeric offset.
fn rfc3339(time: Timestamp, zone: TimeZone) -> String {
    let zoned = time.to_zoned(zone);
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

fn job_reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some(Job::api_version(&()).into_owned()),
        kind: Some(Job::kind(&()).into_owned()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduled_timestamp_reads_as_go_formats_it() {
        let time: Timestamp = "2025-03-10T00:00:00Z".parse().expect("a time");
        assert_eq!(rfc3339(time, TimeZone::UTC), "2025-03-10T00:00:00Z");
        let tokyo = TimeZone::get("Asia/Tokyo").expect("the zone");
        assert_eq!(rfc3339(time, tokyo), "2025-03-10T09:00:00+09:00");
    }

    #[test]
    fn time_zones_resolve_by_iana_name() {
        assert!(schedule_time_zone(Some("Europe/Berlin")).is_ok());
        assert_eq!(
            schedule_time_zone(Some("Mars/Olympus")).map(|_| ()),
            Err("unknown time zone Mars/Olympus".to_owned())
        );
    }
}
