//! The node agent inside a real `wasmkube up`, driven as a user would: push an image,
//! apply the resource lab's manifests with kubectl, and read what kubectl shows.

mod support;

use std::time::Duration;

use support::Cluster;
use wasmkube_wasm_guests::{WasmTarget, examples_dir, guest};

const TIMEOUT: Duration = Duration::from_secs(90);

fn manifest(name: &str) -> String {
    examples_dir()
        .join("hog/manifests")
        .join(name)
        .display()
        .to_string()
}

fn succeeds(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_resource_lab_runs_with_kubectl_oom_kills_limits_and_limit_range_defaults() {
    let directory = tempfile::tempdir().unwrap();
    let cluster = Cluster::start_with_arguments(
        directory.path(),
        &[
            "--restart-backoff-initial-seconds",
            "1",
            "--restart-backoff-max-seconds",
            "4",
        ],
    );
    let hog = guest("hog", WasmTarget::P2);
    let pushed =
        succeeds(&cluster.wasmkube(&["image", "push", &hog.display().to_string(), "hog:1.0"]));
    assert!(pushed.starts_with("pushed hog:1.0 (sha256:"), "{pushed}");

    succeeds(&cluster.kubectl(
        "kubectl",
        &[
            "apply",
            "-f",
            &manifest("hog.yaml"),
            "-f",
            &manifest("hog-within-limit.yaml"),
        ],
    ));
    // The hog goes over its 100Mi limit, is OOMKilled and restarted, again and again.
    cluster.wait_for_jsonpath(
        &["pod", "hog"],
        "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].lastState.terminated.exitCode}",
        TIMEOUT,
        |text| {
            let fields: Vec<&str> = text.split(' ').collect();
            fields.len() == 3
                && fields[0].parse::<i32>().is_ok_and(|count| count >= 2)
                && fields[1] == "OOMKilled"
                && fields[2] == "137"
        },
    );
    let table = succeeds(&cluster.kubectl("kubectl", &["get", "pod", "hog"]));
    assert!(
        table.contains("OOMKilled")
            || table.contains("CrashLoopBackOff")
            || table.contains("Running"),
        "{table}"
    );
    let logs = succeeds(&cluster.kubectl("kubectl", &["logs", "hog", "--previous"]));
    assert!(logs.contains("Allocated"), "{logs}");

    // The one within its limit allocates everything and keeps running.
    cluster.wait_for_jsonpath(
        &["pod", "hog-within-limit"],
        "{.status.phase}",
        TIMEOUT,
        |phase| phase == "Running",
    );
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let logs = succeeds(&cluster.kubectl("kubectl", &["logs", "hog-within-limit"]));
        if logs.contains("Allocated") {
            // The project's own client reads the same log through pods/log.
            let own = succeeds(&cluster.wasmkube(&["logs", "hog-within-limit"]));
            assert!(own.contains("Allocated"), "{own}");
            let restarts = succeeds(&cluster.kubectl(
                "kubectl",
                &[
                    "get",
                    "pod",
                    "hog-within-limit",
                    "-o=jsonpath={.status.containerStatuses[0].restartCount}",
                ],
            ));
            assert_eq!(restarts, "0");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hog within its limit logged nothing: {logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A LimitRange gives its defaults to a pod that states no resources.
    succeeds(&cluster.kubectl(
        "kubectl",
        &["apply", "-f", &manifest("low-usage-limits.yaml")],
    ));
    succeeds(&cluster.kubectl("kubectl", &["apply", "-f", &manifest("limited-hog.yaml")]));
    let limits = cluster.wait_for_jsonpath(
        &["pod", "limited-hog", "-n", "low-usage-limits"],
        "{.spec.containers[0].resources.limits.memory} {.spec.containers[0].resources.limits.cpu} {.status.phase}",
        TIMEOUT,
        |text| text.ends_with("Running"),
    );
    assert_eq!(limits, "500Mi 1 Running");

    succeeds(&cluster.kubectl(
        "kubectl",
        &["delete", "pod", "hog", "--wait=true", "--timeout=60s"],
    ));
    let after = cluster.kubectl("kubectl", &["get", "pod", "hog"]);
    assert!(!after.status.success(), "the deleted pod is still there");
}
