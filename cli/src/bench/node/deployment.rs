//! Deployments: from creating a Deployment of N idle replicas until all N pods run,
//! through the whole path: the deployment controller creates a ReplicaSet, the
//! ReplicaSet controller creates the pods, the scheduler binds them, and the node agent
//! starts them. One watch on the Deployment's pods (by label) records when each pod is
//! first seen, first seen bound to the node, and first seen Running, so that the
//! milestones show which stage the time goes to.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use wasmkube_controllers::{ControllerManager, ControllerManagerOptions};

use super::cluster::{BenchCluster, ControlPlaneHome, NAMESPACE, sleeping_pod};
use super::running_watch::{RunningWatch, outcome};
use super::startup::POD_START_TIMEOUT;

pub struct DeploymentLoad {
    pub name: String,
    pub replicas: u32,
    pub image: String,
    /// How long all the replicas may take to run before the benchmark gives up.
    pub timeout: Duration,
}

/// When one pod reached each stage, from just before the Deployment's create was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PodTimeline {
    seen: Option<Duration>,
    bound: Option<Duration>,
    running: Option<Duration>,
}

/// The times by which every pod had reached each stage, from just before the
/// Deployment's create was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeploymentReport {
    pub replicas: u32,
    /// The Deployment's own create (201).
    pub acknowledged: Duration,
    pub first_running: Duration,
    /// The last pod created by the ReplicaSet controller was seen.
    pub all_created: Duration,
    /// The last pod was seen bound to the node by the scheduler.
    pub all_bound: Duration,
    pub half_running: Duration,
    pub all_running: Duration,
}

impl DeploymentReport {
    /// Pods started per second over the whole run.
    pub fn pods_per_second(&self) -> f64 {
        f64::from(self.replicas) / self.all_running.as_secs_f64().max(f64::EPSILON)
    }
}

/// The time by which `count` pods had reached a stage, if they had.
fn time_of_nth(mut times: Vec<Duration>, count: usize) -> Option<Duration> {
    times.sort_unstable();
    times.get(count.checked_sub(1)?).copied()
}

/// The milestones once every replica runs; `None` before.
fn report(
    replicas: u32,
    acknowledged: Duration,
    pods: &HashMap<String, PodTimeline>,
) -> Option<DeploymentReport> {
    let count = usize::try_from(replicas).ok()?;
    let stage = |pick: fn(&PodTimeline) -> Option<Duration>| -> Vec<Duration> {
        pods.values().filter_map(pick).collect()
    };
    let running = stage(|pod| pod.running);
    Some(DeploymentReport {
        replicas,
        acknowledged,
        first_running: time_of_nth(running.clone(), 1)?,
        half_running: time_of_nth(running.clone(), count.div_ceil(2))?,
        all_running: time_of_nth(running, count)?,
        all_created: time_of_nth(stage(|pod| pod.seen), count)?,
        all_bound: time_of_nth(stage(|pod| pod.bound), count)?,
    })
}

/// How far the pods got, for the error when they do not all run in time.
fn progress(pods: &HashMap<String, PodTimeline>) -> String {
    let count = |pick: fn(&PodTimeline) -> bool| pods.values().filter(|pod| pick(pod)).count();
    format!(
        "{} pods created, {} bound, {} running",
        pods.len(),
        count(|pod| pod.bound.is_some()),
        count(|pod| pod.running.is_some())
    )
}

/// A Deployment of `load.replicas` pods running `testbox sleep-forever`. The pods request
/// no CPU and no memory, so that the scheduler fits them all on the one node (whose
/// `pods` capacity is what bounds them), and have the idle benchmark's limits.
pub fn idle_deployment(load: &DeploymentLoad) -> anyhow::Result<Deployment> {
    let manifest = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": load.name, "namespace": NAMESPACE},
        "spec": {
            "replicas": load.replicas,
            "selector": {"matchLabels": {"app": load.name}},
            "template": {
                "metadata": {"labels": {"app": load.name}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{
                        "name": "idle",
                        "image": load.image,
                        "command": ["testbox", "sleep-forever"],
                        "resources": {
                            "requests": {"cpu": "0", "memory": "0"},
                            "limits": {"cpu": "100m", "memory": "32Mi"},
                        },
                    }],
                },
            },
        },
    });
    serde_json::from_value(manifest).context("the benchmark's Deployment manifest does not decode")
}

/// Starts a cluster whose node holds the replicas (and a warm-up pod), with the
/// controller manager, and runs the Deployment on it.
pub async fn run_on_a_fresh_cluster(load: &DeploymentLoad) -> anyhow::Result<DeploymentReport> {
    let cluster = BenchCluster::start(
        load.replicas.saturating_add(1),
        ControlPlaneHome::ThisProcess,
    )
    .await?;
    let controllers_client = cluster
        .in_process_client()
        .context("the control plane does not run in this process")?;
    // Declared after the cluster, so dropped before it: the controllers stop first.
    let _controller_manager =
        ControllerManager::start(controllers_client, ControllerManagerOptions::default());
    // The first pod pulls the image and compiles it, as a node that already runs the
    // image has done; the Deployment's pods find it cached. Its watch ends with it, so
    // that only the Deployment's watch decodes the replicas' events.
    let warm_up = sleeping_pod(&format!("{}-warm-up", load.name), &load.image)?;
    RunningWatch::start(cluster.pods.clone())
        .await?
        .create_and_wait(&cluster.pods, &warm_up, POD_START_TIMEOUT)
        .await
        .context("the warm-up pod does not run")?;
    run(&cluster.pods.clone().into_client(), load).await
}

