//! A container's own `restartPolicy`, which makes an init container a native sidecar, as
//! Kubernetes 1.33 validates it (`validateInitContainers`, `validateContainers`): on an
//! init container only `Always`, on an app container not at all; and the fields only a
//! running container can use (lifecycle hooks, probes) only on sidecars among the init
//! containers.

use serde_json::{Value, json};

use crate::field_error::FieldError;

const RUNNING_CONTAINER_FIELDS: [&str; 4] = [
    "lifecycle",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
];

/// `list` is `containers` or `initContainers`; `path` the container's own path.
pub fn validate_container_restart_policy(
    list: &str,
    container: &Value,
    path: &str,
) -> Vec<FieldError> {
    let restart_policy = container
        .get("restartPolicy")
        .filter(|value| !value.is_null());
    if list != "initContainers" {
        return restart_policy
            .map(|_| {
                FieldError::forbidden(
                    format!("{path}.restartPolicy"),
                    "may not be set for non-init containers",
                )
            })
            .into_iter()
            .collect();
    }
    let mut errors = Vec::new();
    let sidecar = match restart_policy {
        None => false,
        Some(value) if value.as_str() == Some("Always") => true,
        Some(value) => {
            errors.push(FieldError::not_supported(
                format!("{path}.restartPolicy"),
                json!(value),
                &["Always"],
            ));
            false
        }
    };
    if !sidecar {
        for field in RUNNING_CONTAINER_FIELDS {
            if container.get(field).is_some_and(|value| !value.is_null()) {
                errors.push(FieldError::forbidden(
                    format!("{path}.{field}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::pod::tests::{container, messages, spec_with};
    use serde_json::json;

    #[test]
    fn init_containers_may_be_sidecars_and_app_containers_may_not_say_so() {
        let mut spec = spec_with(json!([container(json!({"restartPolicy": "Always"}))]));
        spec["initContainers"] = json!([
            container(
                json!({"name": "proxy", "restartPolicy": "Always", "readinessProbe": {"tcpSocket": {"port": 80}}})
            ),
            container(
                json!({"name": "setup", "restartPolicy": "Never", "startupProbe": {"tcpSocket": {"port": 80}}})
            ),
        ]);
        assert_eq!(
            messages(spec),
            vec![
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers".to_string(),
                "spec.initContainers[1].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"".to_string(),
                "spec.initContainers[1].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always".to_string(),
            ]
        );
    }
}
