//! A Job's conditions as Kubernetes 1.33 writes them: the interim `FailureTarget` and
//! `SuccessCriteriaMet`, then the terminal `Failed` and `Complete` once no pod is left to
//! count or terminate.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const SUSPENDED: &str = "Suspended";

pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
pub const MESSAGE_BACKOFF_LIMIT_EXCEEDED: &str = "Job has reached the specified backoff limit";
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
pub const MESSAGE_DEADLINE_EXCEEDED: &str = "Job was active longer than specified deadline";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";
pub const MESSAGE_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";

pub fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default()
}

pub fn find_condition<'a>(job: &'a Job, condition_type: &str) -> Option<&'a JobCondition> {
    conditions(job)
        .iter()
        .find(|condition| condition.type_ == condition_type)
}

fn is_true(job: &Job, condition_type: &str) -> bool {
    find_condition(job, condition_type).is_some_and(|condition| condition.status == "True")
}

/// `Complete` or `Failed` when the Job has finished (`jobutil.FinishedCondition`).
pub fn finished_condition_type(job: &Job) -> Option<&'static str> {
    conditions(job).iter().find_map(|condition| {
        if condition.status != "True" {
            return None;
        }
        match condition.type_.as_str() {
            COMPLETE => Some(COMPLETE),
            FAILED => Some(FAILED),
            _ => None,
        }
    })
}

pub fn is_finished(job: &Job) -> bool {
    finished_condition_type(job).is_some()
}

pub fn is_succeeded(job: &Job) -> bool {
    is_true(job, COMPLETE)
}

/// When the Job finished: the transition time of its `Complete` or `Failed` condition.
pub fn finish_time(job: &Job) -> Option<Timestamp> {
    conditions(job)
        .iter()
        .find(|condition| {
            condition.status == "True" && (condition.type_ == COMPLETE || condition.type_ == FAILED)
        })
        .and_then(|condition| condition.last_transition_time.as_ref())
        .map(|time| time.0)
}

pub fn new_condition(
    condition_type: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: condition_type.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The terminal condition that follows an interim one, with its reason and message.
pub fn terminal_condition_after(interim: &JobCondition, now: Timestamp) -> JobCondition {
    let terminal_type = if interim.type_ == SUCCESS_CRITERIA_MET {
        COMPLETE
    } else {
        FAILED
    };
    new_condition(
        terminal_type,
        "True",
        interim.reason.as_deref().unwrap_or_default(),
        interim.message.as_deref().unwrap_or_default(),
        now,
    )
}

/// Sets the condition of `condition_type` to the given status, reason and message,
/// adding it unless it would be added as False (`ensureJobConditionStatus`). Returns
/// whether anything changed.
pub fn ensure_condition_status(
    conditions: &mut Vec<JobCondition>,
    condition: JobCondition,
) -> bool {
    match conditions
        .iter_mut()
        .find(|existing| existing.type_ == condition.type_)
    {
        Some(existing)
            if existing.status != condition.status
                || existing.reason != condition.reason
                || existing.message != condition.message =>
        {
            *existing = condition;
            true
        }
        Some(_) => false,
        None if condition.status != "False" => {
            conditions.push(condition);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_is_added_unless_false_and_replaced_only_when_it_changes() {
        let now = Timestamp::UNIX_EPOCH;
        let mut list = Vec::new();
        let resumed = new_condition(SUSPENDED, "False", "JobResumed", "Job resumed", now);
        assert!(!ensure_condition_status(&mut list, resumed.clone()));
        assert!(list.is_empty());
        let suspended = new_condition(SUSPENDED, "True", "JobSuspended", "Job suspended", now);
        assert!(ensure_condition_status(&mut list, suspended.clone()));
        assert!(!ensure_condition_status(&mut list, suspended));
        assert!(ensure_condition_status(&mut list, resumed));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, "False");
    }

    #[test]
    fn the_terminal_condition_keeps_the_interim_reason() {
        let now = Timestamp::UNIX_EPOCH;
        let target = new_condition(
            FAILURE_TARGET,
            "True",
            REASON_BACKOFF_LIMIT_EXCEEDED,
            MESSAGE_BACKOFF_LIMIT_EXCEEDED,
            now,
        );
        let failed = terminal_condition_after(&target, now);
        assert_eq!(failed.type_, FAILED);
        assert_eq!(
            failed.reason.as_deref(),
            Some(REASON_BACKOFF_LIMIT_EXCEEDED)
        );
        let met = new_condition(
            SUCCESS_CRITERIA_MET,
            "True",
            REASON_COMPLETIONS_REACHED,
            MESSAGE_COMPLETIONS_REACHED,
            now,
        );
        assert_eq!(terminal_condition_after(&met, now).type_, COMPLETE);
    }
}