/// Creates the Deployment and waits until all its replicas are seen Running.
pub async fn run(client: &kube::Client, load: &DeploymentLoad) -> anyhow::Result<DeploymentReport> {
    let deployment = idle_deployment(load)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let config = watcher::Config::default().labels(&format!("app={}", load.name));
    let mut events = watcher::watcher(pods, config).default_backoff().boxed();
    // The watch has listed (nothing yet) before the create, so no pod is missed.
    loop {
        match events.next().await {
            Some(Ok(Event::InitDone)) => break,
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                tracing::warn!(%error, "the benchmark's pod watch failed; it restarts")
            }
            None => anyhow::bail!("the benchmark's pod watch ended before it had listed the pods"),
        }
    }
    let started = Instant::now();
    Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &deployment)
        .await
        .with_context(|| format!("cannot create deployment {}", load.name))?;
    let acknowledged = started.elapsed();
    let mut timelines: HashMap<String, PodTimeline> = HashMap::new();
    let mut running: u32 = 0;
    let deadline = tokio::time::Instant::now() + load.timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the deployment's pods did not all run within {} s: {}",
                    load.timeout.as_secs(),
                    progress(&timelines)
                )
            })?
            .context("the benchmark's pod watch ended")?;
        let pod = match event {
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => pod,
            Ok(Event::Init | Event::InitDone | Event::Delete(_)) => continue,
            Err(error) => {
                tracing::warn!(%error, "the benchmark's pod watch failed; it restarts");
                continue;
            }
        };
        let seen = started.elapsed();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let timeline = timelines.entry(name.clone()).or_default();
        timeline.seen.get_or_insert(seen);
        if pod
            .spec
            .as_ref()
            .is_some_and(|spec| spec.node_name.is_some())
        {
            timeline.bound.get_or_insert(seen);
        }
        match outcome(&pod, Instant::now()) {
            Some(Ok(_)) if timeline.running.is_none() => {
                timeline.running = Some(seen);
                running += 1;
            }
            Some(Ok(_)) | None => {}
            Some(Err(reason)) => anyhow::bail!("pod {name} does not run: {reason}"),
        }
        // The milestones are worked out once, when the last replica runs.
        if running >= load.replicas
            && let Some(report) = report(load.replicas, acknowledged, &timelines)
        {
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::file_image;
    use super::*;
    use wasmkube_wasm_guests::{WasmTarget, guest};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_replica_of_a_deployment_is_seen_running_in_stage_order() {
        let load = DeploymentLoad {
            name: "idle-test".to_owned(),
            replicas: 12,
            image: file_image(&guest("testbox", WasmTarget::P2)),
            timeout: Duration::from_secs(60),
        };
        let report = run_on_a_fresh_cluster(&load).await.unwrap();
        assert_eq!(report.replicas, 12);
        assert!(report.acknowledged <= report.first_running);
        assert!(report.first_running <= report.half_running);
        assert!(report.half_running <= report.all_running);
        assert!(report.all_created <= report.all_bound);
        assert!(report.all_bound <= report.all_running);
    }

    fn millis(milliseconds: u64) -> Option<Duration> {
        Some(Duration::from_millis(milliseconds))
    }

    #[test]
    fn milestones_wait_for_every_replica_and_take_the_nth_time() {
        let mut pods = HashMap::new();
        for (name, seen, bound, running) in [("a", 5, 6, 30), ("b", 1, 2, 10), ("c", 9, 20, 40)] {
            pods.insert(
                name.to_owned(),
                PodTimeline {
                    seen: millis(seen),
                    bound: millis(bound),
                    running: millis(running),
                },
            );
        }
        let acknowledged = Duration::from_millis(1);
        assert_eq!(report(4, acknowledged, &pods), None);
        let report = report(3, acknowledged, &pods).unwrap();
        assert_eq!(report.first_running, Duration::from_millis(10));
        assert_eq!(report.half_running, Duration::from_millis(30));
        assert_eq!(report.all_running, Duration::from_millis(40));
        assert_eq!(report.all_created, Duration::from_millis(9));
        assert_eq!(report.all_bound, Duration::from_millis(20));
        assert!((report.pods_per_second() - 75.0).abs() < 1e-9);
        pods.insert(
            "d".to_owned(),
            PodTimeline {
                seen: millis(50),
                ..PodTimeline::default()
            },
        );
        assert_eq!(progress(&pods), "4 pods created, 3 bound, 3 running");
    }
}
