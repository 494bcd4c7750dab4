//! The small examples end to end, each on a real `wasmkube up` of its own and driven with
//! kubectl as their READMEs say: hello (a p2 component and a p1 module) runs to
//! completion and logs its greeting; the wasi:http component http-echo answers through
//! its Service with `kubectl port-forward`; init-and-sidecar runs its init containers in
//! order before the app, and its sidecar, classic or native, shares the pod's volume and
//! loopback.

mod support;

use std::time::Duration;

use support::{Cluster, http_get, ok};
use wasmkube_wasm_guests::{WasmTarget, examples_dir, guest};

const TIMEOUT: Duration = Duration::from_secs(45);

fn manifest(example: &str, name: &str) -> String {
    examples_dir()
        .join(example)
        .join("manifests")
        .join(name)
        .display()
        .to_string()
}

fn push(cluster: &Cluster, guest_name: &str, target: WasmTarget, image: &str) {
    let path = guest(guest_name, target).display().to_string();
    ok(cluster.wasmkube(&["image", "push", &path, image]));
}

#[test]
fn hello_runs_to_completion_and_logs_its_greeting_as_p2_and_p1() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    push(&cluster, "hello", WasmTarget::P2, "hello:1.0");
    push(&cluster, "hello", WasmTarget::P1, "hello:p1");

    ok(cluster.kubectl(
        "kubectl",
        &["apply", "-f", &manifest("hello", "hello.yaml")],
    ));
    ok(cluster.kubectl(
        "kubectl",
        &[
            "run",
            "hello-p1",
            "--image=hello:p1",
            "--restart=Never",
            "--",
            "from",
            "p1",
        ],
    ));
    for pod in ["hello", "hello-p1"] {
        let ended = cluster.wait_for_jsonpath(
            &["pod", pod],
            "{.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}",
            TIMEOUT,
            |text| text.starts_with("Succeeded") || text.starts_with("Failed"),
        );
        assert_eq!(ended, "Succeeded Completed 0", "{pod}");
    }
    assert_eq!(
        ok(cluster.kubectl("kubectl", &["logs", "hello"])),
        "Hello from wasmkube!\nfrom a manifest\n"
    );
    assert_eq!(
        ok(cluster.kubectl("kubectl", &["logs", "hello-p1"])),
        "Hello from wasmkube!\nfrom\np1\n"
    );
}

#[test]
fn the_http_component_answers_through_its_service_with_port_forward() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    push(&cluster, "http", WasmTarget::P2, "http-echo:1.0");
    ok(cluster.kubectl(
        "kubectl",
        &["apply", "-f", &manifest("http", "http-echo.yaml")],
    ));
    cluster.wait_for_jsonpath(
        &["deployment", "http-echo"],
        "{.status.readyReplicas}",
        TIMEOUT,
        |ready| ready == "2",
    );
    let (mut forward, local) = cluster.port_forward(&["service/http-echo", ":80"]);
    let answer = http_get(&format!("127.0.0.1:{local}"), "/hello?from=test");
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("echo from http-echo-") && answer.contains("GET /hello?from=test"),
        "{answer}"
    );
}

