//! The kubelet's events about a pod's containers on a real `wasmkube up`, read with
//! kubectl as a user would: Scheduled, Pulling/Pulled, Created and Started for each
//! container, Killing on deletion, BackOff for a crashing container, and Failed with
//! ErrImagePull, then BackOff, for an image that does not exist — with Kubernetes'
//! reasons, messages and field paths.

mod support;

use std::time::{Duration, Instant};

use support::{Cluster, ok};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(45);

/// Waits until the pod's events (`TYPE REASON FIELD-PATH: MESSAGE` lines, as `kubectl
/// get events` lists them) include a line containing each of `expected`; returns them.
fn wait_for_events(cluster: &Cluster, pod: &str, expected: &[&str]) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let events = ok(cluster.kubectl(
            "kubectl",
            &[
                "get",
                "events",
                "--field-selector",
                &format!("involvedObject.name={pod}"),
                "-o",
                "jsonpath={range .items[*]}{.type} {.reason} {.involvedObject.fieldPath}: {.message} (from {.source.component}){\"\\n\"}{end}",
            ],
        ));
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|line| !events.lines().any(|event| event.contains(*line)))
            .collect();
        if missing.is_empty() {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "events {missing:?} never came; the pod's events:\n{events}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_pods_start_and_deletion_show_the_kubelets_events_for_each_container() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input(
        "kubectl",
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  initContainers:
  - name: setup
    image: testbox:1
    args: [echo, ready]
  containers:
  - name: app
    image: testbox:1
    args: [sleep-forever]
"#,
        ),
    ));
    cluster.wait_for_jsonpath(&["pod", "web"], "{.status.phase}", TIMEOUT, |phase| {
        phase == "Running"
    });
    let events = wait_for_events(
        &cluster,
        "web",
        &[
            "Normal Scheduled : Successfully assigned default/web to ",
            "Normal Pulling spec.initContainers{setup}: Pulling image \"testbox:1\" (from kubelet)",
            "Normal Pulled spec.initContainers{setup}: Successfully pulled image \"testbox:1\" in ",
            "Normal Created spec.initContainers{setup}: Created container: setup (from kubelet)",
            "Normal Started spec.initContainers{setup}: Started container setup (from kubelet)",
            "Normal Pulled spec.containers{app}: Container image \"testbox:1\" already present on machine (from kubelet)",
            "Normal Created spec.containers{app}: Created container: app (from kubelet)",
            "Normal Started spec.containers{app}: Started container app (from kubelet)",
        ],
    );
    let pulled = events
        .lines()
        .find(|line| line.contains("Successfully pulled image"))
        .expect("the pull");
    assert!(
        pulled.contains(" including waiting). Image size: ") && pulled.contains(" bytes."),
        "{pulled}"
    );
    // kubectl describe shows them under the pod.
    let described = ok(cluster.kubectl("kubectl", &["describe", "pod", "web"]));
    for expected in [
        "Scheduled",
        "Created container: app",
        "Started container app",
    ] {
        assert!(described.contains(expected), "{described}");
    }

    ok(cluster.kubectl("kubectl", &["delete", "pod", "web", "--wait=true"]));
    wait_for_events(
        &cluster,
        "web",
        &["Normal Killing spec.containers{app}: Stopping container app (from kubelet)"],
    );
}

#[test]
fn a_crashing_container_and_a_missing_image_show_back_off_and_pull_failures() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start_with_arguments(
        directory.path(),
        &[
            "--restart-backoff-initial-seconds",
            "1",
            "--restart-backoff-max-seconds",
            "2",
        ],
    );
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input(
        "kubectl",
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: crash
    image: testbox:1
    args: [exit, "1"]
---
apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  containers:
  - name: app
    image: missing:1
"#,
        ),
    ));
    let uid = ok(cluster.kubectl(
        "kubectl",
        &["get", "pod", "crash", "-o", "jsonpath={.metadata.uid}"],
    ));
    wait_for_events(
        &cluster,
        "crash",
        &[
            "Normal Started spec.containers{crash}: Started container crash",
            &format!(
                "Warning BackOff spec.containers{{crash}}: Back-off restarting failed container crash in pod crash_default({uid})"
            ),
        ],
    );
    wait_for_events(
        &cluster,
        "missing",
        &[
            "Normal Pulling spec.containers{app}: Pulling image \"missing:1\"",
            "Warning Failed spec.containers{app}: Failed to pull image \"missing:1\": ",
            "Warning Failed spec.containers{app}: Error: ErrImagePull (from kubelet)",
            "Normal BackOff spec.containers{app}: Back-off pulling image \"missing:1\" (from kubelet)",
            "Warning Failed spec.containers{app}: Error: ImagePullBackOff (from kubelet)",
        ],
    );
}
