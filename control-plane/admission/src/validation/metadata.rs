//! `ObjectMeta` validation (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`).

use serde_json::{Value, json};

use super::{immutable_field, nonnegative_field};
use crate::field_error::FieldError;
use crate::labels::{qualified_name_problems, validate_annotations, validate_labels};
use crate::names::NameRule;

/// Kinds that live outside namespaces; a namespace on them is forbidden.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "IngressClass",
    "RuntimeClass",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "ComponentStatus",
];

/// Built-in kinds that always live in a namespace; one is required.
const NAMESPACED_KINDS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "ReplicationController",
    "LimitRange",
    "ResourceQuota",
    "Event",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "ControllerRevision",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "Ingress",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Role",
    "RoleBinding",
    "Lease",
];

pub fn validate_object_meta(kind: &str, object: &Value) -> Vec<FieldError> {
    let metadata = object.get("metadata").unwrap_or(&Value::Null);
    let text = |key: &str| {
        metadata
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let rule = NameRule::for_kind(kind);
    let mut errors = Vec::new();
    let generate_name = text("generateName");
    if !generate_name.is_empty() {
        for problem in rule.problems(generate_name, true) {
            errors.push(FieldError::invalid(
                "metadata.generateName",
                json!(generate_name),
                problem,
            ));
        }
    }
    let name = text("name");
    if name.is_empty() {
        // The API server fills the name from generateName before validating, so only a
        // request with neither is missing its name.
        if generate_name.is_empty() {
            errors.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for problem in rule.problems(name, false) {
            errors.push(FieldError::invalid("metadata.name", json!(name), problem));
        }
    }
    let namespace = text("namespace");
    if CLUSTER_SCOPED_KINDS.contains(&kind) {
        if !namespace.is_empty() {
            errors.push(FieldError::forbidden(
                "metadata.namespace",
                "not allowed on this type",
            ));
        }
    } else if NAMESPACED_KINDS.contains(&kind) {
        if namespace.is_empty() {
            errors.push(FieldError::required("metadata.namespace", ""));
        } else {
            for problem in NameRule::Dns1123Label.problems(namespace, false) {
                errors.push(FieldError::invalid(
                    "metadata.namespace",
                    json!(namespace),
                    problem,
                ));
            }
        }
    }
    errors.extend(nonnegative_field(
        metadata,
        "/generation",
        "metadata.generation",
    ));
    errors.extend(validate_labels(metadata.get("labels"), "metadata.labels"));
    errors.extend(validate_annotations(
        metadata.get("annotations"),
        "metadata.annotations",
    ));
    let finalizers = metadata.get("finalizers").and_then(Value::as_array);
    for finalizer in finalizers.into_iter().flatten().filter_map(Value::as_str) {
        for problem in qualified_name_problems(finalizer) {
            errors.push(FieldError::invalid(
                "metadata.finalizers",
                json!(finalizer),
                problem,
            ));
        }
    }
    errors
}

/// `ValidateObjectMetaUpdate`: identity fields may not change.
pub fn validate_object_meta_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let pointer = format!("/metadata/{field}");
        let old_value = old.pointer(&pointer).unwrap_or(&Value::Null);
        // A field the client left out of an update keeps its stored value; only a different
        // value is a change.
        let new_value = object.pointer(&pointer).unwrap_or(&Value::Null);
        if !new_value.is_null() && !old_value.is_null() {
            errors.extend(immutable_field(
                object,
                old,
                &pointer,
                &format!("metadata.{field}"),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn names_namespaces_and_generate_name() {
        assert_eq!(
            messages(validate_object_meta("ConfigMap", &json!({"metadata": {"name": "A_B", "namespace": "default"}}))),
            vec!["metadata.name: Invalid value: \"A_B\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]
        );
        assert_eq!(
            messages(validate_object_meta("Pod", &json!({"metadata": {}}))),
            vec![
                "metadata.name: Required value: name or generateName is required".to_string(),
                "metadata.namespace: Required value".to_string()
            ]
        );
        assert!(
            validate_object_meta(
                "Pod",
                &json!({"metadata": {"generateName": "web-", "namespace": "default"}})
            )
            .is_empty()
        );
        assert_eq!(
            messages(validate_object_meta(
                "Namespace",
                &json!({"metadata": {"name": "a.b", "namespace": "x"}})
            )),
            vec![
                "metadata.name: Invalid value: \"a.b\": must not contain dots".to_string(),
                "metadata.namespace: Forbidden: not allowed on this type".to_string()
            ]
        );
        assert!(validate_object_meta("Widget", &json!({"metadata": {"name": "w"}})).is_empty());
    }

    #[test]
    fn identity_fields_are_immutable() {
        let old = json!({"metadata": {"name": "a", "uid": "1"}});
        let new = json!({"metadata": {"name": "b", "uid": "1"}});
        assert_eq!(
            messages(validate_object_meta_update(&new, &old)),
            vec!["metadata.name: Invalid value: \"b\": field is immutable".to_string()]
        );
        assert!(validate_object_meta_update(&json!({"metadata": {"name": "a"}}), &old).is_empty());
    }
}
