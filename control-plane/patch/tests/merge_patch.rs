//! RFC 7386 JSON merge patch, as evanphx/json-patch v4 applies it.

use serde_json::json;
use wasmkube_patch::{PatchError, json_merge_patch};

#[test]
fn the_rfc_example_applies() {
    let original = json!({
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged"
    });
    let patch = json!({
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": null},
        "tags": ["example"]
    });
    assert_eq!(
        json_merge_patch(&original, &patch),
        Ok(json!({
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890"
        }))
    );
}

#[test]
fn lists_are_replaced_even_for_merge_lists_of_strategic_patches() {
    let original = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {"containers": [{"name": "c"}]}});
    assert_eq!(
        json_merge_patch(&original, &patch),
        Ok(json!({"spec": {"containers": [{"name": "c"}]}}))
    );
}

#[test]
fn nulls_inside_new_values_are_dropped_but_null_list_elements_stay() {
    let original = json!({"metadata": {"name": "x"}});
    let patch = json!({"metadata": {"labels": {"a": "1", "b": null}}, "spec": {"list": [null, {"k": null}]}});
    assert_eq!(
        json_merge_patch(&original, &patch),
        Ok(json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"list": [null, {}]}}))
    );
}

#[test]
fn an_object_can_replace_a_scalar_and_a_scalar_an_object() {
    let original = json!({"a": "text", "b": {"c": 1}});
    let patch = json!({"a": {"nested": true, "gone": null}, "b": 7});
    assert_eq!(
        json_merge_patch(&original, &patch),
        Ok(json!({"a": {"nested": true}, "b": 7}))
    );
}

#[test]
fn a_patch_that_is_not_an_object_is_rejected() {
    for patch in [json!(null), json!("x"), json!(3), json!(true)] {
        let error = json_merge_patch(&json!({}), &patch).expect_err("not an object");
        assert_eq!(error, PatchError::InvalidMergePatch);
        assert_eq!(error.to_string(), "Invalid JSON Patch");
        assert_eq!(error.http_status_code(), 400);
    }
    let error = json_merge_patch(&json!({}), &json!([1])).expect_err("array");
    assert_eq!(
        error.to_string(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
}
