use serde_json::json;

use super::*;

#[test]
fn the_annotation_text_is_sorted_compact_json_without_itself_plus_a_newline() {
    let config = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "namespace": "default"}});
    assert_eq!(
        last_applied_text(&config),
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},\"name\":\"a\",\"namespace\":\"default\"}}\n"
    );
    let with_annotation = config_with_last_applied(&config);
    assert_eq!(
        last_applied_text(&with_annotation),
        last_applied_text(&config)
    );
    assert_eq!(
        with_annotation
            .pointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"),
        Some(&json!(last_applied_text(&config)))
    );
}

#[test]
fn keys_removed_since_the_last_apply_become_null_and_changes_are_sent() {
    let last_applied = json!({"metadata": {"name": "web", "labels": {"app": "web", "tier": "old"}},
                              "spec": {"replicas": 2, "paused": false}});
    let modified = json!({"metadata": {"name": "web", "labels": {"app": "web"}},
                          "spec": {"replicas": 3}});
    let live = json!({"metadata": {"name": "web", "uid": "u1", "labels": {"app": "web", "tier": "old"}},
                      "spec": {"replicas": 2, "paused": false, "revisionHistoryLimit": 10},
                      "status": {"replicas": 2}});
    assert_eq!(
        three_way_patch(Some(&last_applied), &modified, &live),
        json!({"metadata": {"labels": {"tier": null}}, "spec": {"paused": null, "replicas": 3}})
    );
}

#[test]
fn re_applying_the_same_config_is_an_empty_patch_even_with_server_defaults() {
    let config = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "x.wasm"}]}});
    let modified = config_with_last_applied(&config);
    let mut live = modified.clone();
    live["metadata"]["uid"] = json!("u1");
    live["spec"]["containers"][0]["terminationMessagePath"] = json!("/dev/termination-log");
    live["spec"]["restartPolicy"] = json!("Always");
    assert_eq!(
        three_way_patch(last_applied_of(&live).as_ref(), &modified, &live),
        json!({})
    );
}

#[test]
fn a_changed_list_item_sends_the_whole_new_list() {
    let modified = json!({"spec": {"containers": [{"name": "c", "image": "v2.wasm"}]}});
    let live = json!({"spec": {"containers": [{"name": "c", "image": "v1.wasm", "imagePullPolicy": "Always"}]}});
    assert_eq!(
        three_way_patch(None, &modified, &live),
        json!({"spec": {"containers": [{"name": "c", "image": "v2.wasm"}]}})
    );
}

#[test]
fn keys_that_were_never_applied_are_left_alone() {
    let modified = json!({"data": {"a": "1"}});
    let live = json!({"data": {"a": "1", "added-by-someone-else": "2"}});
    assert_eq!(
        three_way_patch(Some(&json!({"data": {"a": "1"}})), &modified, &live),
        json!({})
    );
}

#[test]
fn keys_removed_from_config_but_already_gone_live_need_no_null() {
    let last_applied = json!({"data": {"a": "1", "b": "2"}});
    let modified = json!({"data": {"a": "1"}});
    let live = json!({"data": {"a": "1"}});
    assert_eq!(
        three_way_patch(Some(&last_applied), &modified, &live),
        json!({})
    );
}

#[test]
fn a_live_object_without_a_readable_annotation_has_no_last_applied() {
    assert_eq!(last_applied_of(&json!({"metadata": {"name": "a"}})), None);
    let broken = json!({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: "{not json"}}});
    assert_eq!(last_applied_of(&broken), None);
}

#[test]
fn strategic_merge_is_used_only_for_built_in_groups() {
    assert!(supports_strategic_merge(""));
    assert!(supports_strategic_merge("apps"));
    assert!(supports_strategic_merge("networking.k8s.io"));
    assert!(!supports_strategic_merge("example.com"));
}
