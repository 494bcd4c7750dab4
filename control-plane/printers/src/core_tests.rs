use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn metadata(name: &str) -> Value {
    json!({"name": name, "creationTimestamp": "2024-04-28T10:00:00Z"})
}

#[test]
fn namespace_shows_phase() {
    let namespace =
        json!({"kind": "Namespace", "metadata": metadata("team-a"), "status": {"phase": "Active"}});
    assert_eq!(
        namespace_cells(&namespace, now()),
        [json!("team-a"), json!("Active"), json!("3d")]
    );
    let names: Vec<&str> = namespace_columns()
        .iter()
        .map(|column| column.name)
        .collect();
    assert_eq!(names, ["Name", "Status", "Age"]);
}

#[test]
fn ready_worker_node_without_roles() {
    let node = json!({
        "kind": "Node",
        "metadata": {"name": "worker-1", "creationTimestamp": "2024-04-28T10:00:00Z",
                     "labels": {"kubernetes.io/hostname": "worker-1"}},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"}
            ],
            "addresses": [
                {"type": "Hostname", "address": "worker-1"},
                {"type": "InternalIP", "address": "192.168.1.10"}
            ],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.7.13"}
        }
    });
    assert_eq!(
        node_cells(&node, now()),
        [
            json!("worker-1"),
            json!("Ready"),
            json!("<none>"),
            json!("3d"),
            json!("v1.33.0"),
            json!("192.168.1.10"),
            json!("<none>"),
            json!("Debian GNU/Linux 12 (bookworm)"),
            json!("6.1.0-18-amd64"),
            json!("containerd://1.7.13")
        ]
    );
}

#[test]
fn cordoned_control_plane_node() {
    let node = json!({
        "metadata": {"name": "cp", "labels": {
            "node-role.kubernetes.io/control-plane": "",
            "node-role.kubernetes.io/": "",
            "kubernetes.io/role": "master"
        }},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    });
    let cells = node_cells(&node, now());
    assert_eq!(cells[1], json!("Ready,SchedulingDisabled"));
    assert_eq!(cells[2], json!("control-plane,master"));
}

#[test]
fn node_without_status_is_unknown() {
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(node_cells(&not_ready, now())[1], json!("NotReady"));
    assert_eq!(
        node_cells(&json!({}), now()),
        [
            json!(""),
            json!("Unknown"),
            json!("<none>"),
            json!("<unknown>"),
            json!(""),
            json!("<none>"),
            json!("<none>"),
            json!("<unknown>"),
            json!("<unknown>"),
            json!("<unknown>")
        ]
    );
}

#[test]
fn node_columns_hide_details_behind_wide() {
    let summary: Vec<(&str, i32)> = node_columns()
        .iter()
        .map(|column| (column.name, column.priority))
        .collect();
    assert_eq!(
        summary,
        [
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1)
        ]
    );
}

#[test]
fn config_map_counts_data_and_binary_data() {
    let config_map = json!({
        "metadata": metadata("settings"),
        "data": {"a.conf": "x", "b.conf": "y"},
        "binaryData": {"logo.png": "iVBORw0KGgo="}
    });
    assert_eq!(
        config_map_cells(&config_map, now()),
        [json!("settings"), json!(3), json!("3d")]
    );
    assert_eq!(config_map_cells(&json!({}), now())[1], json!(0));
}

#[test]
fn secret_shows_type_and_data_count() {
    let secret = json!({
        "metadata": metadata("db-credentials"),
        "type": "Opaque",
        "data": {"username": "YWRtaW4=", "password": "cGFzcw=="},
        "stringData": {"password": "pass", "host": "db"}
    });
    assert_eq!(
        secret_cells(&secret, now()),
        [
            json!("db-credentials"),
            json!("Opaque"),
            json!(3),
            json!("3d")
        ]
    );
    let names: Vec<&str> = secret_columns().iter().map(|column| column.name).collect();
    assert_eq!(names, ["Name", "Type", "Data", "Age"]);
}

#[test]
fn service_account_counts_secrets() {
    let service_account =
        json!({"metadata": metadata("default"), "secrets": [{"name": "default-token"}]});
    assert_eq!(
        service_account_cells(&service_account, now()),
        [json!("default"), json!(1), json!("3d")]
    );
    assert_eq!(service_account_cells(&json!({}), now())[1], json!(0));
}
