//! The HorizontalPodAutoscaler printer (autoscaling/v2), whose TARGETS cell pairs every
//! metric's current value with its target, such as "cpu: 40%/80%".

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column};
use crate::descriptions::{
    HPA_SPEC_MAX_REPLICAS, HPA_SPEC_METRICS, HPA_SPEC_MIN_REPLICAS, HPA_SPEC_SCALE_TARGET_REF,
    HPA_STATUS_CURRENT_REPLICAS,
};
use crate::object_fields::{
    array_at, integer_at, object_name, optional_integer_at, string_at, value_at,
};
use crate::policy::quantity_text;
use crate::time_formatting::age_cell;

/// TARGETS shows at most this many metrics, then "+ N more...".
const MAXIMUM_LISTED_METRICS: usize = 2;
/// Go prints a nil `*resource.Quantity` as this.
const NIL_QUANTITY: &str = "<nil>";
const UNKNOWN_CURRENT: &str = "<unknown>";

pub(crate) fn horizontal_pod_autoscaler_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Reference", "string", HPA_SPEC_SCALE_TARGET_REF),
        column("Targets", "string", HPA_SPEC_METRICS),
        column("MinPods", "string", HPA_SPEC_MIN_REPLICAS),
        column("MaxPods", "string", HPA_SPEC_MAX_REPLICAS),
        column("Replicas", "string", HPA_STATUS_CURRENT_REPLICAS),
        age_column(),
    ]
}

/// The sub-object of a metric spec or status for its source, such as `resource`, if set.
fn source<'metric>(metric: Option<&'metric Value>, key: &str) -> Option<&'metric Value> {
    metric
        .and_then(|metric| metric.get(key))
        .filter(|value| value.is_object())
}

fn has_field(object: Option<&Value>, path: &[&str]) -> bool {
    object
        .and_then(|object| value_at(object, path))
        .is_some_and(|value| !value.is_null())
}

fn quantity_in(object: Option<&Value>, path: &[&str]) -> String {
    quantity_text(
        object.and_then(|object| value_at(object, path)),
        NIL_QUANTITY,
    )
}

fn percentage_in(object: Option<&Value>, path: &[&str]) -> Option<String> {
    object
        .and_then(|object| optional_integer_at(object, path))
        .map(|percentage| format!("{percentage}%"))
}

/// Object and External metrics: an average value target shows "(avg)", a value target not.
fn value_or_average_metric(spec: Option<&Value>, status: Option<&Value>) -> String {
    if has_field(spec, &["target", "averageValue"]) {
        let current = if has_field(status, &["current", "averageValue"]) {
            quantity_in(status, &["current", "averageValue"])
        } else {
            UNKNOWN_CURRENT.to_string()
        };
        let target = quantity_in(spec, &["target", "averageValue"]);
        return format!("{current}/{target} (avg)");
    }
    let current = if status.is_some() {
        quantity_in(status, &["current", "value"])
    } else {
        UNKNOWN_CURRENT.to_string()
    };
    format!("{current}/{}", quantity_in(spec, &["target", "value"]))
}

/// Resource and ContainerResource metrics: "name: current/target", as an average value
/// or as a utilization percentage.
fn resource_metric(spec: Option<&Value>, status: Option<&Value>) -> String {
    let name = spec
        .map(|spec| string_at(spec, &["name"]))
        .unwrap_or_default();
    if has_field(spec, &["target", "averageValue"]) {
        let current = if status.is_some() {
            quantity_in(status, &["current", "averageValue"])
        } else {
            UNKNOWN_CURRENT.to_string()
        };
        let target = quantity_in(spec, &["target", "averageValue"]);
        return format!("{name}: {current}/{target}");
    }
    let current = percentage_in(status, &["current", "averageUtilization"])
        .unwrap_or_else(|| UNKNOWN_CURRENT.to_string());
    let target = percentage_in(spec, &["target", "averageUtilization"])
        .unwrap_or_else(|| "<auto>".to_string());
    format!("{name}: {current}/{target}")
}

fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    let by_source = |key: &str| (source(Some(spec), key), source(status, key));
    match string_at(spec, &["type"]) {
        "External" => {
            let (spec, status) = by_source("external");
            value_or_average_metric(spec, status)
        }
        "Object" => {
            let (spec, status) = by_source("object");
            value_or_average_metric(spec, status)
        }
        "Pods" => {
            let (spec, status) = by_source("pods");
            let current = if status.is_some() {
                quantity_in(status, &["current", "averageValue"])
            } else {
                UNKNOWN_CURRENT.to_string()
            };
            format!(
                "{current}/{}",
                quantity_in(spec, &["target", "averageValue"])
            )
        }
        "Resource" => {
            let (spec, status) = by_source("resource");
            resource_metric(spec, status)
        }
        "ContainerResource" => {
            let (spec, status) = by_source("containerResource");
            resource_metric(spec, status)
        }
        _ => "<unknown type>".to_string(),
    }
}

/// The TARGETS cell: each metric spec paired with the status at the same position.
fn format_metrics(autoscaler: &Value) -> String {
    let specs = array_at(autoscaler, &["spec", "metrics"]);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = array_at(autoscaler, &["status", "currentMetrics"]);
    let formatted: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| format_metric(spec, statuses.get(index)))
        .collect();
    if formatted.len() > MAXIMUM_LISTED_METRICS {
        let shown = formatted
            .get(..MAXIMUM_LISTED_METRICS)
            .unwrap_or_default()
            .join(", ");
        return format!(
            "{shown} + {} more...",
            formatted.len() - MAXIMUM_LISTED_METRICS
        );
    }
    formatted.join(", ")
}

pub(crate) fn horizontal_pod_autoscaler_cells(autoscaler: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        string_at(autoscaler, &["spec", "scaleTargetRef", "kind"]),
        string_at(autoscaler, &["spec", "scaleTargetRef", "name"])
    );
    let minimum_pods = optional_integer_at(autoscaler, &["spec", "minReplicas"])
        .map_or_else(|| "<unset>".to_string(), |minimum| minimum.to_string());
    vec![
        Value::from(object_name(autoscaler)),
        Value::from(reference),
        Value::from(format_metrics(autoscaler)),
        Value::from(minimum_pods),
        Value::from(integer_at(autoscaler, &["spec", "maxReplicas"])),
        Value::from(integer_at(autoscaler, &["status", "currentReplicas"])),
        age_cell(autoscaler, now),
    ]
}

#[cfg(test)]
#[path = "autoscaling_tests.rs"]
mod tests;
