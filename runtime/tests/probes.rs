//! Container probes on a real node agent with a real API server: exec probes run the
//! container's image again (testbox) in its sandbox, readiness drives the container's
//! `ready` and the pod's conditions, failed liveness and startup probes restart the
//! container with the kubelet's events, a startup probe holds the other probes back, and
//! results stand only once their thresholds are met.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use support::{TestCluster, container_status, phase, terminated, testbox};

/// Generous for a cold compilation cache on a busy machine; every wait ends as soon as its
/// condition holds.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A cluster whose node lets pods mount `host_dir` with hostPath, so that a test can
/// flip what an exec probe finds.
async fn cluster_with_host_dir(host_dir: &Path) -> TestCluster {
    let allowed = host_dir.to_path_buf();
    TestCluster::start_with(move |config| config.allowed_host_paths = vec![allowed]).await
}

fn host_dir() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().canonicalize().expect("a real path");
    (directory, path)
}

fn ready(pod: &Pod, container: &str) -> bool {
    container_status(pod, container).is_some_and(|status| status.ready)
}

fn started(pod: &Pod, container: &str) -> bool {
    container_status(pod, container).is_some_and(|status| status.started == Some(true))
}

fn restart_count(pod: &Pod, container: &str) -> i32 {
    container_status(pod, container).map_or(0, |status| status.restart_count)
}

fn condition(pod: &Pod, kind: &str) -> Option<(String, Option<String>, Option<String>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == kind)
        .map(|condition| {
            (
                condition.status.clone(),
                condition.reason.clone(),
                condition.message.clone(),
            )
        })
}

/// The pod's events from the kubelet about one of its containers.
async fn container_events(cluster: &TestCluster, pod: &str, container: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let field_path = format!("spec.containers{{{container}}}");
    events
        .list(&Default::default())
        .await
        .expect("the events")
        .items
        .into_iter()
        .filter(|event| {
            event.involved_object.name.as_deref() == Some(pod)
                && event.involved_object.field_path.as_deref() == Some(field_path.as_str())
        })
        .collect()
}

/// Waits until the container's events satisfy `done`, and returns them.
async fn wait_for_events(
    cluster: &TestCluster,
    pod: &str,
    container: &str,
    done: impl Fn(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let events = container_events(cluster, pod, container).await;
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "the events of {pod}/{container} did not come: {:#?}",
            events
                .iter()
                .map(|event| (&event.reason, &event.message, event.count))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How often events with this reason and a message starting with `prefix` were seen.
fn count(events: &[Event], reason: &str, prefix: &str) -> i32 {
    events
        .iter()
        .filter(|event| {
            event.reason.as_deref() == Some(reason)
                && event
                    .message
                    .as_deref()
                    .is_some_and(|message| message.starts_with(prefix))
        })
        .map(|event| event.count.unwrap_or(1))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_readiness_probe_turns_the_container_and_the_pod_ready_and_unready() {
    let (_directory, flags) = host_dir();
    let cluster = cluster_with_host_dir(&flags).await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: gate}}
spec:
  volumes: [{{name: flags, hostPath: {{path: {flags}, type: Directory}}}}]
  containers:
  - name: app
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: flags, mountPath: /flags}}]
    readinessProbe:
      exec: {{command: [testbox, cat, /flags/ready]}}
      periodSeconds: 1
      failureThreshold: 1
"#,
            flags = flags.display()
        ))
        .await;
    let pod = cluster
        .wait_for("gate", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    assert!(
        started(&pod, "app"),
        "no startup probe: started once running"
    );
    assert!(!ready(&pod, "app"), "not ready before the probe succeeded");
    assert_eq!(
        condition(&pod, "Ready"),
        Some((
            "False".to_owned(),
            Some("ContainersNotReady".to_owned()),
            Some("containers with unready status: [app]".to_owned())
        ))
    );
    let events = wait_for_events(&cluster, "gate", "app", |events| {
        count(events, "Unhealthy", "Readiness probe failed: ") > 0
    })
    .await;
    let failure = events
        .iter()
        .find(|event| event.reason.as_deref() == Some("Unhealthy"))
        .expect("a failure event");
    let message = failure.message.as_deref().unwrap_or_default();
    // The probe's own output (cat's error on stderr) is the message, not the log's.
    assert!(
        message.starts_with("Readiness probe failed: testbox cat: /flags/ready: "),
        "{message}"
    );
    assert_eq!(failure.type_.as_deref(), Some("Warning"));
    let source = failure.source.as_ref().expect("a source");
    assert_eq!(
        (source.component.as_deref(), source.host.as_deref()),
        (Some("kubelet"), Some(support::NODE_NAME))
    );
    assert!(!cluster.logs("gate", "app").await.contains("/flags/ready"));

    std::fs::write(flags.join("ready"), "yes").expect("the flag is written");
    let pod = cluster
        .wait_for("gate", TIMEOUT, |pod| ready(pod, "app"))
        .await;
    for kind in ["Ready", "ContainersReady"] {
        assert_eq!(
            condition(&pod, kind)
                .map(|(status, _, _)| status)
                .as_deref(),
            Some("True")
        );
    }

    std::fs::remove_file(flags.join("ready")).expect("the flag is removed");
    let pod = cluster
        .wait_for("gate", TIMEOUT, |pod| !ready(pod, "app"))
        .await;
    assert_eq!(
        condition(&pod, "Ready")
            .map(|(status, _, _)| status)
            .as_deref(),
        Some("False")
    );
    assert_eq!(restart_count(&pod, "app"), 0, "readiness never restarts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_changes_only_after_its_thresholds_of_results_in_a_row() {
    let (_directory, flags) = host_dir();
    let cluster = cluster_with_host_dir(&flags).await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: steady}}
