//! HorizontalPodAutoscaler between `autoscaling/v1` and `autoscaling/v2`, as Kubernetes'
//! `pkg/apis/autoscaling/v1/conversion.go` converts it. v1 knows only a CPU utilization
//! target; everything else v2 holds travels in annotations on the v1 object (other
//! metrics, current metrics, conditions, behavior), so that a v1 client's update loses
//! nothing it did not change.

mod behavior;
mod metrics;

use serde_json::{Map, Value, json};

use super::ConversionError;
use metrics::{metric_spec_to_v1, metric_spec_to_v2, metric_status_to_v1, metric_status_to_v2};

/// Metrics other than the CPU utilization target, in v1's form.
pub const METRIC_SPECS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Every current metric, in v1's form (the CPU one too, for its raw value).
pub const METRIC_STATUSES_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// The status conditions.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// The scaling behavior, with Go's field names (Kubernetes marshals its internal type).
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// The target a v1 object without any gets, as autoscaling/v1's controller once applied.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

const ROUND_TRIP_ANNOTATIONS: [&str; 4] = [
    METRIC_SPECS_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
];

pub(super) fn field<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    object.pointer(path).filter(|value| !value.is_null())
}

/// Copies the listed fields that are present from `from` into `to`, renamed.
pub(super) fn copy_fields(to: &mut Map<String, Value>, from: &Value, fields: &[(&str, &str)]) {
    for (from_path, to_name) in fields {
        if let Some(value) = field(from, from_path) {
            to.insert((*to_name).to_owned(), value.clone());
        }
    }
}

fn is_cpu_utilization_target(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && field(metric, "/resource/name").and_then(Value::as_str) == Some("cpu")
        && field(metric, "/resource/target/averageUtilization").is_some()
}

fn is_cpu_resource(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && field(metric, "/resource/name").and_then(Value::as_str) == Some("cpu")
}

fn array<'a>(object: &'a Value, path: &str) -> &'a [Value] {
    field(object, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn encode(value: &Value) -> Value {
    Value::String(value.to_string())
}

/// The stored (v2) object as autoscaling/v1 shows it.
pub fn v2_to_v1(stored: &Value) -> Value {
    let mut metadata = stored.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut annotations: Map<String, Value> = metadata
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // Only the annotations this conversion writes may be on the v1 object.
    for key in ROUND_TRIP_ANNOTATIONS {
        annotations.remove(key);
    }
    let metrics = array(stored, "/spec/metrics");
    let other_metrics: Vec<Value> = metrics
        .iter()
        .filter(|metric| !is_cpu_utilization_target(metric))
        .map(metric_spec_to_v1)
        .collect();
    if !other_metrics.is_empty() {
        annotations.insert(
            METRIC_SPECS_ANNOTATION.into(),
            encode(&Value::Array(other_metrics)),
        );
    }
    let current_metrics = array(stored, "/status/currentMetrics");
    if !current_metrics.is_empty() {
        let converted: Vec<Value> = current_metrics.iter().map(metric_status_to_v1).collect();
        annotations.insert(
            METRIC_STATUSES_ANNOTATION.into(),
            encode(&Value::Array(converted)),
        );
    }
    if let Some(behavior) = field(stored, "/spec/behavior") {
        annotations.insert(
            BEHAVIOR_ANNOTATION.into(),
            encode(&behavior::to_go_fields(behavior)),
        );
    }
    let conditions = array(stored, "/status/conditions");
    if !conditions.is_empty() {
        annotations.insert(
            CONDITIONS_ANNOTATION.into(),
            encode(&Value::Array(conditions.to_vec())),
        );
    }
    if let Some(metadata) = metadata.as_object_mut() {
        if annotations.is_empty() {
            metadata.remove("annotations");
        } else {
            metadata.insert("annotations".into(), Value::Object(annotations));
        }
    }

    let mut spec = Map::new();
    copy_fields(
        &mut spec,
        stored,
        &[
            ("/spec/scaleTargetRef", "scaleTargetRef"),
            ("/spec/minReplicas", "minReplicas"),
            ("/spec/maxReplicas", "maxReplicas"),
        ],
    );
    if let Some(utilization) = metrics
        .iter()
        .find(|metric| is_cpu_utilization_target(metric))
        .and_then(|metric| field(metric, "/resource/target/averageUtilization"))
    {
        spec.insert("targetCPUUtilizationPercentage".into(), utilization.clone());
    }
    let mut status = Map::new();
    copy_fields(
        &mut status,
        stored,
        &[
            ("/status/observedGeneration", "observedGeneration"),
            ("/status/lastScaleTime", "lastScaleTime"),
            ("/status/currentReplicas", "currentReplicas"),
            ("/status/desiredReplicas", "desiredReplicas"),
        ],
    );
    // As in Kubernetes, the last CPU resource metric with a utilization decides.
    for metric in current_metrics
        .iter()
        .filter(|metric| is_cpu_resource(metric))
    {
        if let Some(utilization) = field(metric, "/resource/current/averageUtilization") {
            status.insert(
                "currentCPUUtilizationPercentage".into(),
                utilization.clone(),
            );
        }
    }
    let mut served = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": spec,
    });
    if stored.get("status").is_some_and(|status| !status.is_null()) {
        served["status"] = Value::Object(status);
    }
    served
}

