//! Pod update rules (`ValidatePodUpdate`): a running pod's spec is immutable apart from a few
//! fields.

use serde_json::{Map, Value};

use crate::field_error::FieldError;

/// The fields Kubernetes 1.33 lets a pod update change, exactly as its message lists them.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

pub fn validate_pod_update(pod: &Value, old: &Value) -> Vec<FieldError> {
    let empty = Map::new();
    let new_spec = pod.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let old_spec = old.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let mut errors = Vec::new();
    if let Some(error) = validate_only_added_tolerations(new_spec, old_spec) {
        errors.push(error);
    }
    let mut munged = new_spec.clone();
    for list in ["containers", "initContainers"] {
        copy_images(&mut munged, old_spec, list);
    }
    for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        copy_field(&mut munged, old_spec, field);
    }
    let old_grace = old_spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    let new_grace = new_spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|grace| grace < 0) && new_grace == Some(1) {
        copy_field(&mut munged, old_spec, "terminationGracePeriodSeconds");
    }
    if &munged != old_spec {
        errors.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                spec_difference(old_spec, &munged)
            ),
        ));
    }
    errors
}

/// Replaces each container's image with the old one, so that image changes are not counted.
fn copy_images(munged: &mut Map<String, Value>, old_spec: &Map<String, Value>, list: &str) {
    let old_containers = old_spec.get(list).and_then(Value::as_array);
    let new_containers = munged.get_mut(list).and_then(Value::as_array_mut);
    if let (Some(old_containers), Some(new_containers)) = (old_containers, new_containers)
        && old_containers.len() == new_containers.len()
    {
        for (new_container, old_container) in new_containers.iter_mut().zip(old_containers) {
            if let (Some(new_container), Some(old_image)) =
                (new_container.as_object_mut(), old_container.get("image"))
            {
                new_container.insert("image".to_string(), old_image.clone());
            }
        }
    }
}

fn copy_field(munged: &mut Map<String, Value>, old_spec: &Map<String, Value>, field: &str) {
    match old_spec.get(field) {
        Some(value) => {
            munged.insert(field.to_string(), value.clone());
        }
        None => {
            munged.remove(field);
        }
    }
}

/// `validateOnlyAddedTolerations`: every old toleration must still be there, apart from its
/// `tolerationSeconds`.
fn validate_only_added_tolerations(
    new_spec: &Map<String, Value>,
    old_spec: &Map<String, Value>,
) -> Option<FieldError> {
    let tolerations = |spec: &Map<String, Value>| {
        spec.get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let without_seconds = |toleration: &Value| {
        let mut toleration = toleration.clone();
        if let Some(object) = toleration.as_object_mut() {
            object.remove("tolerationSeconds");
        }
        toleration
    };
    let new_tolerations: Vec<Value> = tolerations(new_spec).iter().map(without_seconds).collect();
    let all_kept = tolerations(old_spec)
        .iter()
        .all(|old_toleration| new_tolerations.contains(&without_seconds(old_toleration)));
    (!all_kept).then(|| {
        FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        )
    })
}

/// A short description of what changed, standing in for the Go struct diff Kubernetes appends.
fn spec_difference(old_spec: &Map<String, Value>, new_spec: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = old_spec.keys().chain(new_spec.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = vec!["  core.PodSpec{".to_string()];
    for key in keys {
        let (old_value, new_value) = (old_spec.get(key), new_spec.get(key));
        if old_value != new_value {
            let render =
                |value: Option<&Value>| value.map_or_else(|| "nil".to_string(), Value::to_string);
            lines.push(format!("- \t{key}: {},", render(old_value)));
            lines.push(format!("+ \t{key}: {},", render(new_value)));
        }
    }
    lines.push("  }".to_string());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(image: &str, port: i64, tolerations: Value) -> Value {
        json!({"spec": {"containers": [{"name": "a", "image": image, "ports": [{"containerPort": port}]}], "tolerations": tolerations}})
    }

    #[test]
    fn image_changes_and_added_tolerations_are_allowed() {
        let old = pod("nginx:1", 80, json!([{"key": "a", "operator": "Exists"}]));
        let new = pod(
            "nginx:2",
            80,
            json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]),
        );
        assert!(validate_pod_update(&new, &old).is_empty());
    }

    #[test]
    fn other_changes_are_forbidden() {
        let old = pod("nginx:1", 80, json!([]));
        let new = pod("nginx:1", 81, json!([]));
        let errors = validate_pod_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message(),
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n- \tcontainers: [{\"image\":\"nginx:1\",\"name\":\"a\",\"ports\":[{\"containerPort\":80}]}],\n+ \tcontainers: [{\"image\":\"nginx:1\",\"name\":\"a\",\"ports\":[{\"containerPort\":81}]}],\n  }"
        );
    }

    #[test]
    fn removing_a_toleration_is_forbidden() {
        let old = pod("nginx:1", 80, json!([{"key": "a", "operator": "Exists"}]));
        let new = pod("nginx:1", 80, json!([]));
        let messages: Vec<String> = validate_pod_update(&new, &old)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(messages, vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds".to_string()]);
    }
}
