//! The LimitRanger admission plugin for pods (`plugin/pkg/admission/limitranger`): fills in
//! default requests and limits from `Container` limits, then enforces `min`, `max` and
//! `maxLimitRequestRatio` for `Container` and `Pod` limits. Kubernetes runs it on pod creates
//! only (containers' resources cannot change through a pod update).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pod_resources::{ResourceList, parse_resource_list, pod_resources};
use crate::quantity::Quantity;

/// The annotation LimitRanger records its defaults in.
pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// A pod that violates a LimitRange. The text is what Kubernetes puts after
/// `pods "<name>" is forbidden: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitRangeError {
    #[error("{}", aggregate_message(.messages))]
    Violations { messages: Vec<String> },
}

/// Go's `utilerrors.NewAggregate(...).Error()`: one message alone, several in brackets.
fn aggregate_message(messages: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    match unique.as_slice() {
        [single] => (*single).clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|message| message.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Applies every LimitRange in order, stopping at the first one the pod violates, as the
/// plugin does.
pub fn admit_pod(pod: &mut Value, limit_ranges: &[Value]) -> Result<(), LimitRangeError> {
    for limit_range in limit_ranges {
        let items = limit_range
            .pointer("/spec/limits")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        apply_container_defaults(pod, items);
        let messages = check_constraints(pod, items);
        if !messages.is_empty() {
            return Err(LimitRangeError::Violations { messages });
        }
    }
    Ok(())
}

/// `defaultContainerResourceRequirements` and `mergePodResourceRequirements`.
fn apply_container_defaults(pod: &mut Value, items: &[Value]) {
    let mut default_requests = Map::new();
    let mut default_limits = Map::new();
    for item in items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("Container"))
    {
        if let Some(requests) = item.get("defaultRequest").and_then(Value::as_object) {
            default_requests.extend(requests.clone());
        }
        if let Some(limits) = item.get("default").and_then(Value::as_object) {
            default_limits.extend(limits.clone());
        }
    }
    let mut notes = Vec::new();
    for (list, label) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let set_limits = merge_defaults(container, "limits", &default_limits);
            let set_requests = merge_defaults(container, "requests", &default_requests);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {label} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {label} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let annotation = format!("LimitRanger plugin set: {}", notes.join("; "));
    if let Some(pod) = pod.as_object_mut()
        && let Some(metadata) = crate::json::child_object(pod, "metadata")
        && let Some(annotations) = crate::json::child_object(metadata, "annotations")
    {
        annotations.insert(
            LIMIT_RANGER_ANNOTATION.to_string(),
            Value::String(annotation),
        );
    }
}

/// Adds each default the container lacks; returns the resource names set, sorted.
fn merge_defaults(
    container: &mut Map<String, Value>,
    which: &str,
    defaults: &Map<String, Value>,
) -> Vec<String> {
    let mut set = Vec::new();
    if defaults.is_empty() {
        return set;
    }
    let Some(resources) = crate::json::child_object(container, "resources") else {
        return set;
    };
    let Some(list) = crate::json::child_object(resources, which) else {
        return set;
    };
    for (name, value) in defaults {
        if !list.contains_key(name) {
            list.insert(name.clone(), value.clone());
            set.push(name.clone());
        }
    }
    set.sort();
    set
}

/// Checks every `min`, `max` and `maxLimitRequestRatio` of every item, in Kubernetes' order
/// (resource names sorted within each list).
fn check_constraints(pod: &Value, items: &[Value]) -> Vec<String> {
    let mut messages = Vec::new();
    for item in items {
        let limit_type = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let subjects: Vec<(ResourceList, ResourceList)> = match limit_type {
            "Container" => ["containers", "initContainers"]
                .iter()
                .flat_map(|list| {
                    pod.pointer(&format!("/spec/{list}"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .map(|container| {
                    (
                        parse_resource_list(container.pointer("/resources/requests")),
                        parse_resource_list(container.pointer("/resources/limits")),
                    )
                })
                .collect(),
            "Pod" => vec![(pod_resources(pod, "requests"), pod_resources(pod, "limits"))],
            _ => Vec::new(),
        };
        let constraints = |name: &str| parse_resource_list(item.get(name));
        let (minimums, maximums, ratios) = (
            constraints("min"),
            constraints("max"),
            constraints("maxLimitRequestRatio"),
        );
        for (requests, limits) in &subjects {
            let checks = Constraint {
                limit_type,
                requests,
                limits,
            };
            messages.extend(
                minimums
                    .iter()
                    .filter_map(|(name, enforced)| checks.minimum(name, enforced)),
            );
            messages.extend(
                maximums
                    .iter()
                    .filter_map(|(name, enforced)| checks.maximum(name, enforced)),
            );
            messages.extend(
                ratios
                    .iter()
                    .filter_map(|(name, enforced)| checks.ratio(name, enforced)),
            );
        }
    }
    messages
}

/// The requests and limits of one container (or of the whole pod) under one LimitRange item.
struct Constraint<'a> {
    limit_type: &'a str,
    requests: &'a BTreeMap<String, Quantity>,
    limits: &'a BTreeMap<String, Quantity>,
}

impl Constraint<'_> {
    /// `minConstraint`.
    fn minimum(&self, name: &str, enforced: &Quantity) -> Option<String> {
        let limit_type = self.limit_type;
        let Some(request) = self.requests.get(name) else {
            return Some(format!(
                "Minimum {name} usage per {limit_type} is {enforced}.  No request is specified."
            ));
        };
        if request.milli_value() < enforced.milli_value() {
            return Some(format!(
                "Minimum {name} usage per {limit_type} is {enforced}, but request is {request}."
            ));
        }
        match self.limits.get(name) {
            Some(limit) if limit.milli_value() < enforced.milli_value() => Some(format!(
                "Minimum {name} usage per {limit_type} is {enforced}, but limit is {limit}."
            )),
            _ => None,
        }
    }

    /// `maxConstraint`.
    fn maximum(&self, name: &str, enforced: &Quantity) -> Option<String> {
        let limit_type = self.limit_type;
        let Some(limit) = self.limits.get(name) else {
            return Some(format!(
                "Maximum {name} usage per {limit_type} is {enforced}.  No limit is specified."
            ));
        };
        if limit.milli_value() > enforced.milli_value() {
            return Some(format!(
                "Maximum {name} usage per {limit_type} is {enforced}, but limit is {limit}."
            ));
        }
        match self.requests.get(name) {
            Some(request) if request.milli_value() > enforced.milli_value() => Some(format!(
                "Maximum {name} usage per {limit_type} is {enforced}, but request is {request}."
            )),
            _ => None,
        }
    }

    /// `limitRequestRatioConstraint`; the ratio is compared exactly and printed like Go's `%f`.
    fn ratio(&self, name: &str, enforced: &Quantity) -> Option<String> {
        let limit_type = self.limit_type;
        let request = self
            .requests
            .get(name)
            .map(Quantity::milli_value)
            .unwrap_or_default();
        if request == 0 {
            return Some(format!(
                "{name} max limit to request ratio per {limit_type} is {enforced}, but no request is specified or request is 0."
            ));
        }
        let limit = self
            .limits
            .get(name)
            .map(Quantity::milli_value)
            .unwrap_or_default();
        if limit == 0 {
            return Some(format!(
                "{name} max limit to request ratio per {limit_type} is {enforced}, but no limit is specified or limit is 0."
            ));
        }
        if limit.saturating_mul(1000) > enforced.milli_value().saturating_mul(request) {
            let observed = limit as f64 / request as f64;
            return Some(format!(
                "{name} max limit to request ratio per {limit_type} is {enforced}, but provided ratio is {observed:.6}."
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limit_range(limits: Value) -> Value {
        json!({"metadata": {"name": "limits"}, "spec": {"limits": limits}})
    }

    #[test]
    fn defaults_are_filled_and_annotated() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "1"}}}]}});
        let ranges = [limit_range(
            json!([{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}]),
        )];
        assert_eq!(admit_pod(&mut pod, &ranges), Ok(()));
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
        );
        assert_eq!(
            pod["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container app; memory limit for container app"
        );
    }

    #[test]
    fn maximum_and_minimum_violations() {
        let mut pod = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "2Gi"}, "requests": {"memory": "2Gi"}}}]}});
        let ranges = [limit_range(
            json!([{"type": "Container", "max": {"memory": "1Gi"}}]),
        )];
        let error = admit_pod(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Maximum memory usage per Container is 1Gi, but limit is 2Gi."
        );
        let mut pod = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "50m"}, "requests": {"cpu": "50m"}}}]}});
        let ranges = [limit_range(
            json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}, "default": {}}]),
        )];
        let error = admit_pod(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "[Minimum cpu usage per Container is 100m, but request is 50m., Maximum memory usage per Container is 1Gi.  No limit is specified.]"
        );
    }

    #[test]
    fn pod_totals_and_ratios() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m"}}},
            {"name": "b", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m"}}}
        ]}});
        let ranges = [limit_range(
            json!([{"type": "Pod", "max": {"cpu": "1500m"}, "maxLimitRequestRatio": {"cpu": "2"}}]),
        )];
        let error = admit_pod(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "[Maximum cpu usage per Pod is 1500m, but limit is 2., cpu max limit to request ratio per Pod is 2, but provided ratio is 4.000000.]"
        );
        let mut fitting = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]}});
        assert_eq!(admit_pod(&mut fitting, &ranges), Ok(()));
        assert_eq!(admit_pod(&mut fitting, &[]), Ok(()));
    }
}
