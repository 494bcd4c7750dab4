//! Pod and pod-template validation (`ValidatePodSpec` and the container, port, volume and
//! resource checks it runs).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::container_resources::validate_resources;
use super::container_restart_policy::validate_container_restart_policy;
use crate::field_error::FieldError;
use crate::labels::{validate_annotations, validate_labels};
use crate::names::{
    dns1123_label_problems, dns1123_subdomain_problems, port_name_problems, port_number_problems,
};

/// Every `VolumeSource` member; a volume must set exactly one.
const VOLUME_SOURCE_KINDS: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

pub fn validate_pod(pod: &Value) -> Vec<FieldError> {
    validate_pod_spec(pod.get("spec").unwrap_or(&Value::Null), "spec")
}

/// `ValidatePodTemplateSpec`: template labels and annotations, then the pod spec.
pub fn validate_pod_template(template: &Value, path: &str) -> Vec<FieldError> {
    let metadata = template.get("metadata").unwrap_or(&Value::Null);
    let mut errors = validate_labels(metadata.get("labels"), &format!("{path}.labels"));
    errors.extend(validate_annotations(
        metadata.get("annotations"),
        &format!("{path}.annotations"),
    ));
    errors.extend(validate_pod_spec(
        template.get("spec").unwrap_or(&Value::Null),
        &format!("{path}.spec"),
    ));
    errors
}

fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn items<'a>(object: &'a Value, key: &str) -> &'a [Value] {
    object
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `ValidatePodSpec`, in Kubernetes' order: volumes, containers, init containers, restart
/// policy, DNS policy, then the smaller fields.
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let (volume_names, mut errors) =
        validate_volumes(items(spec, "volumes"), &format!("{path}.volumes"));
    let containers = items(spec, "containers");
    let mut container_names = BTreeSet::new();
    if containers.is_empty() {
        errors.push(FieldError::required(format!("{path}.containers"), ""));
    }
    for (list, list_items) in [
        ("containers", containers),
        ("initContainers", items(spec, "initContainers")),
    ] {
        for (index, container) in list_items.iter().enumerate() {
            let container_path = format!("{path}.{list}[{index}]");
            errors.extend(validate_container(
                container,
                &container_path,
                &volume_names,
            ));
            errors.extend(validate_container_restart_policy(
                list,
                container,
                &container_path,
            ));
            let name = text(container, "name");
            if !name.is_empty() && !container_names.insert(name.to_string()) {
                errors.push(FieldError::duplicate(
                    format!("{container_path}.name"),
                    json!(name),
                ));
            }
        }
    }
    errors.extend(validate_enumerated(
        spec,
        "restartPolicy",
        path,
        &["Always", "OnFailure", "Never"],
    ));
    errors.extend(validate_enumerated(
        spec,
        "dnsPolicy",
        path,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    ));
    errors.extend(validate_labels(
        spec.get("nodeSelector"),
        &format!("{path}.nodeSelector"),
    ));
    let service_account = text(spec, "serviceAccountName");
    if !service_account.is_empty() {
        for problem in dns1123_subdomain_problems(service_account) {
            errors.push(FieldError::invalid(
                format!("{path}.serviceAccountName"),
                json!(service_account),
                problem,
            ));
        }
    }
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && deadline <= 0
    {
        errors.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            json!(deadline),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(grace) = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        && grace < 0
    {
        errors.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            json!(grace),
            "must be greater than or equal to 0",
        ));
    }
    errors
}

/// A required enumerated string field (`Required` when empty, `NotSupported` when unknown).
pub fn validate_enumerated(
    object: &Value,
    key: &str,
    path: &str,
    supported: &[&str],
) -> Option<FieldError> {
    let value = text(object, key);
    if value.is_empty() {
        Some(FieldError::required(format!("{path}.{key}"), ""))
    } else if !supported.contains(&value) {
        Some(FieldError::not_supported(
            format!("{path}.{key}"),
            json!(value),
            supported,
        ))
    } else {
        None
    }
}

