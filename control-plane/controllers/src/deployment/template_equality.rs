//! Whether a ReplicaSet's pod template is the Deployment's (`EqualIgnoreHash`), which
//! decides which ReplicaSet is the new one and makes a rollback reuse the ReplicaSet of the
//! template it goes back to.
//!
//! Kubernetes compares Go structs, where a missing field, an empty one and, for a plain
//! (not pointer) field, its zero value are all the same. The same template reaches this
//! API server in different spellings: a protobuf client writes plain fields even when they
//! are `false` or `0`, while `kubectl rollout undo` patches in JSON that leaves them out.
//! So templates are compared as JSON with those differences removed.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

use super::replica_sets::POD_TEMPLATE_HASH_LABEL;

/// The plain fields of a pod template (Go `bool` and integer fields marked `omitempty`),
/// whose zero value is the same as their absence. Pointer fields are not among them: for
/// those (`allowPrivilegeEscalation: false`, `runAsUser: 0`) an explicit zero means
/// something.
const PLAIN_FIELDS: &[&str] = &[
    "generation",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "stdin",
    "stdinOnce",
    "tty",
    "readOnly",
    "hostPort",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "partition",
    "sslEnabled",
    "chapAuthDiscovery",
    "chapAuthSession",
];

/// The volume sources whose `readOnly` is a pointer.
const POINTER_READ_ONLY_SOURCES: &[&str] = &["csi", "azureDisk"];

/// Whether two pod templates are the same apart from the `pod-template-hash` label.
pub fn equal_ignore_hash(first: &PodTemplateSpec, second: &PodTemplateSpec) -> bool {
    match (comparable(first), comparable(second)) {
        (Some(first), Some(second)) => first == second,
        _ => false,
    }
}

fn comparable(template: &PodTemplateSpec) -> Option<Value> {
    let mut template = template.clone();
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|metadata| metadata.labels.as_mut())
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut value = serde_json::to_value(template).ok()?;
    prune(&mut value, "");
    Some(value)
}

/// Removes, recursively, the fields that hold nothing: nulls, empty objects and arrays,
/// and plain fields at their zero value. `key` is the name the value has in its parent.
fn prune(value: &mut Value, key: &str) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                prune(field, name);
            }
            let pointer_read_only = POINTER_READ_ONLY_SOURCES.contains(&key);
            fields.retain(|name, field| !holds_nothing(name, field, pointer_read_only));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| prune(item, key)),
        _ => {}
    }
}

fn holds_nothing(name: &str, value: &Value, pointer_read_only: bool) -> bool {
    let plain = PLAIN_FIELDS.contains(&name) && !(name == "readOnly" && pointer_read_only);
    match value {
        Value::Null => true,
        Value::Object(fields) => fields.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Bool(flag) => plain && !flag,
        Value::Number(number) => plain && number.as_f64() == Some(0.0),
        Value::String(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(value: Value) -> PodTemplateSpec {
        serde_json::from_value(value).expect("a template")
    }

    #[test]
    fn the_hash_label_and_empty_fields_make_no_difference() {
        let deployment_template = template(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "a"}]},
        }));
        let replica_set_template = template(json!({
            "metadata": {"labels": {"app": "web", POD_TEMPLATE_HASH_LABEL: "abc"}, "annotations": {}},
            "spec": {"containers": [{"name": "app", "image": "a", "env": []}]},
        }));
        assert!(equal_ignore_hash(
            &deployment_template,
            &replica_set_template
        ));
        let other_image = template(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "b"}]},
        }));
        assert!(!equal_ignore_hash(&deployment_template, &other_image));
    }

    #[test]
    fn zero_plain_fields_are_absent_but_zero_pointer_fields_are_not() {
        let from_json = template(json!({
            "spec": {"containers": [{"name": "app", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]},
        }));
        let from_protobuf = template(json!({
            "metadata": {"generation": 0},
            "spec": {"hostIPC": false, "containers": [{
                "name": "app", "stdin": false, "tty": false,
                "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": false}],
            }]},
        }));
        assert!(equal_ignore_hash(&from_json, &from_protobuf));
        let no_escalation = template(json!({
            "spec": {"containers": [{
                "name": "app", "securityContext": {"allowPrivilegeEscalation": false},
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            }]},
        }));
        assert!(!equal_ignore_hash(&from_json, &no_escalation));
        let csi = |read_only: Value| {
            template(
                json!({"spec": {"containers": [], "volumes": [{"name": "v", "csi": {"driver": "d", "readOnly": read_only}}]}}),
            )
        };
        assert!(!equal_ignore_hash(&csi(json!(false)), &csi(Value::Null)));
    }
}
