//! Validation of Deployment, ReplicaSet, DaemonSet, StatefulSet (`pkg/apis/apps/validation`),
//! Job and CronJob (`pkg/apis/batch/validation`), creates and updates.

use serde_json::{Value, json};

use super::jobs::{validate_cron_job, validate_generated_selector, validate_job_spec};
use super::pod::{validate_enumerated, validate_pod_template};
use super::{NEGATIVE_MESSAGE, immutable_field, nonnegative_field};
use crate::field_error::FieldError;
use crate::labels::{selector_is_empty, selector_matches, validate_label_selector};
use crate::names::regex_message;

pub const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

pub fn validate_workload(kind: &str, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let mut errors = match kind {
        "Deployment" => validate_replicated_spec(spec, "deployment", true),
        "ReplicaSet" => validate_replicated_spec(spec, "deployment", false),
        "DaemonSet" => validate_daemon_set_spec(spec),
        "StatefulSet" => validate_stateful_set_spec(spec),
        "Job" => {
            let mut errors = validate_job_spec(spec, "spec");
            errors.extend(validate_generated_selector(object));
            errors
        }
        "CronJob" => validate_cron_job(object),
        _ => Vec::new(),
    };
    if let Some(old) = old {
        errors.extend(validate_workload_update(kind, object, old));
    }
    errors
}

/// The selector checks shared by the apps kinds: required, well-formed and not empty (the
/// empty-selector message names the kind as Kubernetes does, "deployment" for ReplicaSets too).
fn validate_required_selector(spec: &Value, kind_word: &str) -> Vec<FieldError> {
    match spec.get("selector").filter(|selector| !selector.is_null()) {
        None => vec![FieldError::required("spec.selector", "")],
        Some(selector) => {
            let mut errors = validate_label_selector(selector, "spec.selector");
            if selector_is_empty(selector) {
                errors.push(FieldError::invalid(
                    "spec.selector",
                    selector.clone(),
                    format!("empty selector is invalid for {kind_word}"),
                ));
            }
            errors
        }
    }
}