#[test]
fn init_containers_run_in_order_before_the_app_and_the_sidecar_shares_volume_and_loopback() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    push(
        &cluster,
        "init-and-sidecar",
        WasmTarget::P2,
        "init-and-sidecar:1.0",
    );
    ok(cluster.kubectl(
        "kubectl",
        &[
            "apply",
            "-f",
            &manifest("init-and-sidecar", "init-and-sidecar.yaml"),
        ],
    ));
    // The sidecar fetched the page over 127.0.0.1 and shipped the app's access log line
    // for that request from the shared volume.
    let mut shipped = String::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !(shipped.contains("over the pod's loopback: 200 OK")
        && shipped.contains("shipped access log line:"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar never shipped a line: {shipped}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let output = cluster.kubectl(
            "kubectl",
            &["logs", "init-and-sidecar", "-c", "log-shipper"],
        );
        shipped = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    assert!(
        shipped.contains(
            "Hello from pod init-and-sidecar: this page was written by the init container write-page."
        ),
        "{shipped}"
    );
    assert!(
        shipped.contains("\"GET /\" 200"),
        "the app's own access log line, read from the shared volume: {shipped}"
    );

    // Both init containers ran to completion, one after the other, before the app.
    let times = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "init-and-sidecar",
            "-o",
            "jsonpath={range .status.initContainerStatuses[*]}{.name} {.state.terminated.reason} {.state.terminated.startedAt} {.state.terminated.finishedAt}{\"\\n\"}{end}{range .status.containerStatuses[*]}{.name} {.state.running.startedAt}{\"\\n\"}{end}",
        ],
    ));
    let rows: Vec<Vec<&str>> = times
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{times}");
    assert_eq!(rows[0][..2], ["write-page", "Completed"], "{times}");
    assert_eq!(rows[1][..2], ["check-page", "Completed"], "{times}");
    // RFC 3339 times in UTC compare as strings.
    assert!(
        rows[0][3] <= rows[1][2],
        "check-page started before write-page ended: {times}"
    );
    for app in &rows[2..] {
        assert_eq!(app.len(), 2, "{times}");
        assert!(
            rows[1][3] <= app[1],
            "{} started before the init containers ended: {times}",
            app[0]
        );
    }
    let page = ok(cluster.kubectl("kubectl", &["logs", "init-and-sidecar", "-c", "check-page"]));
    assert!(
        page.starts_with("check-page: found /shared/html/index.html"),
        "{page}"
    );

    native_sidecar_starts_first_and_keeps_running_beside_the_app(&cluster);
}

/// The same pod with log-shipper as a native sidecar (`native-sidecar.yaml`): it starts
/// before the init containers, so its first look finds neither app nor log; it keeps
/// running beside web and counts in READY.
fn native_sidecar_starts_first_and_keeps_running_beside_the_app(cluster: &Cluster) {
    ok(cluster.kubectl(
        "kubectl",
        &[
            "apply",
            "-f",
            &manifest("init-and-sidecar", "native-sidecar.yaml"),
        ],
    ));
    let mut shipped = String::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !shipped.contains("shipped access log line:") {
        assert!(
            std::time::Instant::now() < deadline,
            "the native sidecar never shipped a line: {shipped}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let output = cluster.kubectl("kubectl", &["logs", "native-sidecar", "-c", "log-shipper"]);
        shipped = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    let first_look = shipped.lines().nth(1).unwrap_or_default();
    assert!(
        first_look.starts_with("ship-logs: the app on 127.0.0.1:8080 did not answer"),
        "the sidecar did not start before the app: {shipped}"
    );
    assert!(
        shipped.contains(
            "over the pod's loopback: 200 OK: Hello from pod native-sidecar: this page was written by the init container write-page."
        ),
        "{shipped}"
    );
    let statuses = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "native-sidecar",
            "-o",
            "jsonpath={range .status.initContainerStatuses[*]}{.name} {.started} {.state.running.startedAt}{.state.terminated.startedAt}{\"\\n\"}{end}{.status.containerStatuses[0].state.running.startedAt}",
        ],
    ));
    let rows: Vec<Vec<&str>> = statuses
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{statuses}");
    assert_eq!(rows[0][..2], ["log-shipper", "true"], "{statuses}");
    assert_eq!(rows[1][..2], ["write-page", "false"], "{statuses}");
    // RFC 3339 times in UTC compare as strings.
    assert!(
        rows[0][2] <= rows[1][2],
        "write-page started first: {statuses}"
    );
    assert!(
        rows[2][2] <= rows[3][0],
        "web started before check-page: {statuses}"
    );
    let table = ok(cluster.kubectl("kubectl", &["get", "pod", "native-sidecar"]));
    let columns: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        columns[..3],
        ["native-sidecar", "2/2", "Running"],
        "{table}"
    );
}
