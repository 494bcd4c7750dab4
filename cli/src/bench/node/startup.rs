//! Pod start-up latency: from the create call to the watch event that shows the pod
//! Running, on one node whose module is already compiled and cached.

use std::time::{Duration, Instant};

use futures::future::try_join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use super::cluster::sleeping_pod;
use super::latency::{LatencySummary, PodStartTimes};
use super::running_watch::RunningWatch;

/// How long one pod may take to be seen Running before the benchmark gives up on it.
pub const POD_START_TIMEOUT: Duration = Duration::from_secs(120);

/// One level of the start-up benchmark.
pub struct StartupLoad {
    /// Creators working at once; each creates a pod and waits until it is seen Running
    /// before it creates the next.
    pub concurrency: usize,
    /// Pods created in all.
    pub pods: usize,
    pub name_prefix: String,
    pub image: String,
}

pub struct StartupReport {
    pub concurrency: usize,
    pub pods: usize,
    pub elapsed: Duration,
    /// Create sent → phase Running seen on the watch.
    pub to_running: LatencySummary,
    /// Create sent → 201 read.
    pub to_acknowledged: LatencySummary,
}

/// Runs one level: `load.pods` pods, split over `load.concurrency` creators.
pub async fn run(
    pods: &Api<Pod>,
    watch: &RunningWatch,
    load: &StartupLoad,
) -> anyhow::Result<StartupReport> {
    let concurrency = load.concurrency.clamp(1, load.pods.max(1));
    let started = Instant::now();
    let creators = (0..concurrency).map(|creator| async move {
        let mut times = Vec::new();
        for index in (creator..load.pods).step_by(concurrency) {
            let pod = sleeping_pod(&format!("{}{index}", load.name_prefix), &load.image)?;
            times.push(watch.create_and_wait(pods, &pod, POD_START_TIMEOUT).await?);
        }
        anyhow::Ok(times)
    });
    let times: Vec<PodStartTimes> = try_join_all(creators)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let elapsed = started.elapsed();
    Ok(StartupReport {
        concurrency,
        pods: times.len(),
        elapsed,
        to_running: LatencySummary::of(times.iter().map(PodStartTimes::until_running).collect()),
        to_acknowledged: LatencySummary::of(
            times
                .iter()
                .map(PodStartTimes::until_acknowledged)
                .collect(),
        ),
    })
}
