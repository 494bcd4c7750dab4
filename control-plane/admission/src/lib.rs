//! Kubernetes defaulting, validation, LimitRange and ResourceQuota arithmetic for built-in kinds.
//!
//! Everything here is pure: it works on `serde_json::Value` objects as the API server holds them
//! and never touches the store. Behaviour and messages follow Kubernetes 1.33 (`SetDefaults_*`,
//! `pkg/apis/*/validation`, the LimitRanger and ResourceQuota admission plugins).
//!
//! The functions work on JSON rather than typed `k8s-openapi` structs on purpose: a round trip
//! through typed structs would drop fields this version does not know and would fail on
//! malformed input before validation could report it field by field.

pub mod default_toleration_seconds;
mod defaults;
mod field_error;
mod json;
mod labels;
pub mod limit_range;
mod names;
mod pod_resources;
pub mod priority;
pub mod quantity;
pub mod quota;
pub mod service_account;
mod validation;

pub use field_error::{FieldError, FieldErrorReason, go_quote};
pub use labels::{qualified_name_problems, selector_matches};
pub use names::NameRule;
pub use pod_resources::qos_class;

/// Kubernetes' defaulting (`SetDefaults_*`, plus the registry's create-time defaults the brief
/// asks for, such as a Namespace's `kubernetes` finalizer) for a kind, in place. Unknown kinds
/// are left unchanged.
pub fn apply_defaults(kind: &str, object: &mut serde_json::Value) {
    defaults::apply_defaults(kind, object);
}

/// What is filled in only when an object is created, after the server has given it
/// its name and uid: a pod's default service account, a Job's generated selector.
pub fn apply_create_time_defaults(kind: &str, object: &mut serde_json::Value) {
    defaults::apply_create_time_defaults(kind, object);
}

/// Validation of a create (`old` is `None`) or an update (`old` is the stored object). Returns
/// every problem found, in the order Kubernetes reports them.
pub fn validate(
    kind: &str,
    object: &serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<(), Vec<FieldError>> {
    let errors = validation::validate(kind, object, old);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaulted_objects_validate_and_decode_as_typed_kubernetes_objects() {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}
        });
        apply_defaults("Pod", &mut pod);
        assert_eq!(validate("Pod", &pod, None), Ok(()));
        let typed: Result<k8s_openapi::api::core::v1::Pod, _> = serde_json::from_value(pod);
        assert_eq!(
            typed
                .ok()
                .and_then(|pod| pod.spec)
                .and_then(|spec| spec.restart_policy),
            Some("Always".to_string())
        );

        let mut deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
        });
        apply_defaults("Deployment", &mut deployment);
        assert_eq!(validate("Deployment", &deployment, None), Ok(()));
        let typed: Result<k8s_openapi::api::apps::v1::Deployment, _> =
            serde_json::from_value(deployment);
        assert_eq!(
            typed
                .ok()
                .and_then(|deployment| deployment.spec)
                .and_then(|spec| spec.replicas),
            Some(1)
        );
    }

    #[test]
    fn invalid_objects_report_every_problem() {
        let service = json!({"metadata": {"name": "1bad", "namespace": "default"}, "spec": {"type": "ClusterIP"}});
        let errors = validate("Service", &service, None).unwrap_err();
        let messages: Vec<String> = errors.iter().map(FieldError::message).collect();
        assert_eq!(
            messages,
            vec![
                "metadata.name: Invalid value: \"1bad\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string(),
                "spec.ports: Required value".to_string(),
            ]
        );
        assert_eq!(errors[1].reason.cause_type(), "FieldValueRequired");
    }
}
