//! The metrics of a HorizontalPodAutoscaler between v1's form (the annotations' metric
//! specs and statuses, with `targetAverageValue`, `metricName`, …) and v2's (a
//! `MetricTarget` or `MetricValueStatus` and a `MetricIdentifier`), field by field as
//! Kubernetes' conversion functions map them.

use serde_json::{Map, Value, json};

use super::{copy_fields, field};

/// Go writes a Quantity that is not a pointer even when unset, as "0".
fn quantity_or_zero(value: Option<&Value>) -> Value {
    value.cloned().unwrap_or_else(|| json!("0"))
}

/// A v2 MetricSpec as v1's MetricSpec.
pub fn metric_spec_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    copy_fields(&mut out, metric, &[("/type", "type")]);
    if let Some(source) = field(metric, "/object") {
        let mut object = Map::new();
        object.insert(
            "target".into(),
            field(source, "/describedObject")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
        object.insert(
            "targetValue".into(),
            quantity_or_zero(field(source, "/target/value")),
        );
        copy_fields(
            &mut object,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "selector"),
                ("/target/averageValue", "averageValue"),
            ],
        );
        out.insert("object".into(), Value::Object(object));
    }
    if let Some(source) = field(metric, "/pods") {
        let mut pods = Map::new();
        pods.insert(
            "targetAverageValue".into(),
            quantity_or_zero(field(source, "/target/averageValue")),
        );
        copy_fields(
            &mut pods,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "selector"),
            ],
        );
        out.insert("pods".into(), Value::Object(pods));
    }
    for kind in ["resource", "containerResource"] {
        if let Some(source) = metric.get(kind).filter(|source| !source.is_null()) {
            let mut resource = Map::new();
            copy_fields(
                &mut resource,
                source,
                &[
                    ("/name", "name"),
                    ("/container", "container"),
                    ("/target/averageUtilization", "targetAverageUtilization"),
                    ("/target/averageValue", "targetAverageValue"),
                ],
            );
            out.insert(kind.into(), Value::Object(resource));
        }
    }
    if let Some(source) = field(metric, "/external") {
        let mut external = Map::new();
        copy_fields(
            &mut external,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "metricSelector"),
                ("/target/value", "targetValue"),
                ("/target/averageValue", "targetAverageValue"),
            ],
        );
        out.insert("external".into(), Value::Object(external));
    }
    Value::Object(out)
}

/// A v1 MetricSpec (from the annotation) as v2's MetricSpec.
pub fn metric_spec_to_v2(metric: &Value) -> Value {
    let mut out = Map::new();
    copy_fields(&mut out, metric, &[("/type", "type")]);
    if let Some(source) = field(metric, "/object") {
        let target_type = if field(source, "/averageValue").is_some() {
            "AverageValue"
        } else {
            "Value"
        };
        let mut target =
            json!({"type": target_type, "value": quantity_or_zero(field(source, "/targetValue"))});
        if let Some(average) = field(source, "/averageValue") {
            target["averageValue"] = average.clone();
        }
        out.insert(
            "object".into(),
            json!({
                "describedObject": field(source, "/target").cloned().unwrap_or_else(|| json!({})),
                "target": target,
                "metric": metric_identifier(source, "/metricName", "/selector"),
            }),
        );
    }
    if let Some(source) = field(metric, "/pods") {
        out.insert(
            "pods".into(),
            json!({
                "metric": metric_identifier(source, "/metricName", "/selector"),
                "target": {"type": "AverageValue", "averageValue": quantity_or_zero(field(source, "/targetAverageValue"))},
            }),
        );
    }
    for kind in ["resource", "containerResource"] {
        if let Some(source) = metric.get(kind).filter(|source| !source.is_null()) {
            let mut target = Map::new();
            let target_type = if field(source, "/targetAverageUtilization").is_some() {
                "Utilization"
            } else {
                "AverageValue"
            };
            target.insert("type".into(), json!(target_type));
            copy_fields(
                &mut target,
                source,
                &[
                    ("/targetAverageValue", "averageValue"),
                    ("/targetAverageUtilization", "averageUtilization"),
                ],
            );
            let mut resource = Map::new();
            copy_fields(
                &mut resource,
                source,
                &[("/name", "name"), ("/container", "container")],
            );
            resource.insert("target".into(), Value::Object(target));
            out.insert(kind.into(), Value::Object(resource));
        }
    }
    if let Some(source) = field(metric, "/external") {
        let target_type = if field(source, "/targetValue").is_some() {
            "Value"
        } else {
            "AverageValue"
        };
        let mut target = Map::new();
        target.insert("type".into(), json!(target_type));
        copy_fields(
            &mut target,
            source,
            &[
                ("/targetValue", "value"),
                ("/targetAverageValue", "averageValue"),
            ],
        );
        out.insert(
            "external".into(),
            json!({
                "metric": metric_identifier(source, "/metricName", "/metricSelector"),
                "target": target,
            }),
        );
    }
    Value::Object(out)
}

