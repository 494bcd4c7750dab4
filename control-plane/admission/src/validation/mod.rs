//! Validation per kind (`pkg/apis/*/validation`), on creates and updates.

mod config;
mod container_resources;
mod container_restart_policy;
mod cron_schedule;
mod jobs;
mod metadata;
mod node;
mod pod;
mod pod_update;
mod service;
mod workloads;

use serde_json::{Value, json};

use crate::field_error::FieldError;

/// The message Kubernetes uses for negative numbers (`isNegativeErrorMsg`).
const NEGATIVE_MESSAGE: &str = "must be greater than or equal to 0";
/// Kubernetes' `FieldImmutableErrorMsg`.
const IMMUTABLE_MESSAGE: &str = "field is immutable";

pub fn validate(kind: &str, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = metadata::validate_object_meta(kind, object);
    if let Some(old) = old {
        errors.extend(metadata::validate_object_meta_update(object, old));
    }
    let kind_errors = match kind {
        "Pod" => {
            let mut errors = pod::validate_pod(object);
            if let Some(old) = old {
                errors.extend(pod_update::validate_pod_update(object, old));
            }
            errors
        }
        "PodTemplate" => {
            pod::validate_pod_template(object.get("template").unwrap_or(&Value::Null), "template")
        }
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" | "CronJob" => {
            workloads::validate_workload(kind, object, old)
        }
        "Service" => service::validate_service(object, old),
        "Node" => node::validate_node(object, old),
        "ConfigMap" => config::validate_config_map(object, old),
        "Secret" => config::validate_secret(object, old),
        "Namespace" => config::validate_namespace(object),
        "PriorityClass" => crate::priority::validate_priority_class(object, old),
        _ => Vec::new(),
    };
    errors.extend(kind_errors);
    errors
}

/// Kubernetes' `ValidateNonnegativeField` for an optional integer at `pointer`.
fn nonnegative_field(object: &Value, pointer: &str, path: &str) -> Option<FieldError> {
    let value = object.pointer(pointer)?.as_i64()?;
    (value < 0).then(|| FieldError::invalid(path, json!(value), NEGATIVE_MESSAGE))
}

/// Kubernetes' `ValidateImmutableField`: the new value is reported when it differs.
fn immutable_field(new: &Value, old: &Value, pointer: &str, path: &str) -> Option<FieldError> {
    let new_value = new.pointer(pointer).unwrap_or(&Value::Null);
    let old_value = old.pointer(pointer).unwrap_or(&Value::Null);
    (new_value != old_value)
        .then(|| FieldError::invalid(path, new_value.clone(), IMMUTABLE_MESSAGE))
}
