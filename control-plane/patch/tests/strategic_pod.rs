//! Strategic merge patches on Pods: merge lists, replace lists and null deletion.

use serde_json::{Value, json};
use wasmkube_patch::{PatchError, strategic_merge_patch};

fn pod(containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": containers}
    })
}

fn patched_containers(original: &Value, patch: &Value) -> Value {
    let result = strategic_merge_patch("Pod", original, patch).expect("patch applies");
    result["spec"]["containers"].clone()
}

#[test]
fn changing_a_container_image_by_name_keeps_the_other_containers() {
    let original = pod(json!([
        {"name": "app", "image": "nginx:1.0"},
        {"name": "sidecar", "image": "envoy:1.0"}
    ]));
    let patch = json!({"spec": {"containers": [{"name": "sidecar", "image": "envoy:2.0"}]}});
    assert_eq!(
        patched_containers(&original, &patch),
        json!([
            {"name": "app", "image": "nginx:1.0"},
            {"name": "sidecar", "image": "envoy:2.0"}
        ])
    );
}

#[test]
fn a_new_container_goes_before_the_stored_ones_like_kubernetes() {
    let original = pod(json!([{"name": "app", "image": "nginx"}]));
    let patch = json!({"spec": {"containers": [{"name": "cache", "image": "redis"}]}});
    assert_eq!(
        patched_containers(&original, &patch),
        json!([{"name": "cache", "image": "redis"}, {"name": "app", "image": "nginx"}])
    );
}

#[test]
fn adding_an_env_var_merges_with_the_existing_ones() {
    let original = pod(json!([{
        "name": "app",
        "image": "nginx",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    }]));
    let patch = json!({"spec": {"containers": [{
        "name": "app",
        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    }]}});
    assert_eq!(
        patched_containers(&original, &patch),
        json!([{
            "name": "app",
            "image": "nginx",
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "value": "20"},
                {"name": "C", "value": "3"}
            ]
        }])
    );
}

#[test]
fn ports_merge_by_container_port_and_volume_mounts_by_mount_path() {
    let original = pod(json!([{
        "name": "app",
        "ports": [{"containerPort": 80, "name": "http"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]
    }]));
    let patch = json!({"spec": {"containers": [{
        "name": "app",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "volumeMounts": [{"name": "renamed", "mountPath": "/data", "readOnly": true}]
    }]}});
    assert_eq!(
        patched_containers(&original, &patch),
        json!([{
            "name": "app",
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
            "volumeMounts": [{"name": "renamed", "mountPath": "/data", "readOnly": true}]
        }])
    );
}

#[test]
fn lists_without_a_patch_strategy_are_replaced() {
    let original = json!({
        "spec": {
            "containers": [{"name": "app", "args": ["--a", "--b"], "envFrom": [{"configMapRef": {"name": "x"}}]}],
            "tolerations": [{"key": "a", "operator": "Exists"}]
        }
    });
    let patch = json!({
        "spec": {
            "containers": [{"name": "app", "args": ["--c"], "envFrom": [{"secretRef": {"name": "y"}}]}],
            "tolerations": [{"key": "b", "operator": "Exists"}]
        }
    });
    let result = strategic_merge_patch("Pod", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({
            "spec": {
                "containers": [{"name": "app", "args": ["--c"], "envFrom": [{"secretRef": {"name": "y"}}]}],
                "tolerations": [{"key": "b", "operator": "Exists"}]
            }
        })
    );
}

#[test]
fn null_deletes_a_key_and_maps_merge_recursively() {
    let original = pod(json!([{"name": "app"}]));
    let patch = json!({"metadata": {"labels": {"tier": null, "version": "v2"}, "annotations": {"note": "x"}}});
    let result = strategic_merge_patch("Pod", &original, &patch).expect("patch applies");
    assert_eq!(
        result["metadata"],
        json!({
            "name": "web",
            "labels": {"app": "web", "version": "v2"},
            "annotations": {"note": "x"}
        })
    );
}

#[test]
fn volumes_host_aliases_and_image_pull_secrets_merge_by_their_keys() {
    let original = json!({"spec": {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
        "imagePullSecrets": [{"name": "registry"}]
    }});
    let patch = json!({"spec": {
        "volumes": [{"name": "config", "configMap": {"name": "cfg"}}],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}],
        "imagePullSecrets": [{"name": "registry"}]
    }});
    let result = strategic_merge_patch("Pod", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {
            "volumes": [{"name": "config", "configMap": {"name": "cfg"}}, {"name": "data", "emptyDir": {}}],
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}],
            "imagePullSecrets": [{"name": "registry"}]
        }})
    );
}

#[test]
fn status_conditions_merge_by_type() {
    let original = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False"},
        {"type": "PodScheduled", "status": "True"}
    ]}});
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let result = strategic_merge_patch("Pod", &original, &patch).expect("patch applies");
    assert_eq!(
        result["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}])
    );
}

#[test]
fn a_list_element_without_its_merge_key_is_rejected() {
    let original = pod(json!([{"name": "app", "image": "nginx"}]));
    let patch = json!({"spec": {"containers": [{"image": "nginx"}]}});
    let error = strategic_merge_patch("Pod", &original, &patch).expect_err("no merge key");
    assert_eq!(
        error.to_string(),
        "map: map[image:nginx] does not contain declared merge key: name"
    );
    assert_eq!(error.http_status_code(), 500);
}

#[test]
fn a_patch_that_is_not_an_object_is_rejected() {
    let original = pod(json!([]));
    let error = strategic_merge_patch("Pod", &original, &json!([1])).expect_err("array");
    assert_eq!(
        error,
        PatchError::CannotUnmarshal {
            found_json_type: "array",
            expected_go_type: "map[string]interface {}"
        }
    );
    assert_eq!(
        error.to_string(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    assert_eq!(error.http_status_code(), 400);
    let error = strategic_merge_patch("Pod", &original, &json!("x")).expect_err("string");
    assert_eq!(
        error.to_string(),
        "json: cannot unmarshal string into Go value of type map[string]interface {}"
    );
}

#[test]
fn a_null_patch_changes_nothing_like_go_decoding_null_into_a_map() {
    let original = pod(json!([{"name": "app"}]));
    assert_eq!(
        strategic_merge_patch("Pod", &original, &Value::Null),
        Ok(original.clone())
    );
}

#[test]
fn a_stored_object_that_is_not_an_object_is_rejected() {
    let error = strategic_merge_patch("Pod", &json!([]), &json!({})).expect_err("not an object");
    assert_eq!(error.to_string(), "invalid JSON document");
}

#[test]
fn mixed_element_types_and_lists_of_lists_are_rejected() {
    let original = json!({"metadata": {"finalizers": []}});
    let error = strategic_merge_patch(
        "Pod",
        &original,
        &json!({"metadata": {"finalizers": [["a"]]}}),
    )
    .expect_err("list of lists");
    assert_eq!(error.to_string(), "lists of lists are not supported");
    assert_eq!(error.http_status_code(), 422);

    let original = json!({"metadata": {"finalizers": ["a"]}});
    let error = strategic_merge_patch("Pod", &original, &json!({"metadata": {"finalizers": [1]}}))
        .expect_err("mixed types");
    assert_eq!(
        error.to_string(),
        "list element types are not identical: [[a] [1]]"
    );
}