spec:
  volumes: [{{name: flags, hostPath: {{path: {flags}, type: Directory}}}}]
  containers:
  - name: app
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: flags, mountPath: /flags}}]
    readinessProbe:
      exec: {{command: [testbox, cat, /flags/ready]}}
      periodSeconds: 1
      successThreshold: 2
      failureThreshold: 3
"#,
            flags = flags.display()
        ))
        .await;
    cluster
        .wait_for("steady", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    wait_for_events(&cluster, "steady", "app", |events| {
        count(events, "Unhealthy", "Readiness probe failed: ") > 0
    })
    .await;

    // Two successes a period apart are needed: the first comes after the flag exists.
    let flagged = Instant::now();
    std::fs::write(flags.join("ready"), "yes").expect("the flag is written");
    cluster
        .wait_for("steady", TIMEOUT, |pod| ready(pod, "app"))
        .await;
    let waited = flagged.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "ready after one success ({waited:?})"
    );

    // Three failures in a row, each with its event, before the container is unready.
    let failures_before = count(
        &container_events(&cluster, "steady", "app").await,
        "Unhealthy",
        "Readiness probe failed: ",
    );
    let unflagged = Instant::now();
    std::fs::remove_file(flags.join("ready")).expect("the flag is removed");
    cluster
        .wait_for("steady", TIMEOUT, |pod| !ready(pod, "app"))
        .await;
    let waited = unflagged.elapsed();
    // The node writes events asynchronously, after the status that turned the container
    // unready, so the three failures are awaited; the time waited shows they came first.
    wait_for_events(&cluster, "steady", "app", |events| {
        count(events, "Unhealthy", "Readiness probe failed: ") >= failures_before + 3
    })
    .await;
    assert!(
        waited >= Duration::from_millis(1900),
        "unready too soon ({waited:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_liveness_probe_kills_the_container_which_restarts_per_its_policy() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    for (name, policy) in [("sick", "Always"), ("sick-once", "Never")] {
        cluster
            .create_pod(&format!(
                r#"
metadata: {{name: {name}}}
spec:
  restartPolicy: {policy}
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  containers:
  - name: app
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
    livenessProbe:
      exec: {{command: [testbox, cat, /data/healthy]}}
      periodSeconds: 1
      failureThreshold: 2
"#
            ))
            .await;
    }
    let pod = cluster
        .wait_for("sick", TIMEOUT, |pod| restart_count(pod, "app") >= 1)
        .await;
    let status = container_status(&pod, "app").expect("a status");
    let last = status
        .last_state
        .as_ref()
        .and_then(|state| state.terminated.as_ref())
        .expect("the killed run");
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (143, Some("Error"))
    );
    let events = wait_for_events(&cluster, "sick", "app", |events| {
        count(events, "Killing", "Container app failed liveness probe") > 0
    })
    .await;
    assert!(
        count(
            events.as_slice(),
            "Unhealthy",
            "Liveness probe failed: testbox cat: /data/healthy: "
        ) >= 2
    );
    let killing = events
        .iter()
        .find(|event| event.reason.as_deref() == Some("Killing"))
        .expect("a Killing event");
    assert_eq!(
        (killing.type_.as_deref(), killing.message.as_deref()),
        (
            Some("Normal"),
            Some("Container app failed liveness probe, will be restarted")
        )
    );

    // With restartPolicy Never the container stays stopped and the pod fails.
    let pod = cluster
        .wait_for("sick-once", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    assert_eq!(restart_count(&pod, "app"), 0);
    assert_eq!(
        terminated(&pod, "app").map(|ended| ended.exit_code),
        Some(143)
    );
    // The node writes its events asynchronously, so they may follow the pod's status.
    let events = wait_for_events(&cluster, "sick-once", "app", |events| {
        count(events, "Killing", "Container app failed liveness probe") > 0
    })
    .await;
    assert_eq!(
        count(&events, "Killing", "Container app failed liveness probe"),
        1
    );
    assert!(
        events
            .iter()
            .any(|event| event.message.as_deref() == Some("Container app failed liveness probe")),
        "no restart promised under Never"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_startup_probe_holds_liveness_and_readiness_back_until_it_succeeds() {
    let (_directory, flags) = host_dir();
    let cluster = cluster_with_host_dir(&flags).await;
    let image = testbox();
    let startup = "startupProbe: {exec: {command: [testbox, cat, /flags/started]}, periodSeconds: 1, failureThreshold: 60}";
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: slow-start}}
spec:
  volumes: [{{name: flags, hostPath: {{path: {flags}, type: Directory}}}}]
  containers:
  - name: gated
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: flags, mountPath: /flags}}]
    {startup}
    readinessProbe: {{exec: {{command: [testbox, exit, "0"]}}, periodSeconds: 1}}
  - name: doomed
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: flags, mountPath: /flags}}]
    {startup}
    livenessProbe: {{exec: {{command: [testbox, exit, "1"]}}, periodSeconds: 1, failureThreshold: 1}}
