use serde_json::json;

use super::*;
use crate::describe_kinds::decoded_length;

fn now() -> Timestamp {
    "2024-03-05T08:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[test]
fn events_are_selected_by_name_namespace_and_uid() {
    let pod = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u-1"}});
    assert_eq!(
        event_field_selector(&pod),
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u-1"
    );
    assert_eq!(
        event_field_selector(&json!({"metadata": {"name": "n1"}})),
        "involvedObject.name=n1"
    );
}

#[test]
fn a_config_map_prints_its_data_and_no_events() {
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "web"}},
        "data": {"mode": "fast"}});
    assert_eq!(
        describe_object("ConfigMap", &config_map, &[], now()),
        "Name:         settings\nNamespace:    default\nLabels:       app=web\nAnnotations:  <none>\n\nData\n====\nmode:\n----\nfast\n\n\nBinaryData\n====\n\nEvents:  <none>\n"
    );
}

#[test]
fn a_secret_shows_sizes_not_values() {
    let secret = json!({"metadata": {"name": "creds", "namespace": "default"}, "type": "Opaque",
                        "data": {"password": "c2VjcmV0", "token": "YWI="}});
    let text = describe_object("Secret", &secret, &[], now());
    assert!(
        text.contains("\nType:  Opaque\n\nData\n====\npassword:  6 bytes\ntoken:     2 bytes\n"),
        "{text}"
    );
    assert!(!text.contains("c2VjcmV0"));
    assert_eq!(decoded_length("YQ=="), 1);
}

#[test]
fn events_print_as_an_aligned_table_with_ages_and_repeat_counts() {
    let pod = json!({"metadata": {"name": "web", "namespace": "default"},
                     "spec": {"containers": [{"name": "app", "image": "app.wasm"}]},
                     "status": {"phase": "Running"}});
    let events = vec![
        json!({"type": "Warning", "reason": "BackOff", "message": "Back-off restarting",
               "source": {"component": "kubelet"}, "count": 4,
               "firstTimestamp": "2024-03-05T07:50:00Z", "lastTimestamp": "2024-03-05T07:59:30Z"}),
        json!({"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned default/web to node-1",
               "source": {"component": "default-scheduler"},
               "firstTimestamp": "2024-03-05T07:40:00Z", "lastTimestamp": "2024-03-05T07:40:00Z"}),
    ];
    let text = describe_object("Pod", &pod, &events, now());
    let events_section = text.split("Events:\n").nth(1).unwrap_or_default();
    assert_eq!(
        events_section,
        "  Type     Reason     Age                From               Message\n  ----     ------     ----               ----               -------\n  Normal   Scheduled  20m                default-scheduler  Successfully assigned default/web to node-1\n  Warning  BackOff    30s (x4 over 10m)  kubelet            Back-off restarting\n"
    );
    assert!(text.contains("Containers:\n  app:\n    Image:        app.wasm\n    Port:         <none>\n    Environment:  <none>\n"), "{text}");
}

#[test]
fn unknown_kinds_use_the_generic_describer() {
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w"}, "spec": {"size": 3}});
    assert_eq!(
        describe_object("Widget", &widget, &[], now()),
        "Name:         w\nLabels:       <none>\nAnnotations:  <none>\nAPI Version:  example.com/v1\nKind:         Widget\nSpec:\n  Size:  3\nEvents:  <none>\n"
    );
}
