//! Backup and restore end to end, as an operator does them: `wasmkube backup save` from
//! a running `wasmkube up`, changes after it, the server stopped, `wasmkube backup
//! restore` into a new data directory and `wasmkube up` on it: the cluster is as it was
//! at the backup, its pods run again and its image is there. A damaged backup is refused
//! and leaves nothing behind; a user who is not in system:masters gets 403.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{Cluster, fails, ok, text};
use wasmkube_wasm_guests::WasmTarget;

const WORKLOAD: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  colour: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: testbox:1
        args: [sleep-forever]
"#;

/// `wasmkube ARGUMENTS` with no kubeconfig from the environment.
fn wasmkube(arguments: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmkube"));
    command.env_remove("KUBECONFIG").args(arguments);
    support::run(command, None)
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Waits until the Deployment's pods are Running with containers started after `since`
/// (RFC 3339): started by this cluster's node, not left over in a restored status.
fn wait_for_pods_started_after(cluster: &Cluster, since: &str) {
    cluster.wait_for_jsonpath(
        &["pods", "-n", "shop", "-l", "app=web"],
        "{range .items[*]}{.status.phase},{.status.containerStatuses[0].state.running.startedAt} {end}",
        Duration::from_secs(30),
        |text| {
            let pods: Vec<&str> = text.split_whitespace().collect();
            pods.len() == 2
                && pods.iter().all(|pod| {
                    pod.split_once(',').is_some_and(|(phase, started)| {
                        phase == "Running" && !started.is_empty() && started >= since
                    })
                })
        },
    );
}

#[test]
fn a_backup_brings_the_cluster_back_as_it_was_in_a_new_data_directory() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let original_dir = directory.path().join("original");
    let cluster = Cluster::start(&original_dir);
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(WORKLOAD)));
    wait_for_pods_started_after(&cluster, "");

    // Only system:masters may take a snapshot: a user with `edit` gets 403.
    let alice = directory.path().join("alice.kubeconfig");
    ok(cluster.wasmkube(&[
        "kubeconfig",
        "--user",
        "alice",
        "--clusterrole",
        "edit",
        "-n",
        "shop",
        "-o",
        path(&alice),
    ]));
    let refused = directory.path().join("refused.backup");
    let message = fails(wasmkube(&[
        "--kubeconfig",
        path(&alice),
        "backup",
        "save",
        path(&refused),
    ]));
    assert!(
        message.contains("Error from server (Forbidden)")
            && message.contains("/wasmkube/v1/snapshot"),
        "{message}"
    );
    assert!(!refused.exists());

    let backup = directory.path().join("cluster.backup");
    let saved = ok(wasmkube(&[
        "backup",
        "save",
        path(&backup),
        "--data-dir",
        path(&original_dir),
    ]));
    assert!(saved.contains("Snapshot saved at"), "{saved}");
    assert!(saved.contains("5 identity files"), "{saved}");
    let status = ok(wasmkube(&["backup", "status", path(&backup)]));
    assert!(status.contains("a whole backup"), "{status}");

    // Changes after the backup are not in it.
    ok(cluster.kubectl(
        "kubectl",
        &["delete", "configmap", "settings", "-n", "shop"],
    ));
    ok(cluster.kubectl(
        "kubectl",
        &[
            "create",
            "configmap",
            "later",
            "-n",
            "shop",
            "--from-literal=a=b",
        ],
    ));
    cluster.stop();

    // A damaged backup is refused and leaves no data directory behind.
    let content = std::fs::read(&backup).expect("the backup");
    let mut flipped = content.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    for (name, damaged) in [
        ("flipped", flipped),
        ("truncated", content[..content.len() - 10].to_vec()),
    ] {
        let damaged_file = directory.path().join(format!("{name}.backup"));
        std::fs::write(&damaged_file, damaged).expect("a damaged backup");
        let target = directory.path().join(name);
        let message = fails(wasmkube(&[
            "backup",
            "restore",
            path(&damaged_file),
            "--data-dir",
            path(&target),
        ]));
        assert!(
            message.contains("nothing was changed")
                && (message.contains("corrupt") || message.contains("truncated")),
            "{name}: {message}"
        );
        assert!(
            !target.exists(),
            "{name}: {} was left behind",
            target.display()
        );
        let message = fails(wasmkube(&["backup", "status", path(&damaged_file)]));
        assert!(message.contains("not a usable backup"), "{name}: {message}");
    }

    let restored_dir = directory.path().join("restored");
    let restored = ok(wasmkube(&[
        "backup",
        "restore",
        path(&backup),
        "--data-dir",
        path(&restored_dir),
    ]));
    assert!(
        restored.contains("Identity: the backup's CA, keys and tokens."),
        "{restored}"
    );
    // A data directory that already holds a store is never overwritten.
    let message = fails(wasmkube(&[
        "backup",
        "restore",
        path(&backup),
        "--data-dir",
        path(&restored_dir),
    ]));
    assert!(message.contains("already exists"), "{message}");

    let started = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let cluster = Cluster::start(&restored_dir);
    let colour = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.colour}",
        ],
    ));
    assert_eq!(colour, "blue");
    let gone = cluster.kubectl("kubectl", &["get", "configmap", "later", "-n", "shop"]);
    let (_, stderr) = text(&gone);
    assert!(stderr.contains("NotFound"), "{stderr}");
    wait_for_pods_started_after(&cluster, &started);
    let images = ok(cluster.wasmkube(&["image", "ls"]));
    assert!(images.contains("testbox"), "{images}");
    // The restored cluster keeps its CA: a kubeconfig minted before the backup still
    // authenticates (pointed at the new address).
    let alice_text = std::fs::read_to_string(&alice).expect("alice's kubeconfig");
    let old_server = alice_text
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: "))
        .expect("a server line")
        .to_owned();
    std::fs::write(
        &alice,
        alice_text.replace(&old_server, &cluster.server_url()),
    )
    .expect("alice's kubeconfig");
    let mut command = Command::new(support::kubectl_path("kubectl"));
    command
        .arg("--kubeconfig")
        .arg(&alice)
        .args(["get", "configmap", "settings", "-n", "shop", "-o", "name"])
        .env_remove("KUBECONFIG");
    let alice_sees = ok(support::run(command, None));
    assert_eq!(alice_sees.trim(), "configmap/settings");
}
