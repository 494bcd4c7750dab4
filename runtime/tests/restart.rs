//! A node agent that restarts adopts the pods it ran: what was running ended with the old
//! agent and its restart policy decides what happens next; what had finished stays
//! finished; what was deleted meanwhile is cleaned up. Nothing runs twice.

mod support;

use std::time::Duration;

use kube::api::DeleteParams;
use support::{TestCluster, container_status, phase, terminated, testbox};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_adopts_its_pods_and_cleans_up_after_deleted_ones() {
    let mut cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: always}}
spec:
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  initContainers:
  - name: prepare
    image: {image}
    args: [write, /data/marker, kept]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
  containers:
  - name: app
    image: {image}
    args: [sleep-forever]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
"#
        ))
        .await;
    for name in ["never", "gone"] {
        cluster
            .create_pod(&format!(
                "metadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  volumes: [{{name: scratch, emptyDir: {{}}}}]\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n    volumeMounts: [{{name: scratch, mountPath: /data}}]\n"
            ))
            .await;
    }
    let always = cluster
        .wait_for("always", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    cluster
        .wait_for("never", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let gone = cluster
        .wait_for("gone", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let pods_dir = cluster.data_dir().join("node/pods");
    let always_uid = always.metadata.uid.clone().unwrap();
    let gone_uid = gone.metadata.uid.clone().unwrap();
    let marker = pods_dir.join(&always_uid).join("volumes/scratch/marker");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "kept");

    cluster.stop_agent();
    // Removed for good while no agent runs: only the leftovers on disk remain.
    cluster
        .pods()
        .delete("gone", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods_dir.join(&gone_uid).exists());
    cluster.start_agent().await;

    let always = cluster
        .wait_for("always", TIMEOUT, |pod| {
            phase(pod) == "Running"
                && container_status(pod, "app")
                    .is_some_and(|status| status.restart_count == 1 && status.ready)
        })
        .await;
    let last = container_status(&always, "app")
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(last.exit_code, 137);
    let init = &always
        .status
        .as_ref()
        .unwrap()
        .init_container_statuses
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        init.restart_count, 0,
        "the finished init container ran again"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "kept",
        "the emptyDir lost its content"
    );

    let never = cluster
        .wait_for("never", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    let ended = terminated(&never, "app").unwrap();
    assert_eq!(ended.exit_code, 137);
    assert_eq!(container_status(&never, "app").unwrap().restart_count, 0);

    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while pods_dir.join(&gone_uid).join("volumes").exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deleted pod's volumes were left behind"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_cannot_build_its_engine_says_why_instead_of_panicking() {
    let directory = tempfile::tempdir().unwrap();
    let control_plane = support::start_control_plane(directory.path()).await;
    let mut config = support::node_agent_config(&control_plane, directory.path(), "node-1");
    // Far more address space than a process has: the instance pool cannot be mapped.
    config.max_pods = 1_000_000;
    let error = wasmkube_runtime::NodeAgent::start(config, control_plane.client.clone())
        .await
        .err()
        .expect("the agent refuses to start");
    assert!(
        error
            .to_string()
            .starts_with("cannot set up the wasmtime engine"),
        "{error}"
    );
}
