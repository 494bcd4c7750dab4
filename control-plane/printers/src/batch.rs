//! Printers for the batch group: Job and CronJob.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{
    age_column, column, containers_column, images_column, name_column, wide_column,
};
use crate::descriptions::{
    CRON_JOB_SPEC_SCHEDULE, CRON_JOB_SPEC_SUSPEND, CRON_JOB_SPEC_TIME_ZONE, CRON_JOB_STATUS_ACTIVE,
    CRON_JOB_STATUS_LAST_SCHEDULE_TIME, JOB_SPEC_SELECTOR, JOB_STATUS_SUCCEEDED,
};
use crate::labels::format_label_selector;
use crate::object_fields::{
    array_at, container_names_and_images, integer_at, is_being_deleted, object_name,
    optional_bool_at, optional_integer_at, optional_string_at, string_at, value_at,
};
use crate::time_formatting::{age_cell, human_duration, time_since, timestamp_at};

pub(crate) fn job_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Status", "string", "Status of the job."),
        column("Completions", "string", JOB_STATUS_SUCCEEDED),
        column("Duration", "string", "Time required to complete the job."),
        age_column(),
        containers_column(),
        images_column(),
        wide_column("Selector", "string", JOB_SPEC_SELECTOR),
    ]
}

/// Whether the first condition of this type has status True, like `hasJobCondition`.
fn has_job_condition(job: &Value, condition_type: &str) -> bool {
    array_at(job, &["status", "conditions"])
        .iter()
        .find(|condition| string_at(condition, &["type"]) == condition_type)
        .is_some_and(|condition| string_at(condition, &["status"]) == "True")
}

fn job_status(job: &Value) -> &'static str {
    if has_job_condition(job, "Complete") {
        "Complete"
    } else if has_job_condition(job, "Failed") {
        "Failed"
    } else if is_being_deleted(job) {
        "Terminating"
    } else if has_job_condition(job, "Suspended") {
        "Suspended"
    } else if has_job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

/// "succeeded/completions", or "succeeded/1 of parallelism" for a work-queue job.
fn job_completions(job: &Value) -> String {
    let succeeded = integer_at(job, &["status", "succeeded"]);
    if let Some(completions) = optional_integer_at(job, &["spec", "completions"]) {
        return format!("{succeeded}/{completions}");
    }
    let parallelism = integer_at(job, &["spec", "parallelism"]);
    if parallelism > 1 {
        format!("{succeeded}/1 of {parallelism}")
    } else {
        format!("{succeeded}/1")
    }
}

/// How long the job ran: until it completed, or until now while it still runs; "" if it
/// has not started.
fn job_duration(job: &Value, now: Timestamp) -> String {
    let Some(start) = timestamp_at(job, &["status", "startTime"]) else {
        return String::new();
    };
    match timestamp_at(job, &["status", "completionTime"]) {
        Some(completion) => human_duration(completion.duration_since(start)),
        None => human_duration(now.duration_since(start)),
    }
}

pub(crate) fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let (containers, images) =
        container_names_and_images(array_at(job, &["spec", "template", "spec", "containers"]));
    vec![
        Value::from(object_name(job)),
        Value::from(job_status(job)),
        Value::from(job_completions(job)),
        Value::from(job_duration(job, now)),
        age_cell(job, now),
        Value::from(containers),
        Value::from(images),
        Value::from(format_label_selector(value_at(job, &["spec", "selector"]))),
    ]
}

pub(crate) fn cron_job_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Schedule", "string", CRON_JOB_SPEC_SCHEDULE),
        column("Timezone", "string", CRON_JOB_SPEC_TIME_ZONE),
        column("Suspend", "boolean", CRON_JOB_SPEC_SUSPEND),
        column("Active", "integer", CRON_JOB_STATUS_ACTIVE),
        column(
            "Last Schedule",
            "string",
            CRON_JOB_STATUS_LAST_SCHEDULE_TIME,
        ),
        age_column(),
        containers_column(),
        images_column(),
        wide_column("Selector", "string", JOB_SPEC_SELECTOR),
    ]
}

/// "True" / "False" for a set flag and "<unset>" for a missing one, like `printBoolPtr`.
fn bool_pointer_text(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

pub(crate) fn cron_job_cells(cron_job: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match value_at(cron_job, &["status", "lastScheduleTime"]) {
        Some(value) if !value.is_null() => {
            time_since(timestamp_at(cron_job, &["status", "lastScheduleTime"]), now)
        }
        _ => "<none>".to_string(),
    };
    let (containers, images) = container_names_and_images(array_at(
        cron_job,
        &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
        ],
    ));
    let job_template_selector = value_at(cron_job, &["spec", "jobTemplate", "spec", "selector"]);
    vec![
        Value::from(object_name(cron_job)),
        Value::from(string_at(cron_job, &["spec", "schedule"])),
        Value::from(optional_string_at(cron_job, &["spec", "timeZone"]).unwrap_or("<none>")),
        Value::from(bool_pointer_text(optional_bool_at(
            cron_job,
            &["spec", "suspend"],
        ))),
        Value::from(array_at(cron_job, &["status", "active"]).len()),
        Value::from(last_schedule),
        age_cell(cron_job, now),
        Value::from(containers),
        Value::from(images),
        Value::from(format_label_selector(job_template_selector)),
    ]
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
