//! Printers for the policy and coordination kinds: ResourceQuota, PriorityClass and Lease.
//! (LimitRange has no printer in Kubernetes and uses the default table.)

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column};
use crate::descriptions::{
    LEASE_SPEC_HOLDER_IDENTITY, PRIORITY_CLASS_GLOBAL_DEFAULT, PRIORITY_CLASS_PREEMPTION_POLICY,
    PRIORITY_CLASS_VALUE,
};
use crate::object_fields::{bool_at, integer_at, object_name, string_at, value_at};
use crate::time_formatting::age_cell;

/// A resource quantity as text. The API server stores quantities in canonical form, so the
/// stored string is what Go's `Quantity.String()` prints; a missing quantity is `zero_text`.
pub(crate) fn quantity_text(quantity: Option<&Value>, zero_text: &str) -> String {
    match quantity {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => zero_text.to_string(),
    }
}

pub(crate) fn lease_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Holder", "string", LEASE_SPEC_HOLDER_IDENTITY),
        age_column(),
    ]
}

pub(crate) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(lease)),
        Value::from(string_at(lease, &["spec", "holderIdentity"])),
        age_cell(lease, now),
    ]
}

pub(crate) fn resource_quota_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        column(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        age_column(),
    ]
}

/// "resource: used/hard" for every hard limit, sorted by resource name; resources named
/// "limits.*" go to the Limit cell and all others to the Request cell.
fn quota_usage(resource_quota: &Value) -> (String, String) {
    let mut resources: Vec<&String> = value_at(resource_quota, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    resources.sort_unstable();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for resource in resources {
        let used = quantity_text(
            value_at(resource_quota, &["status", "used", resource.as_str()]),
            "0",
        );
        let hard = quantity_text(
            value_at(resource_quota, &["status", "hard", resource.as_str()]),
            "0",
        );
        let entry = format!("{resource}: {used}/{hard}");
        if resource
            .split_once('.')
            .is_some_and(|(prefix, _)| prefix == "limits")
        {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    (requests.join(", "), limits.join(", "))
}

pub(crate) fn resource_quota_cells(resource_quota: &Value, now: Timestamp) -> Vec<Value> {
    let (requests, limits) = quota_usage(resource_quota);
    vec![
        Value::from(object_name(resource_quota)),
        Value::from(requests),
        Value::from(limits),
        age_cell(resource_quota, now),
    ]
}

pub(crate) fn priority_class_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Value", "integer", PRIORITY_CLASS_VALUE),
        column("Global-Default", "boolean", PRIORITY_CLASS_GLOBAL_DEFAULT),
        age_column(),
        column(
            "PreemptionPolicy",
            "string",
            PRIORITY_CLASS_PREEMPTION_POLICY,
        ),
    ]
}

pub(crate) fn priority_class_cells(priority_class: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(priority_class)),
        Value::from(integer_at(priority_class, &["value"])),
        Value::from(bool_at(priority_class, &["globalDefault"])),
        age_cell(priority_class, now),
        Value::from(string_at(priority_class, &["preemptionPolicy"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn lease_shows_holder() {
        let lease = json!({
            "metadata": {"name": "kube-scheduler", "namespace": "kube-system", "creationTimestamp": "2024-05-01T06:30:00Z"},
            "spec": {"holderIdentity": "cp_1234", "leaseDurationSeconds": 15}
        });
        assert_eq!(
            lease_cells(&lease, now()),
            [json!("kube-scheduler"), json!("cp_1234"), json!("3h30m")]
        );
        assert_eq!(lease_cells(&json!({}), now())[1], json!(""));
    }

    #[test]
    fn resource_quota_splits_requests_and_limits() {
        let quota = json!({
            "metadata": {"name": "compute", "creationTimestamp": "2024-05-01T09:00:00Z"},
            "spec": {"hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi"}},
            "status": {
                "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi", "limits.cpu": "2"},
                "used": {"pods": "3", "requests.cpu": "500m", "limits.memory": "512Mi"}
            }
        });
        assert_eq!(
            resource_quota_cells(&quota, now()),
            [
                json!("compute"),
                json!("pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2, limits.memory: 512Mi/2Gi"),
                json!("60m")
            ]
        );
        assert_eq!(
            resource_quota_cells(&json!({}), now())[1..3],
            [json!(""), json!("")]
        );
    }

    #[test]
    fn priority_class_shows_value_default_and_policy() {
        let priority_class = json!({
            "metadata": {"name": "system-cluster-critical", "creationTimestamp": "2024-04-01T10:00:00Z"},
            "value": 2000000000,
            "globalDefault": false,
            "preemptionPolicy": "PreemptLowerPriority"
        });
        assert_eq!(
            priority_class_cells(&priority_class, now()),
            [
                json!("system-cluster-critical"),
                json!(2000000000),
                json!(false),
                json!("30d"),
                json!("PreemptLowerPriority")
            ]
        );
        let summary: Vec<(&str, &str, i32)> = priority_class_columns()
            .iter()
            .map(|column| (column.name, column.column_type, column.priority))
            .collect();
        assert_eq!(
            summary,
            [
                ("Name", "string", 0),
                ("Value", "integer", 0),
                ("Global-Default", "boolean", 0),
                ("Age", "string", 0),
                ("PreemptionPolicy", "string", 0)
            ]
        );
    }

    #[test]
    fn quantities_print_as_stored() {
        assert_eq!(quantity_text(Some(&json!("250m")), "0"), "250m");
        assert_eq!(quantity_text(Some(&json!(3)), "0"), "3");
        assert_eq!(quantity_text(None, "<nil>"), "<nil>");
    }
}