/// `ValidatePodTemplateSpecForReplicaSet`: the selector matches the template's labels, the
/// template is a valid pod template, and its pods always restart.
fn validate_template_for_controller(
    spec: &Value,
    require_match_when_no_selector: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(template) = spec.get("template").filter(|template| !template.is_null()) else {
        errors.push(FieldError::required("spec.template", ""));
        return errors;
    };
    let labels = template.pointer("/metadata/labels");
    let selector_matches_labels = match spec.get("selector").filter(|selector| !selector.is_null())
    {
        Some(selector) => selector_is_empty(selector) || selector_matches(selector, labels),
        None => !require_match_when_no_selector,
    };
    if !selector_matches_labels {
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            labels.cloned().unwrap_or(json!({})),
            SELECTOR_MISMATCH,
        ));
    }
    errors.extend(validate_pod_template(template, "spec.template"));
    let restart_policy = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart_policy != "Always" {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            json!(restart_policy),
            &["Always"],
        ));
    }
    if let Some(deadline) = template
        .pointer("/spec/activeDeadlineSeconds")
        .filter(|deadline| !deadline.is_null())
    {
        errors.push(FieldError::invalid(
            "spec.template.spec.activeDeadlineSeconds",
            deadline.clone(),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errors
}

/// `ValidateDeploymentSpec` (with `has_strategy`) and `ValidateReplicaSetSpec`.
fn validate_replicated_spec(spec: &Value, kind_word: &str, has_strategy: bool) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = nonnegative_field(spec, "/replicas", "spec.replicas")
        .into_iter()
        .collect();
    errors.extend(validate_required_selector(spec, kind_word));
    errors.extend(validate_template_for_controller(spec, false));
    if has_strategy {
        errors.extend(validate_deployment_strategy(
            spec.get("strategy").unwrap_or(&Value::Null),
        ));
    }
    errors.extend(nonnegative_field(
        spec,
        "/minReadySeconds",
        "spec.minReadySeconds",
    ));
    errors.extend(nonnegative_field(
        spec,
        "/revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    ));
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        errors.extend(nonnegative_field(
            spec,
            "/progressDeadlineSeconds",
            "spec.progressDeadlineSeconds",
        ));
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        if deadline <= min_ready {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

/// `ValidateDeploymentStrategy` and `ValidateRollingUpdateDeployment`.
fn validate_deployment_strategy(strategy: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let rolling_update = strategy
        .get("rollingUpdate")
        .filter(|value| !value.is_null());
    match strategy
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "Recreate" => {
            if rolling_update.is_some() {
                errors.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling_update {
            None => errors.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(rolling_update) => {
                let path = "spec.strategy.rollingUpdate";
                let max_unavailable = rolling_update.get("maxUnavailable").unwrap_or(&Value::Null);
                let max_surge = rolling_update.get("maxSurge").unwrap_or(&Value::Null);
                errors.extend(validate_int_or_percent(
                    max_unavailable,
                    &format!("{path}.maxUnavailable"),
                ));
                errors.extend(validate_int_or_percent(
                    max_surge,
                    &format!("{path}.maxSurge"),
                ));
                if int_or_percent_value(max_unavailable) == Some(0)
                    && int_or_percent_value(max_surge) == Some(0)
                {
                    errors.push(FieldError::invalid(
                        format!("{path}.maxUnavailable"),
                        max_unavailable.clone(),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(percent)) = Some(max_unavailable)
                    && percent
                        .strip_suffix('%')
                        .and_then(|number| number.parse::<i64>().ok())
                        .is_some_and(|number| number > 100)
                {
                    errors.push(FieldError::invalid(
                        format!("{path}.maxUnavailable"),
                        json!(percent),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        _ => errors.push(FieldError::not_supported(
            "spec.strategy",
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errors
}

fn int_or_percent_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text
            .strip_suffix('%')
            .and_then(|number| number.parse().ok()),
        _ => None,
    }
}

/// `ValidatePositiveIntOrPercent`.
fn validate_int_or_percent(value: &Value, path: &str) -> Option<FieldError> {
    match value {
        Value::String(text) => {
            let is_percent = text.strip_suffix('%').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
            });
            (!is_percent).then(|| {
                FieldError::invalid(
                    path,
                    value.clone(),
                    regex_message(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%",
                        &["1%", "93%"],
                    ),
                )
            })
        }
        Value::Number(number) if number.as_i64().is_some_and(|number| number < 0) => {
            Some(FieldError::invalid(path, value.clone(), NEGATIVE_MESSAGE))
        }
        _ => None,
    }
}

/// `ValidateDaemonSetSpec`.
fn validate_daemon_set_spec(spec: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(selector) = spec.get("selector").filter(|selector| !selector.is_null()) {
        errors.extend(validate_label_selector(selector, "spec.selector"));
        if selector_is_empty(selector) {
            errors.push(FieldError::invalid(
                "spec.selector",
                selector.clone(),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    errors.extend(validate_template_for_controller(spec, true));
    errors.extend(nonnegative_field(
        spec,
        "/minReadySeconds",
        "spec.minReadySeconds",
    ));
    errors.extend(nonnegative_field(
        spec,
        "/revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    ));
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    errors.extend(validate_enumerated(
        strategy,
        "type",
        "spec.updateStrategy",
        &["OnDelete", "RollingUpdate"],
    ));
    errors
}

/// `ValidateStatefulSetSpec`.
fn validate_stateful_set_spec(spec: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(validate_enumerated(
        spec,
        "podManagementPolicy",
        "spec",
        &["OrderedReady", "Parallel"],
    ));
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    errors.extend(validate_enumerated(
        strategy,
        "type",
        "spec.updateStrategy",
        &["OnDelete", "RollingUpdate"],
    ));
    errors.extend(nonnegative_field(spec, "/replicas", "spec.replicas"));
    errors.extend(nonnegative_field(
        spec,
        "/minReadySeconds",
        "spec.minReadySeconds",
    ));
    errors.extend(validate_required_selector(spec, "statefulset"));
    errors.extend(validate_template_for_controller(spec, false));
    errors
}

/// The update rules: selectors never change; a Job's template, completions and completion
/// mode are fixed; a StatefulSet may only change a few spec fields.
fn validate_workload_update(kind: &str, object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" => {
            errors.extend(immutable_field(
                object,
                old,
                "/spec/selector",
                "spec.selector",
            ));
        }
        "StatefulSet" => {
            let mutable_fields = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            let strip = |statefulset: &Value| {
                let mut spec = statefulset.get("spec").cloned().unwrap_or(json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    for field in mutable_fields {
                        spec.remove(field);
                    }
                }
                spec
            };
            if strip(object) != strip(old) {
                errors.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        "Job" => {
            errors.extend(immutable_field(
                object,
                old,
                "/spec/selector",
                "spec.selector",
            ));
            errors.extend(immutable_field(
                object,
                old,
                "/spec/template",
                "spec.template",
            ));
            errors.extend(immutable_field(
                object,
                old,
                "/spec/completions",
                "spec.completions",
            ));
            errors.extend(immutable_field(
                object,
                old,
                "/spec/completionMode",
                "spec.completionMode",
            ));
        }
        _ => {}
    }
    errors
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn messages(kind: &str, object: Value, old: Option<Value>) -> Vec<String> {
        validate_workload(kind, &object, old.as_ref())
            .iter()
            .map(FieldError::message)
            .collect()
    }

    pub fn pod_template(labels: Value, restart_policy: &str) -> Value {
        json!({
            "metadata": {"labels": labels},
            "spec": {
                "restartPolicy": restart_policy, "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]
            }
        })
    }

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {
            "replicas": 1, "selector": selector, "template": pod_template(labels, "Always"),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "progressDeadlineSeconds": 600
        }})
    }

    #[test]
    fn deployment_selector_must_match_template() {
        assert!(
            messages(
                "Deployment",
                deployment(
                    json!({"matchLabels": {"app": "web"}}),
                    json!({"app": "web"})
                ),
                None
            )
            .is_empty()
        );
        assert_eq!(
            messages("Deployment", deployment(json!({"matchLabels": {"app": "web"}}), json!({"app": "api"})), None),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`".to_string()]
        );
        let mut missing = deployment(json!({}), json!({"app": "web"}));
        missing["spec"]
            .as_object_mut()
            .map(|spec| spec.remove("selector"));
        assert_eq!(
            messages("Deployment", missing, None),
            vec!["spec.selector: Required value".to_string()]
        );
    }

    #[test]
    fn deployment_strategy_and_selector_update() {
        let mut object = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        object["spec"]["strategy"]["rollingUpdate"] =
            json!({"maxSurge": 0, "maxUnavailable": "abc"});
        assert_eq!(
            messages("Deployment", object, None),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')".to_string()]
        );
        let old = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web", "v": "1"}),
        );
        let new = deployment(
            json!({"matchLabels": {"app": "web", "v": "1"}}),
            json!({"app": "web", "v": "1"}),
        );
        assert_eq!(
            messages("Deployment", new, Some(old)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"1\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_string()]
        );
    }

    #[test]
    fn stateful_set_updates_are_limited() {
        let stateful_set = |service: &str| {
            json!({"spec": {
                "serviceName": service, "replicas": 1, "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate"}, "selector": {"matchLabels": {"app": "db"}},
                "template": pod_template(json!({"app": "db"}), "Always")
            }})
        };
        assert!(messages("StatefulSet", stateful_set("db"), None).is_empty());
        assert_eq!(
            messages("StatefulSet", stateful_set("other"), Some(stateful_set("db"))),
            vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_string()]
        );
    }
}
