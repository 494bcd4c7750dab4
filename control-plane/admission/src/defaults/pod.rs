//! Pod and pod-spec defaulting (`SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`,
//! `SetDefaults_Probe`, the volume-source defaults and resource-list rounding).

use serde_json::{Map, Value, json};

use crate::json::{
    child_object, default_field, default_nonzero_number, default_text, existing_child_object,
    objects_in_array,
};
use crate::quantity::canonical_resource_list_value;

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
/// Kubernetes' `SecretVolumeSourceDefaultMode` and friends: 0644.
const DEFAULT_VOLUME_FILE_MODE: i64 = 0o644;

/// Defaults a whole Pod: the pod-spec defaults plus the ones only a Pod (not a template) gets.
pub fn apply_pod_defaults(pod: &mut Map<String, Value>) {
    let Some(spec) = child_object(pod, "spec") else {
        return;
    };
    for list in ["containers", "initContainers"] {
        for container in objects_in_array(spec, list) {
            default_requests_from_limits(container);
        }
    }
    default_field(spec, "enableServiceLinks", Value::Bool(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for container in objects_in_array(spec, list) {
                for port in objects_in_array(container, "ports") {
                    let container_port = port.get("containerPort").cloned().unwrap_or(Value::Null);
                    default_nonzero_number(
                        port,
                        "hostPort",
                        container_port.as_i64().unwrap_or_default(),
                    );
                }
            }
        }
    }
    apply_pod_spec_defaults(spec);
}

/// `SetDefaults_Pod`: a container that sets limits but not requests requests its limits.
fn default_requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = existing_child_object(container, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let Some(requests) = child_object(resources, "requests") else {
        return;
    };
    for (resource_name, limit) in limits {
        requests.entry(resource_name).or_insert(limit);
    }
}

/// Defaults a pod spec, wherever it appears (Pods and every pod template).
pub fn apply_pod_spec_defaults(spec: &mut Map<String, Value>) {
    default_text(spec, "dnsPolicy", "ClusterFirst");
    default_text(spec, "restartPolicy", "Always");
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_text(spec, "schedulerName", "default-scheduler");
    for list in CONTAINER_LISTS {
        for container in objects_in_array(spec, list) {
            apply_container_defaults(container);
        }
    }
    for volume in objects_in_array(spec, "volumes") {
        apply_volume_defaults(volume);
    }
    if let Some(overhead) = existing_child_object(spec, "overhead") {
        round_resource_list(overhead);
    }
}