"#,
            flags = flags.display()
        ))
        .await;
    // Two failed startup probes: liveness and readiness would have run by now.
    for container in ["gated", "doomed"] {
        wait_for_events(&cluster, "slow-start", container, |events| {
            count(events, "Unhealthy", "Startup probe failed: ") >= 2
        })
        .await;
    }
    let pod = cluster.pods().get("slow-start").await.expect("the pod");
    assert_eq!(phase(&pod), "Running");
    for container in ["gated", "doomed"] {
        assert!(!started(&pod, container), "{container} started early");
        assert!(!ready(&pod, container), "{container} ready early");
    }
    assert_eq!(
        restart_count(&pod, "doomed"),
        0,
        "liveness ran before startup"
    );
    let doomed = container_events(&cluster, "slow-start", "doomed").await;
    assert_eq!(count(&doomed, "Unhealthy", "Liveness probe"), 0);

    std::fs::write(flags.join("started"), "yes").expect("the flag is written");
    cluster
        .wait_for("slow-start", TIMEOUT, |pod| {
            started(pod, "gated") && ready(pod, "gated")
        })
        .await;
    let pod = cluster
        .wait_for("slow-start", TIMEOUT, |pod| {
            restart_count(pod, "doomed") >= 1
        })
        .await;
    assert_eq!(restart_count(&pod, "gated"), 0);
    wait_for_events(&cluster, "slow-start", "doomed", |events| {
        count(
            events,
            "Killing",
            "Container doomed failed liveness probe, will be restarted",
        ) > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_startup_probe_failing_past_its_threshold_restarts_the_container() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: never-starts}}
spec:
  containers:
  - name: app
    image: {image}
    args: [sleep-forever]
    startupProbe: {{exec: {{command: [testbox, exit, "1"]}}, periodSeconds: 1, failureThreshold: 2}}
"#
        ))
        .await;
    let pod = cluster
        .wait_for("never-starts", TIMEOUT, |pod| {
            restart_count(pod, "app") >= 1
        })
        .await;
    assert!(!ready(&pod, "app"));
    let events = wait_for_events(&cluster, "never-starts", "app", |events| {
        count(
            events,
            "Killing",
            "Container app failed startup probe, will be restarted",
        ) > 0
    })
    .await;
    // `exit 1` prints nothing, so the failure carries no output, as with the kubelet.
    assert!(count(&events, "Unhealthy", "Startup probe failed: ") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_that_time_out_or_cannot_run_leave_the_container_unready() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: unreachable}}
spec:
  containers:
  - name: slow
    image: {image}
    args: [sleep-forever]
    readinessProbe: {{exec: {{command: [testbox, sleep, "5"]}}, periodSeconds: 1, timeoutSeconds: 1}}
  - name: web
    image: {image}
    args: [sleep-forever]
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{httpGet: {{path: /healthz, port: http}}, periodSeconds: 1}}
"#
        ))
        .await;
    let events = wait_for_events(&cluster, "unreachable", "slow", |events| {
        count(events, "Unhealthy", "Readiness probe failed: ") > 0
    })
    .await;
    let message = events
        .iter()
        .filter(|event| event.reason.as_deref() == Some("Unhealthy"))
        .find_map(|event| event.message.clone())
        .unwrap_or_default();
    assert_eq!(
        message,
        "Readiness probe failed: command \"testbox sleep 5\" timed out"
    );
    // Whether the node has a pod network or not, nothing listens on the port: the probe
    // errors (no network) or fails (connection refused), and the container stays unready.
    wait_for_events(&cluster, "unreachable", "web", |events| {
        count(events, "Unhealthy", "Readiness probe ") > 0
    })
    .await;
    let pod = cluster.pods().get("unreachable").await.expect("the pod");
    for container in ["slow", "web"] {
        assert!(!ready(&pod, container), "{container} is ready");
        assert!(started(&pod, container));
    }
}