fn metric_identifier(source: &Value, name: &str, selector: &str) -> Value {
    let mut identifier = Map::new();
    copy_fields(
        &mut identifier,
        source,
        &[(name, "name"), (selector, "selector")],
    );
    Value::Object(identifier)
}

/// A v2 MetricStatus as v1's MetricStatus.
pub fn metric_status_to_v1(metric: &Value) -> Value {
    let mut out = Map::new();
    copy_fields(&mut out, metric, &[("/type", "type")]);
    if let Some(source) = field(metric, "/object") {
        let mut object = Map::new();
        object.insert(
            "target".into(),
            field(source, "/describedObject")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
        object.insert(
            "currentValue".into(),
            quantity_or_zero(field(source, "/current/value")),
        );
        copy_fields(
            &mut object,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "selector"),
                ("/current/averageValue", "averageValue"),
            ],
        );
        out.insert("object".into(), Value::Object(object));
    }
    if let Some(source) = field(metric, "/pods") {
        let mut pods = Map::new();
        pods.insert(
            "currentAverageValue".into(),
            quantity_or_zero(field(source, "/current/averageValue")),
        );
        copy_fields(
            &mut pods,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "selector"),
            ],
        );
        out.insert("pods".into(), Value::Object(pods));
    }
    for kind in ["resource", "containerResource"] {
        if let Some(source) = metric.get(kind).filter(|source| !source.is_null()) {
            let mut resource = Map::new();
            resource.insert(
                "currentAverageValue".into(),
                quantity_or_zero(field(source, "/current/averageValue")),
            );
            copy_fields(
                &mut resource,
                source,
                &[
                    ("/name", "name"),
                    ("/container", "container"),
                    ("/current/averageUtilization", "currentAverageUtilization"),
                ],
            );
            out.insert(kind.into(), Value::Object(resource));
        }
    }
    if let Some(source) = field(metric, "/external") {
        let mut external = Map::new();
        external.insert(
            "currentValue".into(),
            quantity_or_zero(field(source, "/current/value")),
        );
        copy_fields(
            &mut external,
            source,
            &[
                ("/metric/name", "metricName"),
                ("/metric/selector", "metricSelector"),
                ("/current/averageValue", "currentAverageValue"),
            ],
        );
        out.insert("external".into(), Value::Object(external));
    }
    Value::Object(out)
}

/// A v1 MetricStatus (from the annotation) as v2's MetricStatus.
pub fn metric_status_to_v2(metric: &Value) -> Value {
    let mut out = Map::new();
    copy_fields(&mut out, metric, &[("/type", "type")]);
    let current = |source: &Value, fields: &[(&str, &str)]| {
        let mut current = Map::new();
        copy_fields(&mut current, source, fields);
        Value::Object(current)
    };
    if let Some(source) = field(metric, "/object") {
        out.insert(
            "object".into(),
            json!({
                "metric": metric_identifier(source, "/metricName", "/selector"),
                "current": current(source, &[("/currentValue", "value"), ("/averageValue", "averageValue")]),
                "describedObject": field(source, "/target").cloned().unwrap_or_else(|| json!({})),
            }),
        );
    }
    if let Some(source) = field(metric, "/pods") {
        out.insert(
            "pods".into(),
            json!({
                "metric": metric_identifier(source, "/metricName", "/selector"),
                "current": current(source, &[("/currentAverageValue", "averageValue")]),
            }),
        );
    }
    for kind in ["resource", "containerResource"] {
        if let Some(source) = metric.get(kind).filter(|source| !source.is_null()) {
            let mut resource = Map::new();
            copy_fields(
                &mut resource,
                source,
                &[("/name", "name"), ("/container", "container")],
            );
            resource.insert(
                "current".into(),
                current(
                    source,
                    &[
                        ("/currentAverageValue", "averageValue"),
                        ("/currentAverageUtilization", "averageUtilization"),
                    ],
                ),
            );
            out.insert(kind.into(), Value::Object(resource));
        }
    }
    if let Some(source) = field(metric, "/external") {
        out.insert(
            "external".into(),
            json!({
                "metric": metric_identifier(source, "/metricName", "/metricSelector"),
                "current": current(source, &[("/currentValue", "value"), ("/currentAverageValue", "averageValue")]),
            }),
        );
    }
    Value::Object(out)
}