/// `ValidateVolumes`: returns the names of the valid volumes, which mounts may refer to.
fn validate_volumes(volumes: &[Value], path: &str) -> (BTreeSet<String>, Vec<FieldError>) {
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    for (index, volume) in volumes.iter().enumerate() {
        let volume_path = format!("{path}[{index}]");
        let mut volume_errors = Vec::new();
        let sources: Vec<&str> = VOLUME_SOURCE_KINDS
            .iter()
            .copied()
            .filter(|kind| volume.get(*kind).is_some_and(|source| !source.is_null()))
            .collect();
        match sources.as_slice() {
            [] => volume_errors.push(FieldError::required(
                volume_path.clone(),
                "must specify a volume type",
            )),
            [_] => {}
            [_, second, ..] => volume_errors.push(FieldError::forbidden(
                format!("{volume_path}.{second}"),
                "may not specify more than 1 volume type",
            )),
        }
        let name = text(volume, "name");
        if name.is_empty() {
            volume_errors.push(FieldError::required(format!("{volume_path}.name"), ""));
        } else {
            for problem in dns1123_label_problems(name) {
                volume_errors.push(FieldError::invalid(
                    format!("{volume_path}.name"),
                    json!(name),
                    problem,
                ));
            }
        }
        if names.contains(name) {
            volume_errors.push(FieldError::duplicate(
                format!("{volume_path}.name"),
                json!(name),
            ));
        }
        if volume_errors.is_empty() {
            names.insert(name.to_string());
        }
        errors.extend(volume_errors);
    }
    (names, errors)
}

/// `validateContainerCommon` for one container.
fn validate_container(
    container: &Value,
    path: &str,
    volume_names: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(container, "name");
    if name.is_empty() {
        errors.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        for problem in dns1123_label_problems(name) {
            errors.push(FieldError::invalid(
                format!("{path}.name"),
                json!(name),
                problem,
            ));
        }
    }
    if text(container, "image").is_empty() {
        errors.push(FieldError::required(format!("{path}.image"), ""));
    }
    errors.extend(validate_enumerated(
        container,
        "terminationMessagePolicy",
        path,
        &["File", "FallbackToLogsOnError"],
    ));
    errors.extend(validate_container_ports(
        items(container, "ports"),
        &format!("{path}.ports"),
    ));
    errors.extend(validate_env(
        items(container, "env"),
        &format!("{path}.env"),
    ));
    errors.extend(validate_volume_mounts(
        items(container, "volumeMounts"),
        &format!("{path}.volumeMounts"),
        volume_names,
    ));
    errors.extend(validate_enumerated(
        container,
        "imagePullPolicy",
        path,
        &["Always", "IfNotPresent", "Never"],
    ));
    errors.extend(validate_resources(
        container.get("resources").unwrap_or(&Value::Null),
        &format!("{path}.resources"),
    ));
    errors
}

/// `validateContainerPorts`.
fn validate_container_ports(ports: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = format!("{path}[{index}]");
        let name = text(port, "name");
        if !name.is_empty() {
            let problems = port_name_problems(name);
            if !problems.is_empty() {
                for problem in problems {
                    errors.push(FieldError::invalid(
                        format!("{port_path}.name"),
                        json!(name),
                        problem,
                    ));
                }
            } else if !names.insert(name.to_string()) {
                errors.push(FieldError::duplicate(
                    format!("{port_path}.name"),
                    json!(name),
                ));
            }
        }
        match port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or_default()
        {
            0 => errors.push(FieldError::required(
                format!("{port_path}.containerPort"),
                "",
            )),
            number => {
                for problem in port_number_problems(number) {
                    errors.push(FieldError::invalid(
                        format!("{port_path}.containerPort"),
                        json!(number),
                        problem,
                    ));
                }
            }
        }
        let host_port = port
            .get("hostPort")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        if host_port != 0 {
            for problem in port_number_problems(host_port) {
                errors.push(FieldError::invalid(
                    format!("{port_path}.hostPort"),
                    json!(host_port),
                    problem,
                ));
            }
        }
        errors.extend(validate_enumerated(
            port,
            "protocol",
            &port_path,
            &["SCTP", "TCP", "UDP"],
        ));
    }
    errors
}