/// Reads a round-trip annotation: None when it is missing or malformed, which Kubernetes
/// ignores rather than refuses.
fn annotation_array(annotations: &Map<String, Value>, key: &str) -> Option<Vec<Value>> {
    let text = annotations.get(key)?.as_str()?;
    match serde_json::from_str(text) {
        Ok(Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// An object sent as autoscaling/v1, in its stored (v2) form.
pub fn v1_to_v2(served: Value) -> Result<Value, ConversionError> {
    let Value::Object(mut served) = served else {
        return Err(ConversionError::NotAnObject);
    };
    let mut metadata = served.remove("metadata").unwrap_or_else(|| json!({}));
    let annotations: Map<String, Value> = metadata
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let spec_v1 = served.remove("spec").unwrap_or_else(|| json!({}));
    let status_v1 = served.remove("status");

    let mut spec = Map::new();
    copy_fields(
        &mut spec,
        &spec_v1,
        &[
            ("/scaleTargetRef", "scaleTargetRef"),
            ("/minReplicas", "minReplicas"),
            ("/maxReplicas", "maxReplicas"),
        ],
    );
    let cpu_target = field(&spec_v1, "/targetCPUUtilizationPercentage").map(|utilization| {
        json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}}})
    });
    let mut metrics: Vec<Value> = annotation_array(&annotations, METRIC_SPECS_ANNOTATION)
        .map(|others| others.iter().map(metric_spec_to_v2).collect())
        .unwrap_or_default();
    metrics.extend(cpu_target);
    if metrics.is_empty() {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}));
    }
    spec.insert("metrics".into(), Value::Array(metrics));
    if let Some(behavior) = annotations
        .get(BEHAVIOR_ANNOTATION)
        .and_then(Value::as_str)
        .and_then(behavior::from_go_fields)
    {
        spec.insert("behavior".into(), behavior);
    }

    let mut stored = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "spec": spec,
    });
    // Go's status always exists, so the annotations fill it whether or not one was sent.
    let status_sent = status_v1.as_ref().is_some_and(|status| !status.is_null());
    let status_v1 = status_v1.unwrap_or_else(|| json!({}));
    let mut status = Map::new();
    copy_fields(
        &mut status,
        &status_v1,
        &[
            ("/observedGeneration", "observedGeneration"),
            ("/lastScaleTime", "lastScaleTime"),
            ("/currentReplicas", "currentReplicas"),
            ("/desiredReplicas", "desiredReplicas"),
        ],
    );
    // The annotation has more than the CPU utilization: it wins when present.
    let current_metrics = match annotation_array(&annotations, METRIC_STATUSES_ANNOTATION) {
        Some(metrics) => metrics.iter().map(metric_status_to_v2).collect(),
        None => field(&status_v1, "/currentCPUUtilizationPercentage")
            .map(|utilization| {
                vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": utilization}}})]
            })
            .unwrap_or_default(),
    };
    if !current_metrics.is_empty() {
        status.insert("currentMetrics".into(), Value::Array(current_metrics));
    }
    if let Some(conditions) = annotation_array(&annotations, CONDITIONS_ANNOTATION) {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    if status_sent || !status.is_empty() {
        stored["status"] = Value::Object(status);
    }
    if let Some(metadata) = metadata.as_object_mut()
        && let Some(Value::Object(annotations)) = metadata.get_mut("annotations")
    {
        for key in ROUND_TRIP_ANNOTATIONS {
            annotations.remove(key);
        }
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
    stored["metadata"] = metadata;
    Ok(stored)
}
