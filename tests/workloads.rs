//! The controllers inside a real `wasmkube up`, driven with the machine's kubectl as a
//! user would: a Deployment scaled, rolled out and rolled back; Jobs, Indexed and failing;
//! a pod no node can take; and deletions that take everything owned with them.
//!
//! The Deployment's service is examples/echo, an HTTP server, Ready when its readiness
//! probe gets an answer over the pod network.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use support::{Cluster, ok};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(90);

fn apply(cluster: &Cluster, manifest: &str) -> String {
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(manifest)))
}

fn kubectl(cluster: &Cluster, arguments: &[&str]) -> String {
    ok(cluster.kubectl("kubectl", arguments))
}

const ECHO_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 3
  selector:
    matchLabels: {app: echo}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: echo}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: echo
        image: echo:1
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
"#;

/// What a watch of the Deployment's pods has seen: the fewest ready pods and the most
/// pods at any moment since it started counting.
#[derive(Debug, Default)]
struct PodCensus {
    pods: BTreeMap<String, bool>,
    counting: bool,
    fewest_ready: Option<usize>,
    most_pods: usize,
}

impl PodCensus {
    fn observe(&mut self, pod: &Pod) {
        let ready = pod.metadata.deletion_timestamp.is_none()
            && pod
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
                });
        if pod.metadata.deletion_timestamp.is_some() {
            self.pods.remove(&pod.name_any());
        } else {
            self.pods.insert(pod.name_any(), ready);
        }
        self.count();
    }

    fn remove(&mut self, pod: &Pod) {
        self.pods.remove(&pod.name_any());
        self.count();
    }

    fn count(&mut self) {
        if !self.counting {
            return;
        }
        let ready = self.pods.values().filter(|ready| **ready).count();
        self.fewest_ready = Some(self.fewest_ready.map_or(ready, |fewest| fewest.min(ready)));
        self.most_pods = self.most_pods.max(self.pods.len());
    }
}

async fn watch_census(client: kube::Client, census: Arc<Mutex<PodCensus>>) {
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut events = std::pin::pin!(
        watcher(pods, watcher::Config::default().labels("app=echo")).default_backoff()
    );
    while let Some(event) = events.next().await {
        let mut census = census.lock().expect("the census");
        match event {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => census.observe(&pod),
            Ok(watcher::Event::Delete(pod)) => census.remove(&pod),
            _ => {}
        }
    }
}