/// `SetDefaults_Container` plus the declarative defaults of the structs inside a container.
fn apply_container_defaults(container: &mut Map<String, Value>) {
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    default_text(container, "imagePullPolicy", image_pull_policy_for(&image));
    default_text(container, "terminationMessagePath", "/dev/termination-log");
    default_text(container, "terminationMessagePolicy", "File");
    // Go's ResourceRequirements is not a pointer, so an unset one is still printed as `{}`.
    if let Some(resources) = child_object(container, "resources") {
        for list in ["limits", "requests"] {
            if let Some(list) = existing_child_object(resources, list) {
                round_resource_list(list);
            }
        }
    }
    for port in objects_in_array(container, "ports") {
        default_text(port, "protocol", "TCP");
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = existing_child_object(container, probe) {
            apply_probe_defaults(probe);
        }
    }
    if let Some(lifecycle) = existing_child_object(container, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(http_get) = existing_child_object(lifecycle, hook)
                .and_then(|hook| existing_child_object(hook, "httpGet"))
            {
                apply_http_get_defaults(http_get);
            }
        }
    }
    for variable in objects_in_array(container, "env") {
        if let Some(field_ref) = existing_child_object(variable, "valueFrom")
            .and_then(|from| existing_child_object(from, "fieldRef"))
        {
            default_text(field_ref, "apiVersion", "v1");
        }
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
fn apply_probe_defaults(probe: &mut Map<String, Value>) {
    default_nonzero_number(probe, "timeoutSeconds", 1);
    default_nonzero_number(probe, "periodSeconds", 10);
    default_nonzero_number(probe, "successThreshold", 1);
    default_nonzero_number(probe, "failureThreshold", 3);
    if let Some(http_get) = existing_child_object(probe, "httpGet") {
        apply_http_get_defaults(http_get);
    }
}

fn apply_http_get_defaults(http_get: &mut Map<String, Value>) {
    default_text(http_get, "path", "/");
    default_text(http_get, "scheme", "HTTP");
}

/// `SetDefaults_Volume` and the per-source defaults (file modes, token expiry, hostPath type).
fn apply_volume_defaults(volume: &mut Map<String, Value>) {
    let has_source = volume
        .iter()
        .any(|(key, value)| key != "name" && !value.is_null());
    if !has_source {
        volume.insert("emptyDir".to_string(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = existing_child_object(volume, source) {
            default_field(source, "defaultMode", json!(DEFAULT_VOLUME_FILE_MODE));
        }
    }
    if let Some(downward_api) = existing_child_object(volume, "downwardAPI") {
        default_downward_api_items(downward_api);
    }
    if let Some(host_path) = existing_child_object(volume, "hostPath") {
        default_field(host_path, "type", json!(""));
    }
    if let Some(projected) = existing_child_object(volume, "projected") {
        for source in objects_in_array(projected, "sources") {
            if let Some(token) = existing_child_object(source, "serviceAccountToken") {
                default_field(token, "expirationSeconds", json!(3600));
            }
            if let Some(downward_api) = existing_child_object(source, "downwardAPI") {
                default_downward_api_items(downward_api);
            }
        }
    }
    if let Some(claim_spec) = existing_child_object(volume, "ephemeral")
        .and_then(|ephemeral| existing_child_object(ephemeral, "volumeClaimTemplate"))
        .and_then(|template| existing_child_object(template, "spec"))
    {
        default_text(claim_spec, "volumeMode", "Filesystem");
    }
}

fn default_downward_api_items(downward_api: &mut Map<String, Value>) {
    for item in objects_in_array(downward_api, "items") {
        if let Some(field_ref) = existing_child_object(item, "fieldRef") {
            default_text(field_ref, "apiVersion", "v1");
        }
    }
}

/// `SetDefaults_ResourceList`: every quantity is rounded up to milli-units and, as a side effect
/// of Go's serialization, printed in canonical form. Unparseable values are left for validation.
pub fn round_resource_list(list: &mut Map<String, Value>) {
    for value in list.values_mut() {
        let canonical = match value {
            Value::String(text) => canonical_resource_list_value(text).ok(),
            Value::Number(number) => canonical_resource_list_value(&number.to_string()).ok(),
            _ => None,
        };
        if let Some(canonical) = canonical {
            *value = Value::String(canonical);
        }
    }
}

/// `Always` for images tagged (or defaulting to) `latest`, `IfNotPresent` otherwise, like
/// `SetDefaults_Container` with `parsers.ParseImageName`; unparseable images get `IfNotPresent`.
pub fn image_pull_policy_for(image: &str) -> &'static str {
    match image_tag(image) {
        Some(tag) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag a container image reference names: its explicit tag, `latest` when it has neither a
/// tag nor a digest, and `None` when it only has a digest or cannot be parsed.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return None;
    }
    let (name_and_tag, has_digest) = match image.split_once('@') {
        Some((name_and_tag, _digest)) => (name_and_tag, true),
        None => (image, false),
    };
    let last_slash = name_and_tag.rfind('/').map_or(0, |index| index + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(colon) => (
            &name_and_tag[..last_slash + colon],
            Some(&name_and_tag[last_slash + colon + 1..]),
        ),
        None => (name_and_tag, None),
    };
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components.first().copied().unwrap_or_default();
    if components.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        components.remove(0);
    }
    let repository_is_valid = components.iter().all(|component| {
        !component.is_empty()
            && component.bytes().all(|byte| {
                byte.is_ascii_lowercase()
                    || byte.is_ascii_digit()
                    || matches!(byte, b'.' | b'_' | b'-')
            })
    });
    if !repository_is_valid {
        return None;
    }
    match tag {
        Some(tag) if !tag.is_empty() => Some(tag.to_string()),
        Some(_) => None,
        None if has_digest => None,
        None => Some("latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted_pod(pod: Value) -> Value {
        let mut pod = pod;
        crate::apply_defaults("Pod", &mut pod);
        pod
    }

    #[test]
    fn minimal_pod_gets_kubernetes_defaults() {
        let pod = defaulted_pod(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}
        }));
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{
                    "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30
            })
        );
    }

    #[test]
    fn containers_probes_ports_and_resources() {
        let pod = defaulted_pod(json!({
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "app", "image": "registry.example.com:5000/app:1.2",
                    "ports": [{"containerPort": 80}],
                    "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": 5},
                    "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": "100m"}},
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
                }]
            }
        }));
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            container["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}])
        );
        assert_eq!(
            container["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            container["resources"],
            json!({"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "1Gi"}})
        );
        assert_eq!(
            container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            "v1"
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn volumes_and_host_network() {
        let pod = defaulted_pod(json!({
            "spec": {
                "hostNetwork": true,
                "containers": [{"name": "a", "image": "busybox:latest", "ports": [{"containerPort": 8080}]}],
                "volumes": [
                    {"name": "scratch"},
                    {"name": "config", "configMap": {"name": "settings"}},
                    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "host", "hostPath": {"path": "/tmp"}}
                ]
            }
        }));
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            pod["spec"]["containers"][0]["ports"][0],
            json!({"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"})
        );
        assert_eq!(
            pod["spec"]["volumes"],
            json!([
                {"name": "scratch", "emptyDir": {}},
                {"name": "config", "configMap": {"name": "settings", "defaultMode": 420}},
                {"name": "token", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}},
                {"name": "host", "hostPath": {"path": "/tmp", "type": ""}}
            ])
        );
    }

    #[test]
    fn image_tags_decide_pull_policy() {
        assert_eq!(image_pull_policy_for("nginx"), "Always");
        assert_eq!(image_pull_policy_for("nginx:latest"), "Always");
        assert_eq!(image_pull_policy_for("nginx:1.25"), "IfNotPresent");
        assert_eq!(image_pull_policy_for("localhost:5000/app"), "Always");
        assert_eq!(image_pull_policy_for("nginx@sha256:abcd"), "IfNotPresent");
        assert_eq!(
            image_pull_policy_for("nginx:1.0@sha256:abcd"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy_for("NGINX"), "IfNotPresent");
        assert_eq!(image_pull_policy_for(""), "IfNotPresent");
    }

    #[test]
    fn non_object_pods_are_left_alone() {
        assert_eq!(defaulted_pod(json!("not a pod")), json!("not a pod"));
        assert_eq!(defaulted_pod(json!({"spec": 3}))["spec"], json!(3));
    }
}
