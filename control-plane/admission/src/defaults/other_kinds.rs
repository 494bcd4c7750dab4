//! Defaulting of the remaining built-in kinds: Secret, Namespace, HorizontalPodAutoscaler,
//! PriorityClass, PersistentVolume(Claim), LimitRange and ResourceQuota.

use serde_json::{Map, Value, json};

use crate::defaults::pod::round_resource_list;
use crate::json::{
    child_object, default_field, default_text, existing_child_object, objects_in_array,
};

/// `SetDefaults_Secret`.
pub fn apply_secret_defaults(object: &mut Map<String, Value>) {
    default_text(object, "type", "Opaque");
}

/// `SetDefaults_Namespace` and `SetDefaults_NamespaceStatus`, plus the `kubernetes` finalizer the
/// namespace registry strategy adds on create. The name label needs the final name, so call
/// this after `generateName` has been resolved.
pub fn apply_namespace_defaults(object: &mut Map<String, Value>) {
    let name = object
        .get("metadata")
        .and_then(|metadata| metadata.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !name.is_empty()
        && let Some(metadata) = child_object(object, "metadata")
        && let Some(labels) = child_object(metadata, "labels")
    {
        labels.insert(
            "kubernetes.io/metadata.name".to_string(),
            Value::String(name),
        );
    }
    if let Some(spec) = child_object(object, "spec") {
        default_field(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = child_object(object, "status") {
        default_text(status, "phase", "Active");
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` for `autoscaling/v2` (and the same stored defaults
/// seen through `autoscaling/v1`).
pub fn apply_horizontal_pod_autoscaler_defaults(object: &mut Map<String, Value>) {
    let is_v1 = object.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_field(spec, "minReplicas", json!(1));
    if is_v1 {
        default_field(spec, "targetCPUUtilizationPercentage", json!(80));
        return;
    }
    let has_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_some_and(|metrics| !metrics.is_empty());
    if !has_metrics {
        spec.insert(
            "metrics".to_string(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    if let Some(behavior) = existing_child_object(spec, "behavior") {
        let scale_up = json!({
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]
        });
        let scale_down = json!({
            "stabilizationWindowSeconds": 300,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
        });
        for (direction, defaults) in [("scaleUp", scale_up), ("scaleDown", scale_down)] {
            if let (Some(rules), Value::Object(defaults)) =
                (child_object(behavior, direction), defaults)
            {
                for (key, default) in defaults {
                    default_field(rules, &key, default);
                }
            }
        }
    }
}

/// `SetDefaults_PriorityClass`.
pub fn apply_priority_class_defaults(object: &mut Map<String, Value>) {
    default_text(object, "preemptionPolicy", "PreemptLowerPriority");
}

/// `SetDefaults_PersistentVolume`.
pub fn apply_persistent_volume_defaults(object: &mut Map<String, Value>) {
    if let Some(spec) = child_object(object, "spec") {
        default_text(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_text(spec, "volumeMode", "Filesystem");
        if let Some(capacity) = existing_child_object(spec, "capacity") {
            round_resource_list(capacity);
        }
    }
    if let Some(status) = child_object(object, "status") {
        default_text(status, "phase", "Pending");
    }
}

/// `SetDefaults_PersistentVolumeClaim` and `SetDefaults_PersistentVolumeClaimSpec`.
pub fn apply_persistent_volume_claim_defaults(object: &mut Map<String, Value>) {
    if let Some(spec) = child_object(object, "spec") {
        default_text(spec, "volumeMode", "Filesystem");
        if let Some(resources) = existing_child_object(spec, "resources") {
            for list in ["limits", "requests"] {
                if let Some(list) = existing_child_object(resources, list) {
                    round_resource_list(list);
                }
            }
        }
    }
    if let Some(status) = child_object(object, "status") {
        default_text(status, "phase", "Pending");
    }
}

/// `SetDefaults_LimitRangeItem`: for Container limits, the default limit falls back to max and
/// the default request to the default limit, then to min.
pub fn apply_limit_range_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = existing_child_object(object, "spec") else {
        return;
    };
    for item in objects_in_array(spec, "limits") {
        for list in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            if let Some(list) = existing_child_object(item, list) {
                round_resource_list(list);
            }
        }
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let list_of = |item: &Map<String, Value>, name: &str| {
            item.get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (max, min) = (list_of(item, "max"), list_of(item, "min"));
        let mut default_limits = list_of(item, "default");
        for (resource_name, value) in max {
            default_limits.entry(resource_name).or_insert(value);
        }
        let mut default_requests = list_of(item, "defaultRequest");
        for (resource_name, value) in default_limits.iter().chain(min.iter()) {
            default_requests
                .entry(resource_name.clone())
                .or_insert(value.clone());
        }
        item.insert("default".to_string(), Value::Object(default_limits));
        item.insert(
            "defaultRequest".to_string(),
            Value::Object(default_requests),
        );
    }
}

/// Resource lists in a quota are rounded like every other resource list.
pub fn apply_resource_quota_defaults(object: &mut Map<String, Value>) {
    if let Some(hard) =
        existing_child_object(object, "spec").and_then(|spec| existing_child_object(spec, "hard"))
    {
        round_resource_list(hard);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn defaulted(kind: &str, object: serde_json::Value) -> serde_json::Value {
        let mut object = object;
        crate::apply_defaults(kind, &mut object);
        object
    }

    #[test]
    fn secret_namespace_priority_class() {
        assert_eq!(defaulted("Secret", json!({"data": {}}))["type"], "Opaque");
        assert_eq!(
            defaulted("Secret", json!({"type": "kubernetes.io/tls"}))["type"],
            "kubernetes.io/tls"
        );
        let namespace = defaulted("Namespace", json!({"metadata": {"name": "team-a"}}));
        assert_eq!(
            namespace,
            json!({
                "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}
            })
        );
        assert_eq!(
            defaulted("PriorityClass", json!({"value": 10}))["preemptionPolicy"],
            "PreemptLowerPriority"
        );
        assert_eq!(defaulted("Unknown", json!({"a": 1})), json!({"a": 1}));
    }

    #[test]
    fn horizontal_pod_autoscaler() {
        let v2 = defaulted(
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        assert_eq!(v2["spec"]["minReplicas"], 1);
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert_eq!(
            v2["spec"]["behavior"]["scaleDown"],
            json!({"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
        );
        assert_eq!(
            v2["spec"]["behavior"]["scaleUp"]["policies"][0],
            json!({"type": "Pods", "value": 4, "periodSeconds": 15})
        );
        let v1 = defaulted(
            "HorizontalPodAutoscaler",
            json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 5}}),
        );
        assert_eq!(
            v1["spec"],
            json!({"maxReplicas": 5, "minReplicas": 1, "targetCPUUtilizationPercentage": 80})
        );
    }

    #[test]
    fn volumes_limit_ranges_and_quotas() {
        let claim = defaulted(
            "PersistentVolumeClaim",
            json!({"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}),
        );
        assert_eq!(
            claim,
            json!({"spec": {"volumeMode": "Filesystem", "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}})
        );
        let volume = defaulted("PersistentVolume", json!({"spec": {}}));
        assert_eq!(
            volume,
            json!({"spec": {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
        );
        let limit_range = defaulted(
            "LimitRange",
            json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}),
        );
        assert_eq!(
            limit_range["spec"]["limits"][0],
            json!({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2", "memory": "64Mi"}})
        );
        let quota = defaulted(
            "ResourceQuota",
            json!({"spec": {"hard": {"cpu": "1000m", "pods": "10"}}}),
        );
        assert_eq!(quota["spec"]["hard"], json!({"cpu": "1", "pods": "10"}));
    }
}