fn wait_for_ready_replicas(cluster: &Cluster, replicas: u32) {
    let expected = format!("{replicas} {replicas} {replicas}");
    cluster.wait_for_jsonpath(
        &["deployment", "echo"],
        "{.status.replicas} {.status.readyReplicas} {.status.updatedReplicas}",
        TIMEOUT,
        |text| text == expected,
    );
    cluster.wait_for_jsonpath(
        &["pods", "-l", "app=echo"],
        "{range .items[*]}{.metadata.name} {end}",
        TIMEOUT,
        |text| text.split_whitespace().count() == replicas as usize,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_scales_rolls_out_keeping_its_ready_pods_rolls_back_and_goes_with_all_it_owned()
 {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    for tag in ["echo:1", "echo:2"] {
        cluster.push_guest("echo", WasmTarget::P2, tag);
    }
    apply(&cluster, ECHO_DEPLOYMENT);
    wait_for_ready_replicas(&cluster, 3);
    kubectl(&cluster, &["scale", "deployment/echo", "--replicas=10"]);
    wait_for_ready_replicas(&cluster, 10);
    kubectl(&cluster, &["scale", "deployment/echo", "--replicas=2"]);
    wait_for_ready_replicas(&cluster, 2);

    let census = Arc::new(Mutex::new(PodCensus::default()));
    let watch = tokio::spawn(watch_census(cluster.client().await, Arc::clone(&census)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    census.lock().expect("the census").counting = true;
    kubectl(
        &cluster,
        &["set", "image", "deployment/echo", "echo=echo:2"],
    );
    let status = kubectl(
        &cluster,
        &["rollout", "status", "deployment/echo", "--timeout=90s"],
    );
    assert!(status.contains("successfully rolled out"), "{status}");
    let images = cluster.wait_for_jsonpath(
        &["pods", "-l", "app=echo"],
        "{range .items[*]}{.spec.containers[0].image} {end}",
        TIMEOUT,
        |text| text.split_whitespace().count() == 2,
    );
    assert_eq!(images.trim(), "echo:2 echo:2");
    kubectl(&cluster, &["rollout", "undo", "deployment/echo"]);
    let status = kubectl(
        &cluster,
        &["rollout", "status", "deployment/echo", "--timeout=90s"],
    );
    assert!(status.contains("successfully rolled out"), "{status}");
    cluster.wait_for_jsonpath(
        &["pods", "-l", "app=echo"],
        "{range .items[*]}{.spec.containers[0].image} {end}",
        TIMEOUT,
        |text| text.trim() == "echo:1 echo:1",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let census = census.lock().expect("the census");
        // maxUnavailable 0: never fewer than the 2 replicas ready; maxSurge 1: never more
        // than 3 pods.
        assert_eq!(census.fewest_ready, Some(2), "{census:?}");
        assert!(census.most_pods <= 3, "{census:?}");
    }
    watch.abort();
    let history = kubectl(&cluster, &["rollout", "history", "deployment/echo"]);
    // Revision 1 became revision 3 when it was rolled back to.
    assert!(
        history.contains("2 ") && history.contains("3 "),
        "{history}"
    );
    assert!(!history.contains("\n1 "), "{history}");

    kubectl(&cluster, &["delete", "deployment", "echo"]);
    cluster.wait_for_jsonpath(
        &["replicasets,pods", "-l", "app=echo"],
        "{range .items[*]}{.metadata.name} {end}",
        TIMEOUT,
        |text| text.trim().is_empty(),
    );
}

const INDEXED_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: shards
spec:
  completions: 8
  parallelism: 4
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: shard
        image: testbox:1
        args: [echo, "shard $(JOB_COMPLETION_INDEX) passed"]
"#;

const FAILING_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: flaky
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: test
        image: testbox:1
        args: [exit, "1"]
"#;

#[test]
fn an_indexed_job_completes_and_a_failing_job_stops_at_its_backoff_limit() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    apply(&cluster, INDEXED_JOB);
    apply(&cluster, FAILING_JOB);
    let status = cluster.wait_for_jsonpath(
        &["job", "shards"],
        "{.status.succeeded} {.status.completedIndexes} {.status.conditions[?(@.type==\"Complete\")].status}",
        TIMEOUT,
        |text| text.ends_with("True"),
    );
    assert_eq!(status, "8 0-7 True");
    let logs = kubectl(
        &cluster,
        &[
            "logs",
            "-l",
            "batch.kubernetes.io/job-name=shards",
            "--tail=-1",
            "--max-log-requests=8",
        ],
    );
    for index in 0..8 {
        assert!(logs.contains(&format!("shard {index} passed")), "{logs}");
    }
    let failed = cluster.wait_for_jsonpath(
        &["job", "flaky"],
        "{.status.failed} {.status.conditions[?(@.type==\"Failed\")].reason}",
        TIMEOUT,
        |text| text.contains("BackoffLimitExceeded"),
    );
    assert_eq!(failed, "2 BackoffLimitExceeded");
    let pods = kubectl(
        &cluster,
        &[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=flaky",
            "-o",
            "name",
        ],
    );
    assert_eq!(pods.lines().count(), 2, "{pods}");
}

const TEAM_NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: team
spec:
  replicas: 2
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: testbox:1
        args: [sleep-forever]
---
apiVersion: v1
kind: Pod
metadata:
  name: greedy
  namespace: team
spec:
  containers:
  - name: greedy
    image: testbox:1
    args: [sleep-forever]
    resources:
      requests: {cpu: "1000"}
"#;

#[test]
fn a_pod_too_big_for_every_node_stays_pending_and_a_deleted_namespace_takes_everything() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    cluster.push_guest("testbox", WasmTarget::P2, "testbox:1");
    apply(&cluster, TEAM_NAMESPACE);
    cluster.wait_for_jsonpath(
        &["-n", "team", "deployment", "worker"],
        "{.status.readyReplicas}",
        TIMEOUT,
        |text| text == "2",
    );
    let events = cluster.wait_for_jsonpath(
        &[
            "-n",
            "team",
            "events",
            "--field-selector",
            "involvedObject.name=greedy,reason=FailedScheduling",
        ],
        "{range .items[*]}{.message}{end}",
        TIMEOUT,
        |text| !text.is_empty(),
    );
    assert!(
        events.starts_with("0/1 nodes are available: 1 Insufficient cpu."),
        "{events}"
    );
    let phase = kubectl(
        &cluster,
        &[
            "-n",
            "team",
            "get",
            "pod",
            "greedy",
            "-o",
            "jsonpath={.status.phase} {.status.conditions[?(@.type==\"PodScheduled\")].reason}",
        ],
    );
    assert_eq!(phase, "Pending Unschedulable");
    let description = kubectl(&cluster, &["-n", "team", "describe", "pod", "greedy"]);
    assert!(description.contains("FailedScheduling"), "{description}");

    kubectl(
        &cluster,
        &[
            "delete",
            "namespace",
            "team",
            "--wait=true",
            "--timeout=90s",
        ],
    );
    let left = kubectl(
        &cluster,
        &["get", "pods,replicasets,deployments", "-A", "-o", "name"],
    );
    assert!(left.trim().is_empty(), "{left}");
    let namespaces = kubectl(&cluster, &["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("namespace/team"), "{namespaces}");
}
