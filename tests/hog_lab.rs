//! The seeds' resource limits lab end to end on a real `wasmkube up --node-memory 1500Mi`,
//! with the example's manifests and kubectl: a hog over its own limit is OOMKilled (exit
//! code 137) and restarted; a hog limited to 500m runs at about half the pace of one
//! allowed a whole core; a pod with no resources in `low-usage-limits` gets the
//! LimitRange's defaults; and the lab's two hog Deployments, one in `default` and one in
//! `low-usage-limits`, race for the node's memory: each allocates 950Mi, the node has
//! 1500Mi, so the node's OOM killer ends one and then the other, though neither reaches
//! its own 4Gi limit.

mod support;

use std::time::{Duration, Instant};

use support::{Cluster, ok};
use wasmkube_wasm_guests::{WasmTarget, examples_dir};

const TIMEOUT: Duration = Duration::from_secs(40);

fn manifest_path(name: &str) -> String {
    examples_dir()
        .join("hog/manifests")
        .join(name)
        .display()
        .to_string()
}

/// The latest `cpu: N iterations in the last second` figure in a hog's log.
fn latest_pace(cluster: &Cluster, pod: &str) -> Option<f64> {
    let logs = ok(cluster.kubectl("kubectl", &["logs", pod, "--tail=1"]));
    logs.trim()
        .strip_prefix("cpu: ")?
        .strip_suffix(" iterations in the last second")?
        .parse()
        .ok()
}

#[test]
fn the_hog_lab_shows_oom_kills_throttling_defaults_and_the_race_for_the_nodes_memory() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start_with_arguments(
        directory.path(),
        &[
            "--node-memory",
            "1500Mi",
            "--restart-backoff-initial-seconds",
            "1",
            "--restart-backoff-max-seconds",
            "4",
        ],
    );
    let node_memory = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[0].status.capacity.memory} {.items[0].status.allocatable.memory}",
        ],
    ));
    assert_eq!(node_memory, "1536000Ki 1536000Ki");
    cluster.push_guest("hog", WasmTarget::P2, "hog:1.0");

    // Over its own limit, and the CPU pair.
    ok(cluster.kubectl(
        "kubectl",
        &[
            "apply",
            "-f",
            &manifest_path("hog.yaml"),
            "-f",
            &manifest_path("hog-cpu.yaml"),
            "-f",
            &manifest_path("hog-cpu-whole-core.yaml"),
        ],
    ));
    let over_limit = cluster.wait_for_jsonpath(
        &["pod", "hog"],
        "{.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].restartCount}",
        TIMEOUT,
        |text| text.starts_with("OOMKilled 137") && !text.ends_with(" 0"),
    );
    assert!(over_limit.starts_with("OOMKilled 137 "), "{over_limit}");

    // Throttling: the 500m hog's pace against the whole core's. The machine may be busy,
    // so the pair is read until one reading shows the quota; a hog that was not
    // throttled would stay near 1.
    let deadline = Instant::now() + TIMEOUT;
    let ratio = loop {
        if let (Some(throttled), Some(whole)) = (
            latest_pace(&cluster, "hog-cpu"),
            latest_pace(&cluster, "hog-cpu-whole-core"),
        ) {
            let ratio = throttled / whole;
            if (0.3..=0.7).contains(&ratio) {
                break ratio;
            }
            assert!(
                Instant::now() < deadline,
                "the 500m hog never ran at about half the whole core's pace: last {throttled:.0} against {whole:.0} ({ratio:.2})"
            );
        }
        assert!(Instant::now() < deadline, "the CPU hogs logged no pace");
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("the 500m hog ran at {ratio:.2} of the whole core's pace");
    ok(cluster.kubectl(
        "kubectl",
        &[
            "delete",
            "pod",
            "hog",
            "hog-cpu",
            "hog-cpu-whole-core",
            "--wait=true",
            "--timeout=30s",
        ],
    ));

    // The namespace's LimitRange gives limited-hog its defaults.
    ok(cluster.kubectl(
        "kubectl",
        &["apply", "-f", &manifest_path("low-usage-limits.yaml")],
    ));
    ok(cluster.kubectl(
        "kubectl",
        &["apply", "-f", &manifest_path("limited-hog.yaml")],
    ));
    let resources = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "limited-hog",
            "-n",
            "low-usage-limits",
            "-o",
            "jsonpath={.spec.containers[0].resources}",
        ],
    ));
    let resources: serde_json::Value = serde_json::from_str(&resources).expect("resources");
    assert_eq!(
        resources,
        serde_json::json!({
            "limits": {"cpu": "1", "memory": "500Mi"},
            "requests": {"cpu": "500m", "memory": "100Mi"},
        })
    );

    // The race. The lab's hogs also burn a CPU each; that plays no part in the race for
    // memory and would only slow a busy test machine down, so the test leaves it out.
    for (file, namespace) in [
        ("hog-deployment.yaml", "default"),
        ("hog-low-usage-limits.yaml", "low-usage-limits"),
    ] {
        let text = std::fs::read_to_string(manifest_path(file)).expect("the manifest");
        let without_cpu_burn = text.replace("            - -cpus\n            - \"2\"\n", "");
        assert_ne!(
            text, without_cpu_burn,
            "{file} burns CPU as the lab's hog does"
        );
        ok(cluster.kubectl_with_input(
            "kubectl",
            &["apply", "-n", namespace, "-f", "-"],
            Some(&without_cpu_burn),
        ));
    }
    let both_killed = cluster.wait_for_jsonpath(
        &["pods", "--all-namespaces", "-l", "run=hog"],
        "{range .items[*]}{.metadata.namespace} {.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].lastState.terminated.exitCode}{\"\\n\"}{end}",
        Duration::from_secs(50),
        |text| {
            ["default", "low-usage-limits"].iter().all(|namespace| {
                text.lines()
                    .any(|line| line == format!("{namespace} OOMKilled 137"))
            })
        },
    );
    eprintln!("{both_killed}");
    // Neither reached its own 4Gi limit: the node recorded why it killed them.
    let events = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "events",
            "-n",
            "default",
            "-o",
            "jsonpath={range .items[?(@.reason==\"SystemOOM\")]}{.involvedObject.kind} {.type} {.message}{\"\\n\"}{end}",
        ],
    ));
    for namespace in ["default", "low-usage-limits"] {
        assert!(
            events.lines().any(|line| line
                .starts_with("Node Warning System OOM encountered, victim process: hog, pod: ")
                && line.contains(&format!("pod: {namespace}/hog-"))),
            "no SystemOOM event for the hog in {namespace}: {events}"
        );
    }
}
