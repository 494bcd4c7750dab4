//! Job and CronJob validation (`pkg/apis/batch/validation`).

use serde_json::{Value, json};

use super::cron_schedule::check_schedule;
use super::nonnegative_field;
use super::pod::{validate_enumerated, validate_pod_template};
use super::workloads::SELECTOR_MISMATCH;
use crate::field_error::FieldError;
use crate::labels::{selector_is_empty, selector_matches, validate_label_selector};

/// `validateJobSpec` for a Job (`path` is `spec`) or a CronJob's job template.
pub fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        errors.extend(nonnegative_field(
            spec,
            &format!("/{field}"),
            &format!("{path}.{field}"),
        ));
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    if let Some(selector) = spec.get("selector").filter(|selector| !selector.is_null()) {
        errors.extend(validate_label_selector(
            selector,
            &format!("{path}.selector"),
        ));
        if !selector_is_empty(selector)
            && !selector_matches(selector, template.pointer("/metadata/labels"))
        {
            let labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(json!({}));
            errors.push(FieldError::invalid(
                format!("{path}.template.metadata.labels"),
                labels,
                SELECTOR_MISMATCH,
            ));
        }
    }
    errors.extend(validate_pod_template(template, &format!("{path}.template")));
    let restart_policy = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart_policy != "OnFailure" && restart_policy != "Never" {
        errors.push(FieldError::required(
            format!("{path}.template.spec.restartPolicy"),
            "valid values: \"OnFailure\", \"Never\"",
        ));
    }
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str)
        && mode != "NonIndexed"
        && mode != "Indexed"
    {
        errors.push(FieldError::not_supported(
            format!("{path}.completionMode"),
            json!(mode),
            &["NonIndexed", "Indexed"],
        ));
    }
    errors
}

/// `ValidateCronJobCreate`'s spec and name checks.
pub fn validate_cron_job(cron_job: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = cron_job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Job names get an 11-character suffix and must stay valid DNS-1035 labels.
    if name.len() > 52 {
        errors.push(FieldError::invalid(
            "metadata.name",
            json!(name),
            "must be no more than 52 characters",
        ));
    }
    let spec = cron_job.get("spec").unwrap_or(&Value::Null);
    let schedule = spec
        .get("schedule")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if schedule.is_empty() {
        errors.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(problem) = check_schedule(schedule) {
            errors.push(FieldError::invalid(
                "spec.schedule",
                json!(schedule),
                problem,
            ));
        }
        if schedule.contains("TZ") {
            errors.push(FieldError::invalid(
                "spec.schedule",
                json!(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    errors.extend(validate_enumerated(
        spec,
        "concurrencyPolicy",
        "spec",
        &["Allow", "Forbid", "Replace"],
    ));
    for field in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        errors.extend(nonnegative_field(
            spec,
            &format!("/{field}"),
            &format!("spec.{field}"),
        ));
    }
    let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    errors.extend(validate_job_spec(job_spec, "spec.jobTemplate.spec"));
    errors
}

#[cfg(test)]
mod tests {
    use super::super::workloads::tests::{messages, pod_template};
    use super::super::workloads::validate_workload;
    use super::*;

    #[test]
    fn jobs_need_on_failure_or_never() {
        let job =
            json!({"spec": {"template": pod_template(json!({}), "Always"), "backoffLimit": -1}});
        assert_eq!(
            messages("Job", job, None),
            vec![
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0".to_string(),
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".to_string(),
            ]
        );
        let old = json!({"spec": {"template": pod_template(json!({}), "Never")}});
        let new = json!({"spec": {"template": pod_template(json!({"a": "b"}), "Never")}});
        let errors = validate_workload("Job", &new, Some(&old));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.template");
        assert_eq!(errors[0].detail, "field is immutable");
    }

    #[test]
    fn cron_jobs_check_schedule_and_name() {
        let cron_job = json!({
            "metadata": {"name": "n".repeat(53)},
            "spec": {"schedule": "61 * * * *", "concurrencyPolicy": "Allow", "jobTemplate": {"spec": {"template": pod_template(json!({}), "OnFailure")}}}
        });
        assert_eq!(
            messages("CronJob", cron_job, None),
            vec![
                format!("metadata.name: Invalid value: \"{}\": must be no more than 52 characters", "n".repeat(53)),
                "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61".to_string(),
            ]
        );
    }
}
