//! Native sidecars (an init container with `restartPolicy: Always`, Kubernetes 1.28+) on
//! a real `wasmkube up`, driven with kubectl: the sidecar starts before the app and keeps
//! running beside it, counts in READY, is restarted when it ends whatever the pod's
//! restartPolicy, and does not keep a Job's pod from completing; the API server refuses
//! a restartPolicy anywhere else, with Kubernetes' messages.

mod support;

use std::time::Duration;

use support::{Cluster, ok, text};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(45);

fn start_cluster(directory: &std::path::Path) -> Cluster {
    let cluster = Cluster::start_with_arguments(
        directory,
        &[
            "--restart-backoff-initial-seconds",
            "1",
            "--restart-backoff-max-seconds",
            "2",
        ],
    );
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    cluster
}

const RUNNING_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: with-sidecar
spec:
  initContainers:
  - name: proxy
    image: testbox:1
    args: [sleep-forever]
    restartPolicy: Always
  - name: setup
    image: testbox:1
    args: [echo, set up]
  containers:
  - name: app
    image: testbox:1
    args: [sleep-forever]
"#;

#[test]
fn a_native_sidecar_starts_first_keeps_running_beside_the_app_and_counts_in_ready() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = start_cluster(directory.path());
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(RUNNING_POD)));
    let statuses = cluster.wait_for_jsonpath(
        &["pod", "with-sidecar"],
        "{.status.phase} {range .status.initContainerStatuses[*]}{.name}:{.started}:{.ready}:{.state.running.startedAt}{.state.terminated.reason} {end}{.status.containerStatuses[0].ready}",
        TIMEOUT,
        |text| text.starts_with("Running ") && text.ends_with(" true"),
    );
    let fields: Vec<&str> = statuses.split(' ').collect();
    // The sidecar runs, started and ready; the regular init container ran to completion
    // after it had started.
    assert!(fields[1].starts_with("proxy:true:true:20"), "{statuses}");
    assert_eq!(fields[2], "setup:false:true:Completed", "{statuses}");
    let conditions = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "with-sidecar",
            "-o",
            "jsonpath={range .status.conditions[*]}{.type}={.status} {end}",
        ],
    ));
    for expected in ["Initialized=True", "ContainersReady=True", "Ready=True"] {
        assert!(conditions.contains(expected), "{conditions}");
    }
    // kubectl counts the sidecar in READY (2/2) and shows the pod Running.
    let table = ok(cluster.kubectl("kubectl", &["get", "pod", "with-sidecar"]));
    let row = table.lines().nth(1).expect("a row");
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns[..4],
        ["with-sidecar", "2/2", "Running", "0"],
        "{table}"
    );
    let setup = ok(cluster.kubectl("kubectl", &["logs", "with-sidecar", "-c", "setup"]));
    assert_eq!(setup, "set up\n");
}

const ENDING_SIDECAR: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ending-sidecar
spec:
  restartPolicy: Never
  initContainers:
  - name: short-lived
    image: testbox:1
    args: [sleep, "1"]
    restartPolicy: Always
  containers:
  - name: app
    image: testbox:1
    args: [sleep-forever]
"#;

#[test]
fn a_sidecar_that_ends_is_restarted_even_when_the_pod_never_restarts() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = start_cluster(directory.path());
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(ENDING_SIDECAR)));
    let restarted = cluster.wait_for_jsonpath(
        &["pod", "ending-sidecar"],
        "{.status.initContainerStatuses[0].restartCount} {.status.initContainerStatuses[0].lastState.terminated.reason} {.status.phase} {.status.containerStatuses[0].restartCount}",
        TIMEOUT,
        |text| {
            text.split(' ')
                .next()
                .and_then(|count| count.parse::<i32>().ok())
                .is_some_and(|count| count >= 2)
        },
    );
    let fields: Vec<&str> = restarted.split(' ').collect();
    assert_eq!(fields[1..], ["Completed", "Running", "0"], "{restarted}");
}

const JOB_WITH_SIDECAR: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: with-sidecar
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      initContainers:
      - name: sink
        image: testbox:1
        args: [tcp-sink, "9000"]
        restartPolicy: Always
      - name: idle
        image: testbox:1
        args: [sleep-forever]
        restartPolicy: Always
      containers:
      - name: source
        image: testbox:1
        args: [tcp-source, "127.0.0.1:9000", "1"]
"#;

#[test]
fn a_jobs_pod_completes_when_its_app_is_done_and_its_sidecars_are_stopped_after_it() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = start_cluster(directory.path());
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(JOB_WITH_SIDECAR)));
    cluster.wait_for_jsonpath(
        &["job", "with-sidecar"],
        "{.status.succeeded}",
        TIMEOUT,
        |succeeded| succeeded == "1",
    );
    let pod = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-l",
            "job-name=with-sidecar",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ],
    ));
    let phase = ok(cluster.kubectl(
        "kubectl",
        &["get", "pod", &pod, "-o", "jsonpath={.status.phase}"],
    ));
    assert_eq!(phase, "Succeeded");
    // The app reached the sidecar over the pod's loopback.
    let sent = ok(cluster.kubectl("kubectl", &["logs", &pod, "-c", "source"]));
    assert!(sent.starts_with("sent 1048576 bytes in"), "{sent}");
    // The sink takes one connection and ends; it may have been restarted before the
    // pod completed, so its first run's log may be the previous one.
    let previous = cluster.kubectl("kubectl", &["logs", &pod, "-c", "sink", "--previous"]);
    let received =
        text(&previous).0 + &ok(cluster.kubectl("kubectl", &["logs", &pod, "-c", "sink"]));
    assert!(received.contains("received 1048576 bytes in"), "{received}");
    // The sidecar that still ran was stopped after the app ended.
    let ends = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            &pod,
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.finishedAt} {.status.initContainerStatuses[1].state.terminated.finishedAt}",
        ],
    ));
    let times: Vec<&str> = ends.split(' ').collect();
    assert_eq!(times.len(), 2, "{ends}");
    assert!(
        times[0] <= times[1],
        "a sidecar stopped before the app: {ends}"
    );
}

#[test]
fn a_restart_policy_is_refused_on_app_containers_and_other_than_always_on_init_containers() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    let output = cluster.kubectl_with_input(
        "kubectl",
        &["apply", "-f", "-"],
        Some(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: refused
spec:
  initContainers:
  - name: setup
    image: testbox:1
    restartPolicy: OnFailure
  containers:
  - name: app
    image: testbox:1
    restartPolicy: Always
"#,
        ),
    );
    assert!(!output.status.success());
    let (_, error) = text(&output);
    assert!(
        error.contains(
            "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"
        ),
        "{error}"
    );
    assert!(
        error.contains("spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""),
        "{error}"
    );
}
