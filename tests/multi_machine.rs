//! A cluster of separate processes, as on separate machines: one `wasmkube server` and
//! `wasmkube node` processes that join it with the server's token over TLS, each with
//! an address of its own on the loopback network. Nodes and the server are killed with
//! SIGKILL, as machines that lose power.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{Cluster, NodeProcess, SPREAD_DEPLOYMENT, ok};
use wasmkube_wasm_guests::WasmTarget;

const GRACE_PERIOD_SECONDS: u64 = 10;

/// A server whose node controller gives up on a silent node after the short grace period
/// and evicts its pods at once.
fn start_server(directory: &std::path::Path) -> Cluster {
    let grace = format!("{GRACE_PERIOD_SECONDS}s");
    Cluster::start_server(
        &directory.join("server"),
        &[
            "--node-monitor-grace-period",
            &grace,
            "--default-unreachable-toleration-seconds",
            "0",
            "--default-not-ready-toleration-seconds",
            "0",
        ],
    )
}

/// A node with its own loopback address (127.0.0.N), as a machine of its own.
fn start_node(cluster: &Cluster, directory: &std::path::Path, name: &str, host: u8) -> NodeProcess {
    let endpoint = format!("127.0.0.{host}:0");
    cluster.start_node_with_arguments(name, &directory.join(name), &["--node-endpoint", &endpoint])
}

/// Each Running pod of the Deployment that is not being deleted, with its node, its
/// container's start time and restart count.
fn running_pods(cluster: &Cluster) -> BTreeMap<String, (String, String, String)> {
    let output = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-l",
            "app=spread",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}|{.status.containerStatuses[0].state.running.startedAt} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}",
        ],
    ));
    output
        .lines()
        .filter_map(|line| {
            let (pod, container) = line.split_once('|')?;
            let fields: Vec<&str> = pod.split_whitespace().collect();
            let container: Vec<&str> = container.split_whitespace().collect();
            // A pod being deleted has a deletionTimestamp: four fields, not three.
            (fields.len() == 3 && fields[2] == "Running" && container.len() == 2).then(|| {
                (
                    fields[0].to_owned(),
                    (
                        fields[1].to_owned(),
                        container[0].to_owned(),
                        container[1].to_owned(),
                    ),
                )
            })
        })
        .collect()
}

/// Waits until `done` accepts the running pods, failing with them after `limit`.
fn wait_for_pods(
    cluster: &Cluster,
    limit: Duration,
    what: &str,
    done: impl Fn(&BTreeMap<String, (String, String, String)>) -> bool,
) -> BTreeMap<String, (String, String, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let pods = running_pods(cluster);
        if done(&pods) {
            return pods;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {limit:?}: {pods:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn all_pods(cluster: &Cluster) -> Vec<String> {
    let names = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-l",
            "app=spread",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    ));
    names.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn three_processes_form_a_cluster_and_a_dead_nodes_pods_move_to_the_other() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = start_server(directory.path());
    let _first = start_node(&cluster, directory.path(), "first", 2);
    let mut second = start_node(&cluster, directory.path(), "second", 3);
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(SPREAD_DEPLOYMENT)));
    let spread = wait_for_pods(
        &cluster,
        Duration::from_secs(90),
        "the pods never spread over both nodes",
        |pods| {
            pods.len() == 4
                && pods.values().any(|(node, _, _)| node == "first")
                && pods.values().any(|(node, _, _)| node == "second")
        },
    );
    let moved: Vec<&String> = spread
        .iter()
        .filter(|(_, (node, _, _))| node == "second")
        .map(|(pod, _)| pod)
        .collect();

    second.kill();
    let limit = Duration::from_secs(GRACE_PERIOD_SECONDS + 30);
    let placed = wait_for_pods(
        &cluster,
        limit,
        "the pods did not all run on the first node",
        |pods| pods.len() == 4 && pods.values().all(|(node, _, _)| node == "first"),
    );
    assert!(
        moved.iter().all(|pod| !placed.contains_key(*pod)),
        "the second node's pods were replaced by new ones: {moved:?} {placed:?}"
    );
}

#[test]
fn a_node_agent_killed_and_restarted_neither_loses_nor_duplicates_its_pods() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = start_server(directory.path());
    let mut node = start_node(&cluster, directory.path(), "only", 2);
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(SPREAD_DEPLOYMENT)));
    let before = wait_for_pods(
        &cluster,
        Duration::from_secs(90),
        "the pods never ran",
        |pods| pods.len() == 4,
    );

    node.kill();
    // Back well within the grace period: the node controller never notices.
    let _node = start_node(&cluster, directory.path(), "only", 2);
    let after = wait_for_pods(
        &cluster,
        Duration::from_secs(60),
        "the pods did not run again after the agent's restart",
        |pods| pods.len() == 4 && pods.values().all(|(_, started, _)| !started.is_empty()),
    );
    let names = |pods: &BTreeMap<String, (String, String, String)>| {
        pods.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(
        names(&after),
        names(&before),
        "the same pods, neither lost nor replaced"
    );
    assert_eq!(all_pods(&cluster), names(&before), "no other pod was made");
}

#[test]
fn a_server_killed_and_restarted_leaves_running_pods_alone() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = start_server(directory.path());
    let _node = start_node(&cluster, directory.path(), "only", 2);
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(SPREAD_DEPLOYMENT)));
    let before = wait_for_pods(
        &cluster,
        Duration::from_secs(90),
        "the pods never ran",
        |pods| pods.len() == 4,
    );

    let lease = ["lease", "-n", "kube-node-lease", "only"];
    let renewed_before = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            lease[0],
            lease[1],
            lease[2],
            lease[3],
            "-o",
            "jsonpath={.spec.renewTime}",
        ],
    ));
    cluster.kill();
    std::thread::sleep(Duration::from_secs(2));
    cluster.restart();
    // The node reconnects and goes on renewing its Lease; its pods keep running, with
    // the same containers (same start time, no restart).
    cluster.wait_for_jsonpath(
        &lease,
        "{.spec.renewTime}",
        Duration::from_secs(30),
        |renewed| renewed != renewed_before,
    );
    std::thread::sleep(Duration::from_secs(GRACE_PERIOD_SECONDS / 2));
    let after = running_pods(&cluster);
    assert_eq!(
        after, before,
        "the same pods, containers neither restarted nor moved"
    );
    // And the node still takes new work from the restarted server.
    ok(cluster.kubectl(
        "kubectl",
        &["scale", "deployment", "spread", "--replicas", "5"],
    ));
    wait_for_pods(
        &cluster,
        Duration::from_secs(60),
        "the fifth pod never ran",
        |pods| pods.len() == 5,
    );
}
