//! A node that dies: a real `wasmkube up` (the control plane and its own node) with a
//! second node agent process, `wasmkube node`, killed while it runs part of a
//! Deployment. Its pods must run on the surviving node within the grace period + 5 s, and
//! when the killed node comes back it must not keep running the pods that moved.

mod support;

use std::time::{Duration, Instant};

use support::{Cluster, SPREAD_DEPLOYMENT, ok};
use wasmkube_wasm_guests::WasmTarget;

const GRACE_PERIOD_SECONDS: u64 = 10;

/// `pod node` pairs of the Deployment's pods that are not being deleted.
fn placements(cluster: &Cluster) -> Vec<(String, String)> {
    let output = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-l",
            "app=spread",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.metadata.deletionTimestamp} {.status.phase}{\"\\n\"}{end}",
        ],
    ));
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // A pod being deleted has a deletionTimestamp: four fields, not three.
            (fields.len() == 3 && fields[2] == "Running")
                .then(|| (fields[0].to_owned(), fields[1].to_owned()))
        })
        .collect()
}

#[test]
fn a_killed_node_agents_pods_run_elsewhere_within_the_grace_period_and_do_not_come_back() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let grace = format!("{GRACE_PERIOD_SECONDS}s");
    let cluster = Cluster::start_with_arguments(
        &directory.path().join("server"),
        &[
            "--node-name",
            "first",
            "--node-monitor-grace-period",
            &grace,
            "--default-unreachable-toleration-seconds",
            "0",
            "--default-not-ready-toleration-seconds",
            "0",
        ],
    );
    let second_data = directory.path().join("second");
    let mut second = cluster.start_node("second", &second_data);
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(SPREAD_DEPLOYMENT)));
    let deadline = Instant::now() + Duration::from_secs(90);
    let moved: Vec<String> = loop {
        let placed = placements(&cluster);
        let on_second: Vec<String> = placed
            .iter()
            .filter(|(_, node)| node == "second")
            .map(|(pod, _)| pod.clone())
            .collect();
        if placed.len() == 4 && !on_second.is_empty() {
            break on_second;
        }
        assert!(
            Instant::now() < deadline,
            "the pods never spread: {placed:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    second.kill();
    let killed_at = Instant::now();
    let limit = Duration::from_secs(GRACE_PERIOD_SECONDS + 5);
    loop {
        let placed = placements(&cluster);
        if placed.len() == 4 && placed.iter().all(|(_, node)| node == "first") {
            break;
        }
        assert!(
            killed_at.elapsed() < limit,
            "the pods did not move to the first node within {limit:?}: {placed:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let taints = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "node",
            "second",
            "-o",
            "jsonpath={.spec.taints[*].key}",
        ],
    ));
    assert!(
        taints.contains("node.kubernetes.io/unreachable"),
        "{taints}"
    );

    // The node comes back: the pods that moved away are deleted there, not run again.
    let _second = cluster.start_node("second", &second_data);
    cluster.wait_for_jsonpath(
        &["node", "second"],
        "{.status.conditions[?(@.type==\"Ready\")].status}",
        Duration::from_secs(60),
        |text| text == "True",
    );
    cluster.wait_for_jsonpath(
        &["pods", "-l", "app=spread"],
        "{range .items[*]}{.metadata.name} {end}",
        Duration::from_secs(60),
        |text| moved.iter().all(|pod| !text.contains(pod.as_str())),
    );
    let placed = placements(&cluster);
    assert_eq!(placed.len(), 4, "{placed:?}");
}
