use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn pod_with(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": spec,
        "status": status
    })
}

fn two_containers() -> Value {
    json!({"containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "busybox"}], "nodeName": "node-1"})
}

fn short_cells(pod: &Value) -> Vec<Value> {
    cells(pod, now()).into_iter().take(5).collect()
}

#[test]
fn running_pod_with_one_of_two_containers_ready() {
    let pod = pod_with(
        two_containers(),
        json!({
            "phase": "Running",
            "podIP": "10.244.0.5",
            "podIPs": [{"ip": "10.244.0.5"}],
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T09:00:05Z"}}},
                {"name": "log", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T09:00:05Z"}}}
            ]
        }),
    );
    assert_eq!(
        cells(&pod, now()),
        [
            json!("web-0"),
            json!("1/2"),
            json!("Running"),
            json!("0"),
            json!("60m"),
            json!("10.244.0.5"),
            json!("node-1"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn crash_looping_container_shows_restarts_with_time_since_last_restart() {
    let pod = pod_with(
        two_containers(),
        json!({
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "log", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T09:55:00Z"}}}
            ]
        }),
    );
    assert_eq!(
        short_cells(&pod),
        [
            json!("web-0"),
            json!("1/2"),
            json!("CrashLoopBackOff"),
            json!("3 (5m ago)"),
            json!("60m")
        ]
    );
}

#[test]
fn waiting_init_container_shows_init_progress() {
    let pod = pod_with(
        json!({"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]}),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]
        }),
    );
    assert_eq!(
        short_cells(&pod),
        [
            json!("web-0"),
            json!("0/1"),
            json!("Init:0/1"),
            json!("0"),
            json!("60m")
        ]
    );
}

#[test]
fn failing_init_container_shows_its_reason_or_exit_code() {
    let failing = |terminated: Value| {
        pod_with(
            json!({"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]}),
            json!({
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "b", "restartCount": 2, "state": {"terminated": terminated}}
                ]
            }),
        )
    };
    let with_reason = failing(json!({"exitCode": 1, "reason": "Error"}));
    assert_eq!(cells(&with_reason, now())[2], json!("Init:Error"));
    assert_eq!(cells(&with_reason, now())[3], json!("2"));
    let with_exit_code = failing(json!({"exitCode": 7}));
    assert_eq!(cells(&with_exit_code, now())[2], json!("Init:ExitCode:7"));
    let with_signal = failing(json!({"exitCode": 137, "signal": 9}));
    assert_eq!(cells(&with_signal, now())[2], json!("Init:Signal:9"));
    let crash_looping = pod_with(
        json!({"initContainers": [{"name": "a"}], "containers": [{"name": "app"}]}),
        json!({"initContainerStatuses": [{"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
    );
    assert_eq!(
        cells(&crash_looping, now())[2],
        json!("Init:CrashLoopBackOff")
    );
}

#[test]
fn sidecar_init_containers_count_towards_ready_and_total() {
    let pod = pod_with(
        json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
        json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]
        }),
    );
    assert_eq!(
        short_cells(&pod),
        [
            json!("web-0"),
            json!("2/2"),
            json!("Running"),
            json!("1"),
            json!("60m")
        ]
    );
}

#[test]
fn completed_pod_and_completed_container_next_to_running_one() {
    let completed = pod_with(
        json!({"containers": [{"name": "job"}]}),
        json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "job", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}),
    );
    assert_eq!(
        cells(&completed, now())[1..3],
        [json!("0/1"), json!("Completed")]
    );

    let partly_done = pod_with(
        two_containers(),
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
            {"name": "app", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "log", "ready": true, "state": {"running": {}}}
        ]}),
    );
    assert_eq!(
        cells(&partly_done, now())[1..3],
        [json!("1/2"), json!("Running")]
    );
    let not_ready = pod_with(
        two_containers(),
        json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "log", "ready": true, "state": {"running": {}}}
        ]}),
    );
    assert_eq!(cells(&not_ready, now())[2], json!("NotReady"));
}

#[test]
fn deleted_pods_are_terminating_or_unknown() {
    let mut pod = pod_with(
        two_containers(),
        json!({"phase": "Running", "containerStatuses": []}),
    );
    pod["metadata"]["deletionTimestamp"] = json!("2024-05-01T09:59:00Z");
    assert_eq!(cells(&pod, now())[2], json!("Terminating"));
    pod["status"]["reason"] = json!("NodeLost");
    assert_eq!(cells(&pod, now())[2], json!("Unknown"));
    let mut finished = pod_with(json!({"containers": []}), json!({"phase": "Succeeded"}));
    finished["metadata"]["deletionTimestamp"] = json!("2024-05-01T09:59:00Z");
    assert_eq!(cells(&finished, now())[2], json!("Succeeded"));
}

#[test]
fn pending_and_gated_pods() {
    let pending = pod_with(two_containers(), json!({"phase": "Pending"}));
    assert_eq!(
        short_cells(&pending)[1..4],
        [json!("0/2"), json!("Pending"), json!("0")]
    );
    let gated = pod_with(
        two_containers(),
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(cells(&gated, now())[2], json!("SchedulingGated"));
    let evicted = pod_with(
        two_containers(),
        json!({"phase": "Failed", "reason": "Evicted"}),
    );
    assert_eq!(cells(&evicted, now())[2], json!("Evicted"));
}

#[test]
fn terminated_container_without_reason_shows_exit_code_or_signal() {
    let exit_code = pod_with(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 2}}}]}),
    );
    assert_eq!(cells(&exit_code, now())[2], json!("ExitCode:2"));
    let signal = pod_with(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
    );
    assert_eq!(cells(&signal, now())[2], json!("Signal:9"));
}

#[test]
fn wide_cells_show_ip_node_nominated_node_and_readiness_gates() {
    let pod = pod_with(
        json!({"containers": [{"name": "app"}], "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
        json!({
            "phase": "Pending",
            "podIP": "10.0.0.9",
            "nominatedNodeName": "node-2",
            "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}]
        }),
    );
    assert_eq!(
        cells(&pod, now())[5..],
        [
            json!("10.0.0.9"),
            json!("<none>"),
            json!("node-2"),
            json!("1/2")
        ]
    );
}

#[test]
fn empty_pod_prints_zero_values() {
    assert_eq!(
        cells(&json!({}), now()),
        [
            json!(""),
            json!("0/0"),
            json!(""),
            json!("0"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn columns_match_kubernetes() {
    let columns = columns();
    let summary: Vec<(&str, &str, i32)> = columns
        .iter()
        .map(|column| (column.name, column.column_type, column.priority))
        .collect();
    assert_eq!(
        summary,
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1)
        ]
    );
}
