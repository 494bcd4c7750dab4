//! The history limits (`cleanupFinishedJobs`): of a CronJob's finished Jobs, only the
//! newest `successfulJobsHistoryLimit` complete ones and `failedJobsHistoryLimit` failed
//! ones are kept; older ones are deleted, oldest first by start time.

use std::cmp::Ordering;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::ResourceExt;

use super::Context;
use super::active::delete_job;
use crate::job::conditions::{COMPLETE, FAILED, finished_condition_type};

/// Returns whether the CronJob's status changed.
pub async fn clean_up_finished_jobs(
    context: &Context,
    cron_job: &mut CronJob,
    jobs: &[Job],
) -> bool {
    let spec = cron_job.spec.clone().unwrap_or_default();
    let mut changed = false;
    for (condition, limit) in [
        (COMPLETE, spec.successful_jobs_history_limit),
        (FAILED, spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut finished: Vec<&Job> = jobs
            .iter()
            .filter(|job| finished_condition_type(job) == Some(condition))
            .collect();
        let excess = finished
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            continue;
        }
        finished.sort_by(|first, second| by_start_time(first, second));
        for job in finished.into_iter().take(excess) {
            if delete_job(context, cron_job, job).await {
                changed = true;
            }
        }
    }
    changed
}

/// Oldest start first; Jobs that never started last; the name breaks ties
/// (`byJobStartTime`).
fn by_start_time(first: &Job, second: &Job) -> Ordering {
    let start = |job: &Job| {
        job.status
            .as_ref()
            .and_then(|status| status.start_time.as_ref())
            .map(|time| time.0)
    };
    match (start(first), start(second)) {
        (Some(first_start), Some(second_start)) if first_start != second_start => {
            first_start.cmp(&second_start)
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => first.name_any().cmp(&second.name_any()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, start: Option<&str>) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "status": {"startTime": start},
        }))
        .expect("a job")
    }

    #[test]
    fn the_oldest_started_job_goes_first_and_unstarted_ones_last() {
        let mut jobs = [
            job("c", None),
            job("b", Some("2025-01-01T00:02:00Z")),
            job("a", Some("2025-01-01T00:02:00Z")),
            job("d", Some("2025-01-01T00:01:00Z")),
        ];
        jobs.sort_by(by_start_time);
        let names: Vec<String> = jobs.iter().map(ResourceExt::name_any).collect();
        assert_eq!(names, ["d", "a", "b", "c"]);
    }
}
