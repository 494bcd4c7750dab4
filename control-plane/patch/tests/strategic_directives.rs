//! The strategic merge patch directives: `$patch`, `$setElementOrder`,
//! `$deleteFromPrimitiveList` and `$retainKeys`.

use serde_json::json;
use wasmkube_patch::{PatchError, strategic_merge_patch};

fn three_containers() -> serde_json::Value {
    json!({"spec": {"containers": [
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:1"},
        {"name": "c", "image": "c:1"}
    ]}})
}

#[test]
fn patch_delete_in_a_list_element_removes_that_container() {
    let patch = json!({"spec": {"containers": [{"name": "b", "$patch": "delete"}]}});
    let result = strategic_merge_patch("Pod", &three_containers(), &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "c", "image": "c:1"}]}})
    );
}

#[test]
fn patch_replace_in_a_list_makes_the_patch_elements_the_whole_list() {
    let patch =
        json!({"spec": {"containers": [{"name": "z", "image": "z:1"}, {"$patch": "replace"}]}});
    let result = strategic_merge_patch("Pod", &three_containers(), &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {"containers": [{"name": "z", "image": "z:1"}]}})
    );
}

#[test]
fn patch_merge_in_a_list_element_is_not_supported() {
    let patch = json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}});
    let error = strategic_merge_patch("Pod", &three_containers(), &patch).expect_err("unsupported");
    assert_eq!(error, PatchError::MergingListsNotSupported);
    assert_eq!(
        error.to_string(),
        "merging lists cannot yet be specified in the patch"
    );
}

#[test]
fn patch_replace_and_delete_in_maps() {
    let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}}});
    let patch = json!({"metadata": {
        "labels": {"$patch": "replace", "c": "3"},
        "annotations": {"$patch": "delete"}
    }});
    let result = strategic_merge_patch("ConfigMap", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"metadata": {"labels": {"c": "3"}, "annotations": {}}})
    );
}

#[test]
fn an_unknown_patch_directive_in_a_map_is_rejected_with_the_map() {
    let original = json!({"metadata": {"labels": {"a": "1"}}});
    let patch = json!({"metadata": {"labels": {"$patch": "merge", "b": "2"}}});
    let error =
        strategic_merge_patch("ConfigMap", &original, &patch).expect_err("unknown directive");
    assert_eq!(
        error.to_string(),
        "unknown patch type: merge in map: map[$patch:merge b:2]"
    );
}

#[test]
fn set_element_order_reorders_the_stored_list() {
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}});
    let result = strategic_merge_patch("Pod", &three_containers(), &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {"containers": [
            {"name": "c", "image": "c:1"},
            {"name": "a", "image": "a:1"},
            {"name": "b", "image": "b:1"}
        ]}})
    );
}

#[test]
fn set_element_order_orders_a_merged_list_with_server_only_elements_kept_in_place() {
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "d"}],
        "containers": [{"name": "b", "image": "b:2"}, {"name": "d", "image": "d:1"}]
    }});
    let result = strategic_merge_patch("Pod", &three_containers(), &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {"containers": [
            {"name": "a", "image": "a:1"},
            {"name": "c", "image": "c:1"},
            {"name": "b", "image": "b:2"},
            {"name": "d", "image": "d:1"}
        ]}})
    );
}

#[test]
fn set_element_order_that_contradicts_the_patch_list_is_rejected() {
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "image": "b:2"}]
    }});
    let error = strategic_merge_patch("Pod", &three_containers(), &patch).expect_err("mismatch");
    assert_eq!(
        error.to_string(),
        "The order in patch list:\n[map[image:a:2 name:a] map[image:b:2 name:b]]\n doesn't match $setElementOrder list:\n[map[name:b] map[name:a]]\n"
    );
}

#[test]
fn set_element_order_for_a_primitive_list() {
    let original = json!({"metadata": {"finalizers": ["x", "y", "z"]}});
    let patch = json!({"metadata": {"$setElementOrder/finalizers": ["z", "x", "y"]}});
    let result = strategic_merge_patch("Secret", &original, &patch).expect("patch applies");
    assert_eq!(result, json!({"metadata": {"finalizers": ["z", "x", "y"]}}));
}

#[test]
fn delete_from_primitive_list_removes_finalizers() {
    let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c"]}});
    let result = strategic_merge_patch("Namespace", &original, &patch).expect("patch applies");
    assert_eq!(result, json!({"metadata": {"finalizers": ["b"]}}));
}

#[test]
fn delete_from_primitive_list_without_a_stored_list_stores_the_deletions_like_kubernetes() {
    // apimachinery takes the patch value for a field the object lacks, even
    // when that value is a deletion list.
    let original = json!({"metadata": {"name": "x"}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
    let result = strategic_merge_patch("Namespace", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"metadata": {"name": "x", "finalizers": ["a"]}})
    );
}

#[test]
fn finalizers_merge_as_a_set_keeping_stored_order() {
    let original = json!({"metadata": {"finalizers": ["a", "b"]}});
    let patch = json!({"metadata": {"finalizers": ["b", "c"]}});
    let result = strategic_merge_patch("ConfigMap", &original, &patch).expect("patch applies");
    assert_eq!(result, json!({"metadata": {"finalizers": ["a", "b", "c"]}}));
}

#[test]
fn a_malformed_delete_from_primitive_list_key_is_rejected() {
    let original = json!({"metadata": {"finalizers": ["a"]}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}});
    let error = strategic_merge_patch("Pod", &original, &patch).expect_err("malformed");
    assert_eq!(error.to_string(), "invalid patch format of primitive list");
    assert_eq!(error.http_status_code(), 400);
}

#[test]
fn retain_keys_clears_the_keys_it_does_not_list() {
    let original = json!({"spec": {"strategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    }}});
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let result = strategic_merge_patch("Deployment", &original, &patch).expect("patch applies");
    assert_eq!(result, json!({"spec": {"strategy": {"type": "Recreate"}}}));
}

#[test]
fn retain_keys_that_omit_a_patched_key_are_rejected() {
    let original = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
    let patch =
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}});
    let error = strategic_merge_patch("Deployment", &original, &patch).expect_err("not retained");
    assert_eq!(error, PatchError::BadPatchFormatForRetainKeys);
    assert_eq!(error.to_string(), "invalid patch format of retainKeys");
}

#[test]
fn directives_inside_values_taken_verbatim_are_not_stored() {
    let original = json!({"metadata": {"name": "x"}});
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "a": "b"}}});
    let result = strategic_merge_patch("Pod", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"metadata": {"name": "x", "labels": {"a": "b"}}})
    );
}