/// `ValidateEnv` with relaxed variable names (the 1.33 default).
fn validate_env(variables: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, variable) in variables.iter().enumerate() {
        let name = text(variable, "name");
        let name_path = format!("{path}[{index}].name");
        if name.is_empty() {
            errors.push(FieldError::required(name_path, ""));
        } else if name.chars().any(|character| {
            !character.is_ascii() || character.is_ascii_control() || character == '='
        }) {
            errors.push(FieldError::invalid(
                name_path,
                json!(name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    errors
}

/// `ValidateVolumeMounts`: each mount names an existing volume and a unique path.
fn validate_volume_mounts(
    mounts: &[Value],
    path: &str,
    volume_names: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut mount_paths = BTreeSet::new();
    for (index, mount) in mounts.iter().enumerate() {
        let mount_path_field = format!("{path}[{index}]");
        let name = text(mount, "name");
        if name.is_empty() {
            errors.push(FieldError::required(format!("{mount_path_field}.name"), ""));
        }
        if !volume_names.contains(name) {
            errors.push(FieldError::not_found(
                format!("{mount_path_field}.name"),
                json!(name),
            ));
        }
        let mount_path = text(mount, "mountPath");
        if mount_path.is_empty() {
            errors.push(FieldError::required(
                format!("{mount_path_field}.mountPath"),
                "",
            ));
        }
        if !mount_paths.insert(mount_path.to_string()) {
            errors.push(FieldError::invalid(
                format!("{mount_path_field}.mountPath"),
                json!(mount_path),
                "must be unique",
            ));
        }
    }
    errors
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn messages(spec: Value) -> Vec<String> {
        validate_pod_spec(&spec, "spec")
            .iter()
            .map(FieldError::message)
            .collect()
    }

    pub fn container(extra: Value) -> Value {
        let mut base = json!({"name": "app", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        base
    }

    pub fn spec_with(containers: Value) -> Value {
        json!({"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"})
    }

    #[test]
    fn valid_spec_passes_and_missing_containers_fail() {
        assert!(messages(spec_with(json!([container(json!({}))]))).is_empty());
        assert_eq!(
            messages(spec_with(json!([]))),
            vec!["spec.containers: Required value".to_string()]
        );
    }

    #[test]
    fn container_problems_use_kubernetes_messages() {
        let spec = spec_with(json!([
            container(
                json!({"image": "", "ports": [{"containerPort": 70000, "protocol": "TCP"}, {"containerPort": 80, "protocol": "HTTP", "name": "web"}]})
            ),
            container(json!({"imagePullPolicy": "Sometimes"}))
        ]));
        assert_eq!(
            messages(spec),
            vec![
                "spec.containers[0].image: Required value".to_string(),
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".to_string(),
                "spec.containers[1].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"".to_string(),
                "spec.containers[1].name: Duplicate value: \"app\"".to_string(),
            ]
        );
    }

    #[test]
    fn restart_policy_volumes_and_mounts() {
        let mut spec = spec_with(json!([container(
            json!({"volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/data"}]})
        )]));
        spec["restartPolicy"] = json!("Sometimes");
        spec["volumes"] =
            json!([{"name": "cache", "emptyDir": {}}, {"name": "Bad_Name", "emptyDir": {}}]);
        let messages = messages(spec);
        assert_eq!(
            messages[0],
            "spec.volumes[1].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        );
        assert_eq!(
            messages[1],
            "spec.containers[0].volumeMounts[0].name: Not found: \"data\""
        );
        assert_eq!(
            messages[2],
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique"
        );
        assert_eq!(
            messages[3],
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        assert_eq!(messages.len(), 4);
    }
}
