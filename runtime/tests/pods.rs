//! Pods on a real node agent with a real API server: p1 and p2 guests, argv and env,
//! init containers, shared emptyDirs, restarts with back-off, deletion.

mod support;

use std::time::Duration;

use support::{
    TestCluster, container_status, guest_image, phase, terminated, testbox, waiting_reason,
};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_modules_and_p2_components_both_run_to_completion() {
    let cluster = TestCluster::start().await;
    for (name, target) in [("hello-p1", WasmTarget::P1), ("hello-p2", WasmTarget::P2)] {
        let image = guest_image("hello", target);
        cluster
            .create_pod(&format!(
                "metadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: hello\n    image: {image}\n    args: [one, two]\n"
            ))
            .await;
    }
    for name in ["hello-p1", "hello-p2"] {
        let pod = cluster
            .wait_for(name, TIMEOUT, |pod| phase(pod) == "Succeeded")
            .await;
        let ended = terminated(&pod, "hello").expect("terminated");
        assert_eq!(
            (ended.exit_code, ended.reason.as_deref()),
            (0, Some("Completed"))
        );
        let logs = cluster.logs(name, "hello").await;
        assert_eq!(logs, "Hello from wasmkube!\none\ntwo\n", "{name}");
        let conditions = pod.status.unwrap().conditions.unwrap();
        let ready = conditions
            .iter()
            .find(|condition| condition.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("PodCompleted"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argv_env_env_from_downward_api_and_working_dir_reach_the_guest() {
    let cluster = TestCluster::start().await;
    let config_maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(cluster.client.clone(), "default");
    let config_map =
        serde_yaml::from_str("metadata: {name: settings}\ndata: {LEVEL: debug, '1BAD': value}\n")
            .unwrap();
    config_maps
        .create(&Default::default(), &config_map)
        .await
        .unwrap();
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: env, labels: {{app: env}}}}
spec:
  restartPolicy: Never
  containers:
  - name: box
    image: {image}
    command: [testbox, env]
    envFrom:
    - configMapRef: {{name: settings}}
      prefix: CFG_
    - configMapRef: {{name: settings}}
    env:
    - {{name: GREETING, value: hello}}
    - {{name: MESSAGE, value: "$(GREETING) from $(POD_NAME), $$(GREETING) $(UNDEFINED)"}}
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    - name: POD_NAMESPACE
      valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}
    - name: NODE_NAME
      valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
    - name: APP
      valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['app']"}}}}
    - name: MEMORY_LIMIT
      valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}
    resources: {{limits: {{memory: 64Mi}}}}
"#
        ))
        .await;
    cluster
        .wait_for("env", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;
    let logs = cluster.logs("env", "box").await;
    for expected in [
        "CFG_LEVEL=debug",
        "CFG_1BAD=value",
        "LEVEL=debug",
        "GREETING=hello",
        // POD_NAME is defined after MESSAGE, so it is not expanded there, as in Kubernetes.
        "MESSAGE=hello from $(POD_NAME), $(GREETING) $(UNDEFINED)",
        "POD_NAME=env",
        "POD_NAMESPACE=default",
        "NODE_NAME=node-1",
        "APP=env",
        "MEMORY_LIMIT=64",
        "HOSTNAME=env",
    ] {
        assert!(
            logs.lines().any(|line| line == expected),
            "{expected:?} not in:\n{logs}"
        );
    }
    // `1BAD` is not a valid variable name without a prefix, so it is skipped.
    assert!(
        !logs.lines().any(|line| line.starts_with("1BAD=")),
        "{logs}"
    );

    cluster
        .create_pod(&format!(
            "metadata: {{name: argv}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: box\n    image: {image}\n    command: [testbox, echo, $(WORD)]\n    args: [and, $(WORD)s]\n    env: [{{name: WORD, value: argument}}]\n"
        ))
        .await;
    cluster
        .wait_for("argv", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;
    assert_eq!(
        cluster.logs("argv", "box").await,
        "argument and arguments\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_containers_output_is_in_place_before_the_app_containers_share_an_empty_dir() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: shared}}
spec:
  restartPolicy: Never
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  initContainers:
  - name: prepare
    image: {image}
    args: [write, /data/config.txt, prepared]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
  - name: settle
    image: {image}
    args: [sleep, "1.5"]
  containers:
  - name: writer
    image: {image}
    args: [write, /shared/from-writer.txt, written]
    volumeMounts: [{{name: scratch, mountPath: /shared}}]
  - name: reader
    image: {image}
    command: [testbox, wait-for, /in/from-writer.txt, "30"]
    volumeMounts: [{{name: scratch, mountPath: /in}}]
  - name: config
    image: {image}
    args: [cat, /etc/app/config.txt]
    volumeMounts: [{{name: scratch, mountPath: /etc/app, readOnly: true}}]
"#
        ))
        .await;
    let pod = cluster
        .wait_for("shared", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;
    assert_eq!(cluster.logs("shared", "config").await, "prepared\n");
    for container in ["writer", "reader", "config"] {
        assert_eq!(
            terminated(&pod, container).unwrap().exit_code,
            0,
            "{container}"
        );
    }
    let init_statuses = pod
        .status
        .as_ref()
        .unwrap()
        .init_container_statuses
        .clone()
        .unwrap();
    // Each init container ran once, even while status updates woke the pod's worker.
    assert!(
        init_statuses.iter().all(|status| status.restart_count == 0),
        "{init_statuses:?}"
    );
    let last_init = init_statuses[1]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    let init_end = last_init.finished_at.clone().unwrap();
    let app_start = terminated(&pod, "config").unwrap().started_at.unwrap();
    assert!(
        init_end.0 <= app_start.0,
        "the app started before its init container ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_container_is_restarted_with_back_off_and_shows_crash_loop_back_off() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: crash}}\nspec:\n  containers:\n  - name: app\n    image: {image}\n    args: [exit, \"3\"]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("crash", TIMEOUT, |pod| {
            waiting_reason(pod, "app").as_deref() == Some("CrashLoopBackOff")
                && container_status(pod, "app").is_some_and(|status| status.restart_count >= 2)
        })
        .await;
    let status = container_status(&pod, "app").unwrap();
    let last = status
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    // A p2 command can only say success or failure (wasi:cli/exit), so `exit 3` is 1.
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    let message = status
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.starts_with("back-off ")
            && message.contains("restarting failed container=app pod=crash_default("),
        "{message}"
    );
    assert_eq!(phase(&pod), "Running");

    // OnFailure stops restarting once the container succeeds; Never never restarts.
    cluster
        .create_pod(&format!(
            "metadata: {{name: once}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: {image}\n    args: [exit, \"1\"]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("once", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    assert_eq!(container_status(&pod, "app").unwrap().restart_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_failures_show_err_image_pull_then_image_pull_back_off() {
    let cluster = TestCluster::start().await;
    cluster
        .create_pod("metadata: {name: missing}\nspec:\n  containers:\n  - name: app\n    image: file:///nowhere/missing.wasm\n")
        .await;
    let pod = cluster
        .wait_for("missing", TIMEOUT, |pod| {
            waiting_reason(pod, "app").as_deref() == Some("ImagePullBackOff")
        })
        .await;
    let waiting = container_status(&pod, "app")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert!(waiting.message.unwrap().contains("/nowhere/missing.wasm"));
    assert_eq!(phase(&pod), "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_stops_its_containers_and_goes_away() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: sleeper}}\nspec:\n  volumes: [{{name: scratch, emptyDir: {{}}}}]\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n    volumeMounts: [{{name: scratch, mountPath: /data}}]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("sleeper", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let uid = pod.metadata.uid.unwrap();
    let volume_dir = cluster.data_dir().join("node/pods").join(&uid);
    assert!(volume_dir.exists());
    cluster
        .pods()
        .delete("sleeper", &Default::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while cluster.pods().get_opt("sleeper").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pod was not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!volume_dir.exists(), "the pod's volumes were left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_seconds_ends_a_pod_that_runs_too_long() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: deadline}}\nspec:\n  activeDeadlineSeconds: 1\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("deadline", TIMEOUT, |pod| phase(pod) == "Failed")
        .await;
    let status = pod.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        status.message.as_deref(),
        Some("Pod was active on the node longer than the specified deadline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_volume_follows_updates_to_its_config_map() {
    let cluster = TestCluster::start().await;
    let config_maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(cluster.client.clone(), "default");
    let config_map =
        serde_yaml::from_str("metadata: {name: page}\ndata: {index.html: first}\n").unwrap();
    config_maps
        .create(&Default::default(), &config_map)
        .await
        .unwrap();
    let image = testbox();
    let pod = cluster
        .create_pod(&format!(
            "metadata: {{name: web}}\nspec:\n  volumes: [{{name: page, configMap: {{name: page}}}}]\n  containers:\n  - name: box\n    image: {image}\n    args: [sleep-forever]\n    volumeMounts: [{{name: page, mountPath: /srv}}]\n"
        ))
        .await;
    cluster
        .wait_for("web", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let file = cluster
        .data_dir()
        .join("node/pods")
        .join(pod.metadata.uid.unwrap())
        .join("volumes/page/index.html");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "first");
    let patch = kube::api::Patch::Merge(serde_json::json!({"data": {"index.html": "second"}}));
    config_maps
        .patch("page", &Default::default(), &patch)
        .await
        .unwrap();
    // The kubelet propagates within its sync period; this agent checks every 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&file).unwrap() != "second" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the update never reached the volume"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_stop_hook_lets_a_container_finish_on_its_own_within_the_grace_period() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::{WatchEvent, WatchParams};

    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: graceful}}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  containers:
  - name: app
    image: {image}
    command: [testbox, wait-for, /data/stop, "120"]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
    lifecycle:
      preStop:
        exec: {{command: [testbox, write, /data/stop, now]}}
  - name: plain
    image: {image}
    args: [sleep-forever]
"#
        ))
        .await;
    let pod = cluster
        .wait_for("graceful", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let version = pod.metadata.resource_version.clone().unwrap();
    let mut events = cluster
        .pods()
        .watch(
            &WatchParams::default().fields("metadata.name=graceful"),
            &version,
        )
        .await
        .unwrap()
        .boxed();
    let started = std::time::Instant::now();
    cluster
        .pods()
        .delete("graceful", &Default::default())
        .await
        .unwrap();
    let mut last_seen = None;
    loop {
        match tokio::time::timeout(TIMEOUT, events.try_next()).await {
            Ok(Ok(Some(WatchEvent::Modified(pod)))) => last_seen = Some(pod),
            Ok(Ok(Some(WatchEvent::Deleted(_)))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!(
                "the pod was not removed: {:?}",
                other.map(|result| result.map(|event| event.is_some()))
            ),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the deletion waited out the grace period"
    );
    let last_seen = last_seen.expect("the final status");
    // The hook told `app` to stop and it finished by itself; `plain` has no hook, so it
    // was stopped at once, like a process without a SIGTERM handler.
    let app = terminated(&last_seen, "app").unwrap();
    assert_eq!(
        (app.exit_code, app.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert_eq!(terminated(&last_seen, "plain").unwrap().exit_code, 143);
}

fn condition_status(pod: &k8s_openapi::api::core::v1::Pod, kind: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == kind)
        .map(|condition| condition.status.clone())
}

/// The node controller marks the pods of a node it lost as not Ready; when the node
/// turns out to be alive, its agent puts the truth back, as the kubelet's status manager
/// does, and keeps the conditions it does not own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_condition_overwritten_by_someone_else_is_put_back_and_theirs_are_kept() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: steady}}\nspec:\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("steady", TIMEOUT, |pod| {
            condition_status(pod, "Ready").as_deref() == Some("True")
        })
        .await;
    let mut conditions = pod
        .status
        .and_then(|status| status.conditions)
        .unwrap_or_default();
    for condition in &mut conditions {
        if condition.type_ == "Ready" {
            condition.status = "False".to_owned();
            condition.reason = Some("NodeNotReady".to_owned());
        }
    }
    let mut overwritten = serde_json::json!({"status": {"conditions": conditions}});
    overwritten["status"]["conditions"]
        .as_array_mut()
        .expect("conditions")
        .push(serde_json::json!({"type": "ExampleGate", "status": "True"}));
    cluster
        .pods()
        .patch_status(
            "steady",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&overwritten),
        )
        .await
        .expect("the status is overwritten");
    let pod = cluster
        .wait_for("steady", TIMEOUT, |pod| {
            condition_status(pod, "Ready").as_deref() == Some("True")
        })
        .await;
    assert_eq!(
        condition_status(&pod, "ExampleGate").as_deref(),
        Some("True")
    );
}
