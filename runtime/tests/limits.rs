//! Limits and hostile guests: memory limits end a container as OOMKilled (and it is
//! restarted with back-off), a memory bomb or an endless loop never hurts the node, and
//! no path leads out of a volume.

mod support;

use std::time::Duration;

use support::{TestCluster, container_status, guest_image, phase, terminated, testbox};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_over_its_memory_limit_is_oom_killed_and_restarted_one_within_runs() {
    let cluster = TestCluster::start().await;
    let hog = guest_image("hog", WasmTarget::P2);
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: memory-hog}}
spec:
  containers:
  - name: hog
    image: {hog}
    args: [-mem-total, 250Mi, -mem-alloc-size, 10Mi, -mem-alloc-sleep, 10ms]
    resources: {{limits: {{memory: 100Mi}}}}
"#
        ))
        .await;
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: modest}}
spec:
  containers:
  - name: hog
    image: {hog}
    args: [-mem-total, 50Mi, -mem-alloc-size, 10Mi, -mem-alloc-sleep, 10ms]
    resources: {{limits: {{memory: 100Mi}}}}
"#
        ))
        .await;
    let pod = cluster
        .wait_for("memory-hog", TIMEOUT, |pod| {
            container_status(pod, "hog").is_some_and(|status| status.restart_count >= 2)
        })
        .await;
    let last = container_status(&pod, "hog")
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
    let modest = cluster
        .wait_for("modest", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    // The modest hog allocated everything it wanted and still runs, never restarted.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !cluster.logs("modest", "hog").await.contains("total 50Mi") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the modest hog never finished allocating"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let modest = cluster.pods().get("modest").await.unwrap_or(modest);
    assert_eq!(container_status(&modest, "hog").unwrap().restart_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_contained_and_the_node_keeps_working() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: bomb}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: bomb\n    image: {image}\n    args: [memory-bomb]\n    resources: {{limits: {{memory: 64Mi}}}}\n"
        ))
        .await;
    let pod = cluster
        .wait_for("bomb", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    let ended = terminated(&pod, "bomb").unwrap();
    assert_eq!(
        (ended.exit_code, ended.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
    // The node still runs pods.
    cluster
        .create_pod(&format!(
            "metadata: {{name: after}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: box\n    image: {image}\n    args: [echo, alive]\n"
        ))
        .await;
    cluster
        .wait_for("after", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;
    assert_eq!(cluster.logs("after", "box").await, "alive\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loops_that_never_call_the_host_leave_the_node_responsive_and_die_on_delete() {
    let cluster = TestCluster::start_with(|config| config.guest_threads = 1).await;
    let image = testbox();
    for index in 0..3 {
        cluster
            .create_pod(&format!(
                "metadata: {{name: spin-{index}}}\nspec:\n  containers:\n  - name: spin\n    image: {image}\n    args: [spin]\n    resources: {{limits: {{cpu: '2'}}}}\n"
            ))
            .await;
    }
    for index in 0..3 {
        cluster
            .wait_for(&format!("spin-{index}"), TIMEOUT, |pod| {
                phase(pod) == "Running"
            })
            .await;
    }
    // Three unthrottled spinners share one guest thread, and still another pod starts
    // and finishes, and the API answers at once.
    cluster
        .create_pod(&format!(
            "metadata: {{name: meanwhile}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: box\n    image: {image}\n    args: [echo, still here]\n"
        ))
        .await;
    cluster
        .wait_for("meanwhile", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(cluster.client.clone(), "kube-node-lease");
    let first = leases
        .get("node-1")
        .await
        .unwrap()
        .spec
        .unwrap()
        .renew_time
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let second = leases
        .get("node-1")
        .await
        .unwrap()
        .spec
        .unwrap()
        .renew_time
        .unwrap();
    assert!(
        second.0 > first.0,
        "the lease was not renewed while guests spun"
    );
    for index in 0..3 {
        cluster
            .pods()
            .delete(&format!("spin-{index}"), &Default::default())
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    for index in 0..3 {
        while cluster
            .pods()
            .get_opt(&format!("spin-{index}"))
            .await
            .unwrap()
            .is_some()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a spinning pod was not stopped"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_symlink_link_or_rename_leads_out_of_a_volume() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: escape}}\nspec:\n  restartPolicy: Never\n  volumes: [{{name: scratch, emptyDir: {{}}}}]\n  containers:\n  - name: box\n    image: {image}\n    args: [escape, /data]\n    volumeMounts: [{{name: scratch, mountPath: /data}}]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("escape", TIMEOUT, |pod| {
            matches!(phase(pod), "Succeeded" | "Failed")
        })
        .await;
    let logs = cluster.logs("escape", "box").await;
    assert!(!logs.contains("ESCAPED"), "{logs}");
    assert!(
        logs.lines()
            .filter(|line| line.contains(": blocked"))
            .count()
            >= 8,
        "{logs}"
    );
    assert_eq!(terminated(&pod, "box").unwrap().exit_code, 0, "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_empty_dir_outgrows_its_size_limit_is_evicted() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    let two_mebibytes = "x".repeat(2 * 1024 * 1024);
    cluster
        .create_pod(&format!(
            "metadata: {{name: filler}}\nspec:\n  volumes: [{{name: scratch, emptyDir: {{medium: Memory, sizeLimit: 1Mi}}}}]\n  initContainers:\n  - name: fill\n    image: {image}\n    args: [write, /data/big, {two_mebibytes}]\n    volumeMounts: [{{name: scratch, mountPath: /data}}]\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n"
        ))
        .await;
    // The agent measures emptyDirs every 10 s, as the kubelet's eviction manager does.
    let pod = cluster
        .wait_for("filler", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    let status = pod.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    let message = status.message.unwrap();
    assert!(
        message.starts_with("Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\""),
        "{message}"
    );
}
