//! Job and CronJob validation (`pkg/apis/batch/validation`).

use serde_json::{Value, json};

use super::cron_schedule::check_schedule;
use super::nonnegative_field;
use super::pod::{validate_enumerated, validate_pod_template};
use super::workloads::SELECTOR_MISMATCH;
use crate::defaults::on_create::{
    CONTROLLER_UID_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use crate::field_error::FieldError;
use crate::labels::{selector_is_empty, selector_matches, validate_label_selector};

/// `ValidateGeneratedSelector`: unless a Job asks for a manual selector, its template
/// must carry the generated controller-uid and job-name labels and its selector must
/// select exactly the controller-uid label, so it can never adopt another Job's pods.
pub fn validate_generated_selector(job: &Value) -> Vec<FieldError> {
    if job.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return Vec::new();
    }
    let text = |pointer: &str| {
        job.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (name, uid) = (text("/metadata/name"), text("/metadata/uid"));
    let mut errors = Vec::new();
    for (label, expected) in [
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
    ] {
        let field = format!("spec.template.metadata.labels[{label}]");
        match job
            .pointer("/spec/template/metadata/labels")
            .and_then(|labels| labels.get(label))
            .and_then(Value::as_str)
        {
            None => errors.push(FieldError::required(field, "")),
            Some(value) if value != expected => errors.push(FieldError::invalid(
                field,
                json!(value),
                format!("must be '{expected}'"),
            )),
            Some(_) => {}
        }
    }
    let selector = job.pointer("/spec/selector").unwrap_or(&Value::Null);
    if !selector_matches(selector, Some(&json!({(CONTROLLER_UID_LABEL): uid}))) {
        errors.push(FieldError::invalid(
            "spec.selector",
            selector.clone(),
            "`selector` not auto-generated",
        ));
    }
    errors
}

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
    fn a_selector_the_server_did_not_generate_is_refused() {
        let labels = json!({"controller-uid": "1234", "job-name": "pi", "app": "pi",
                            "batch.kubernetes.io/controller-uid": "1234"});
        let mut job = json!({
            "metadata": {"name": "pi", "uid": "1234"},
            "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}},
                     "template": pod_template(labels, "Never")},
        });
        assert_eq!(messages("Job", job.clone(), None), Vec::<String>::new());
        job["spec"]["selector"]["matchLabels"]["app"] = json!("pi");
        assert_eq!(
            messages("Job", job.clone(), None),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"pi\", \"batch.kubernetes.io/controller-uid\":\"1234\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated".to_string()]
        );
        job["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
        assert!(
            messages("Job", job, None).contains(
                &"spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'pi'"
                    .to_string()
            )
        );
    }

    #[test]
    fn jobs_need_on_failure_or_never() {
        let job = json!({"spec": {"manualSelector": true, "template": pod_template(json!({}), "Always"), "backoffLimit": -1}});
        assert_eq!(
            messages("Job", job, None),
            vec![
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0".to_string(),
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".to_string(),
            ]
        );
        let old =
            json!({"spec": {"manualSelector": true, "template": pod_template(json!({}), "Never")}});
        let new = json!({"spec": {"manualSelector": true, "template": pod_template(json!({"a": "b"}), "Never")}});
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
