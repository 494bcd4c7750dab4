//! The LimitRanger admission plugin (`plugin/pkg/admission/limitranger`). Its mutating half fills
//! in pods' default requests and limits from `Container` limits; its validating half enforces
//! `min`, `max` and `maxLimitRequestRatio` of `Container` and `Pod` limits on pods, and `min` and
//! `max` of `PersistentVolumeClaim` limits on claims' storage requests.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pod_resources::{ResourceList, container_resources, parse_resource_list};
use crate::quantity::Quantity;

/// The annotation LimitRanger records its defaults in.
pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// An object that violates a LimitRange. The text is what Kubernetes puts after
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

/// Whether LimitRanger looks at a write of this kind: pod creates (a pod's containers cannot
/// change afterwards) and claim creates and updates.
pub fn handles(kind: &str, creating: bool) -> bool {
    match kind {
        "Pod" => creating,
        "PersistentVolumeClaim" => true,
        _ => false,
    }
}

fn items(limit_range: &Value) -> &[Value] {
    limit_range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// The mutating half: applies each LimitRange's container defaults in turn. Only pods get
/// defaults; a claim must state its storage request itself.
pub fn apply_defaults(kind: &str, object: &mut Value, limit_ranges: &[Value]) {
    if kind != "Pod" {
        return;
    }
    for limit_range in limit_ranges {
        apply_container_defaults(object, items(limit_range));
    }
}

/// The validating half: checks the LimitRanges in order and reports the violations of the first
/// one the object breaks, as the plugin does.
pub fn validate(kind: &str, object: &Value, limit_ranges: &[Value]) -> Result<(), LimitRangeError> {
    for limit_range in limit_ranges {
        let messages = match kind {
            "Pod" => check_pod(object, items(limit_range)),
            "PersistentVolumeClaim" => check_claim(object, items(limit_range)),
            _ => Vec::new(),
        };
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

/// `PodValidateLimitFunc`: every `min`, `max` and `maxLimitRequestRatio` of every item, per
/// container for `Container` items and on the pod's totals for `Pod` items (resource names
/// sorted within each list, where Go's map order is random).
fn check_pod(pod: &Value, items: &[Value]) -> Vec<String> {
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
            "Pod" => vec![(
                container_resources(pod, "requests"),
                container_resources(pod, "limits"),
            )],
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

/// `PersistentVolumeClaimValidateLimitFunc`: `min` and `max` of `PersistentVolumeClaim` items
/// against the claim's requests; a claim's limits are not user input, so they are ignored.
fn check_claim(claim: &Value, items: &[Value]) -> Vec<String> {
    let requests = parse_resource_list(claim.pointer("/spec/resources/requests"));
    let no_limits = ResourceList::new();
    let checks = Constraint {
        limit_type: "PersistentVolumeClaim",
        requests: &requests,
        limits: &no_limits,
    };
    let mut messages = Vec::new();
    for item in items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("PersistentVolumeClaim"))
    {
        messages.extend(
            parse_resource_list(item.get("min"))
                .iter()
                .filter_map(|(name, enforced)| checks.minimum(name, enforced)),
        );
        messages.extend(
            parse_resource_list(item.get("max"))
                .iter()
                .filter_map(|(name, enforced)| checks.maximum_request(name, enforced)),
        );
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
                "minimum {name} usage per {limit_type} is {enforced}.  No request is specified"
            ));
        };
        if request.milli_value() < enforced.milli_value() {
            return Some(format!(
                "minimum {name} usage per {limit_type} is {enforced}, but request is {request}"
            ));
        }
        match self.limits.get(name) {
            Some(limit) if limit.milli_value() < enforced.milli_value() => Some(format!(
                "minimum {name} usage per {limit_type} is {enforced}, but limit is {limit}"
            )),
            _ => None,
        }
    }

    /// `maxConstraint`.
    fn maximum(&self, name: &str, enforced: &Quantity) -> Option<String> {
        let limit_type = self.limit_type;
        let Some(limit) = self.limits.get(name) else {
            return Some(format!(
                "maximum {name} usage per {limit_type} is {enforced}.  No limit is specified"
            ));
        };
        if limit.milli_value() > enforced.milli_value() {
            return Some(format!(
                "maximum {name} usage per {limit_type} is {enforced}, but limit is {limit}"
            ));
        }
        match self.requests.get(name) {
            Some(request) if request.milli_value() > enforced.milli_value() => Some(format!(
                "maximum {name} usage per {limit_type} is {enforced}, but request is {request}"
            )),
            _ => None,
        }
    }

    /// `maxRequestConstraint`, for kinds whose limits are not user input.
    fn maximum_request(&self, name: &str, enforced: &Quantity) -> Option<String> {
        let limit_type = self.limit_type;
        let Some(request) = self.requests.get(name) else {
            return Some(format!(
                "maximum {name} usage per {limit_type} is {enforced}.  No request is specified"
            ));
        };
        (request.milli_value() > enforced.milli_value()).then(|| {
            format!("maximum {name} usage per {limit_type} is {enforced}, but request is {request}")
        })
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
                "{name} max limit to request ratio per {limit_type} is {enforced}, but no request is specified or request is 0"
            ));
        }
        let limit = self
            .limits
            .get(name)
            .map(Quantity::milli_value)
            .unwrap_or_default();
        if limit == 0 {
            return Some(format!(
                "{name} max limit to request ratio per {limit_type} is {enforced}, but no limit is specified or limit is 0"
            ));
        }
        if limit.saturating_mul(1000) > enforced.milli_value().saturating_mul(request) {
            let observed = limit as f64 / request as f64;
            return Some(format!(
                "{name} max limit to request ratio per {limit_type} is {enforced}, but provided ratio is {observed:.6}"
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

    /// Both halves, as the API server runs them on a pod create.
    fn admit(pod: &mut Value, ranges: &[Value]) -> Result<(), LimitRangeError> {
        apply_defaults("Pod", pod, ranges);
        validate("Pod", pod, ranges)
    }

    #[test]
    fn defaults_are_filled_and_annotated() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "app", "resources": {"limits": {"cpu": "1"}}}],
            "initContainers": [{"name": "setup"}]
        }});
        let ranges = [limit_range(
            json!([{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}]),
        )];
        assert_eq!(admit(&mut pod, &ranges), Ok(()));
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
        );
        assert_eq!(
            pod["spec"]["initContainers"][0]["resources"]["limits"],
            json!({"cpu": "500m", "memory": "512Mi"})
        );
        assert_eq!(
            pod["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container app; memory limit for container app; cpu, memory request for init container setup; cpu, memory limit for init container setup"
        );
        let mut untouched = json!({"spec": {"containers": [{"name": "app"}]}});
        apply_defaults(
            "Pod",
            &mut untouched,
            &[limit_range(json!([{"type": "Pod", "max": {"cpu": "1"}}]))],
        );
        assert_eq!(
            untouched,
            json!({"spec": {"containers": [{"name": "app"}]}})
        );
    }

    #[test]
    fn maximum_and_minimum_violations() {
        let mut pod = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "2Gi"}, "requests": {"memory": "2Gi"}}}]}});
        let ranges = [limit_range(
            json!([{"type": "Container", "max": {"memory": "1Gi"}}]),
        )];
        let error = admit(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "maximum memory usage per Container is 1Gi, but limit is 2Gi"
        );
        let mut pod = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "50m"}, "requests": {"cpu": "50m"}}}]}});
        let ranges = [limit_range(
            json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}, "default": {}}]),
        )];
        let error = admit(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "[minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi.  No limit is specified]"
        );
    }

    #[test]
    fn the_first_violated_range_is_reported() {
        let pod = json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": "2"}, "requests": {"cpu": "2"}}}]}});
        let ranges = [
            limit_range(json!([{"type": "Container", "max": {"cpu": "4"}}])),
            limit_range(json!([{"type": "Container", "max": {"cpu": "1"}}])),
            limit_range(json!([{"type": "Container", "max": {"cpu": "500m"}}])),
        ];
        assert_eq!(
            validate("Pod", &pod, &ranges).unwrap_err().to_string(),
            "maximum cpu usage per Container is 1, but limit is 2"
        );
        assert_eq!(validate("ConfigMap", &json!({}), &ranges), Ok(()));
        assert!(handles("Pod", true) && !handles("Pod", false));
        assert!(handles("PersistentVolumeClaim", false) && !handles("Service", true));
    }

    #[test]
    fn pod_totals_and_ratios() {
        let mut pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m"}}}
            ],
            "overhead": {"cpu": "10"}
        }});
        let ranges = [limit_range(
            json!([{"type": "Pod", "max": {"cpu": "1500m"}, "maxLimitRequestRatio": {"cpu": "2"}}]),
        )];
        let error = admit(&mut pod, &ranges).unwrap_err();
        assert_eq!(
            error.to_string(),
            "[maximum cpu usage per Pod is 1500m, but limit is 2, cpu max limit to request ratio per Pod is 2, but provided ratio is 4.000000]"
        );
        let mut fitting = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]}});
        assert_eq!(admit(&mut fitting, &ranges), Ok(()));
        assert_eq!(admit(&mut fitting, &[]), Ok(()));
    }

    #[test]
    fn claims_are_held_to_their_storage_request() {
        let ranges = [limit_range(
            json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]),
        )];
        let claim = |storage: &str| json!({"spec": {"resources": {"requests": {"storage": storage}, "limits": {"storage": "100Gi"}}}});
        let refusal = |claim: &Value| {
            validate("PersistentVolumeClaim", claim, &ranges)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            validate("PersistentVolumeClaim", &claim("5Gi"), &ranges),
            Ok(())
        );
        assert_eq!(
            refusal(&claim("20Gi")),
            "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
        );
        assert_eq!(
            refusal(&claim("500Mi")),
            "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
        );
        assert_eq!(
            refusal(&json!({"spec": {}})),
            "[minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]"
        );
    }
}
