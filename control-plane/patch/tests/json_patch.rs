//! RFC 6902 JSON patch, with evanphx/json-patch v4's messages.

use serde_json::{Value, json};
use wasmkube_patch::{PatchError, json_patch};

fn deployment() -> Value {
    json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}
    })
}

fn failure(patch: Value) -> String {
    match json_patch(&deployment(), &patch) {
        Err(PatchError::JsonPatchOperationFailed(message)) => message,
        other => panic!("expected an operation failure, got {other:?}"),
    }
}

#[test]
fn add_remove_and_replace() {
    let patch = json!([
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "remove", "path": "/metadata/labels/app"},
        {"op": "replace", "path": "/spec/replicas", "value": 3}
    ]);
    let result = json_patch(&deployment(), &patch).expect("patch applies");
    assert_eq!(result["metadata"]["labels"], json!({"tier": "front"}));
    assert_eq!(result["spec"]["replicas"], json!(3));
}

#[test]
fn array_indices_insert_append_and_count_from_the_end() {
    let patch = json!([
        {"op": "add", "path": "/spec/template/spec/containers/1", "value": {"name": "inserted"}},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "appended"}},
        {"op": "remove", "path": "/spec/template/spec/containers/-1"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "first"}
    ]);
    let result = json_patch(&deployment(), &patch).expect("patch applies");
    assert_eq!(
        result["spec"]["template"]["spec"]["containers"],
        json!([{"name": "first"}, {"name": "inserted"}, {"name": "b"}])
    );
}

#[test]
fn move_and_copy_and_escaped_tokens() {
    let patch = json!([
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/app.kubernetes.io~1name"},
        {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/annotations"}
    ]);
    let result = json_patch(&deployment(), &patch).expect("patch applies");
    assert_eq!(
        result["metadata"],
        json!({"name": "web", "labels": {"app.kubernetes.io/name": "web"}, "annotations": "web"})
    );
}

#[test]
fn a_passing_test_operation_lets_the_patch_continue() {
    let patch = json!([
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "test", "path": "/metadata/missing", "value": null},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]);
    let result = json_patch(&deployment(), &patch).expect("patch applies");
    assert_eq!(result["spec"]["replicas"], json!(2));
}

#[test]
fn a_failing_test_operation_rejects_the_patch() {
    let patch = json!([
        {"op": "test", "path": "/spec/replicas", "value": 5},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]);
    let error = json_patch(&deployment(), &patch).expect_err("test fails");
    assert_eq!(
        error.to_string(),
        "testing value /spec/replicas failed: test failed"
    );
    assert_eq!(error.http_status_code(), 422);
}

#[test]
fn operation_errors_carry_the_go_library_messages() {
    assert_eq!(
        failure(json!([{"op": "add", "path": "/nope/deeper", "value": 1}])),
        "add operation does not apply: doc is missing path: \"/nope/deeper\": missing value"
    );
    assert_eq!(
        failure(json!([{"op": "remove", "path": "/metadata/nope"}])),
        "error in remove for path: '/metadata/nope': Unable to remove nonexistent key: nope: missing value"
    );
    assert_eq!(
        failure(json!([{"op": "replace", "path": "/spec/template/spec/containers/9", "value": 1}])),
        "replace operation does not apply: doc is missing key: /spec/template/spec/containers/9: missing value"
    );
    assert_eq!(
        failure(json!([{"op": "add", "path": "/spec/template/spec/containers/x", "value": 1}])),
        "error in add for path: '/spec/template/spec/containers/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        failure(json!([{"op": "frob", "path": "/a"}])),
        "Unexpected kind: frob"
    );
    assert_eq!(failure(json!([{"path": "/a"}])), "Unexpected kind: unknown");
    assert_eq!(
        failure(json!([{"op": "add", "value": 1}])),
        "add operation failed to decode path: missing value"
    );
    assert_eq!(
        failure(json!([{"op": "move", "path": "/a"}])),
        "move operation failed to decode from: operation, missing from field: missing value"
    );
}

#[test]
fn a_patch_that_is_not_a_list_of_operations_is_rejected() {
    let error = json_patch(&deployment(), &json!({"op": "add"})).expect_err("object");
    assert_eq!(
        error.to_string(),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    assert_eq!(error.http_status_code(), 400);
    let error = json_patch(&deployment(), &json!([1])).expect_err("number element");
    assert_eq!(
        error.to_string(),
        "json: cannot unmarshal number into Go value of type jsonpatch.Operation"
    );
}

#[test]
fn a_null_or_empty_patch_changes_nothing() {
    assert_eq!(json_patch(&deployment(), &Value::Null), Ok(deployment()));
    assert_eq!(json_patch(&deployment(), &json!([])), Ok(deployment()));
}
