//! One watch on the node's pods, as a client waiting for its pods would keep: it tells
//! each creator when its pod was first seen Running, or why the pod will not run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::oneshot;

use super::cluster::NODE_NAME;
use super::latency::PodStartTimes;

/// When the pod was seen Running, or what the node reported instead.
type PodOutcome = Result<Instant, String>;

/// The creators waiting for their pods, by pod name.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<PodOutcome>>>>;

/// The waiting reasons of a container that is still on its way to running.
const STARTING_REASONS: [&str; 2] = ["ContainerCreating", "PodInitializing"];

pub struct RunningWatch {
    waiting: Waiting,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningWatch {
    /// Starts watching the node's pods, and returns once the watch has listed the pods
    /// that exist, so that no change after that is missed.
    pub async fn start(pods: Api<Pod>) -> anyhow::Result<RunningWatch> {
        let waiting = Waiting::default();
        let (listed, listed_receiver) = oneshot::channel();
        let task = tokio::spawn(watch(pods, Arc::clone(&waiting), listed));
        listed_receiver
            .await
            .context("the benchmark's pod watch ended before it had listed the pods")?;
        Ok(RunningWatch { waiting, task })
    }

    /// Creates `pod` and waits until the watch sees it Running, for at most `timeout`.
    pub async fn create_and_wait(
        &self,
        pods: &Api<Pod>,
        pod: &Pod,
        timeout: Duration,
    ) -> anyhow::Result<PodStartTimes> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (sender, outcome) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), sender);
        let sent = Instant::now();
        pods.create(&PostParams::default(), pod)
            .await
            .with_context(|| format!("cannot create pod {name}"))?;
        let acknowledged = Instant::now();
        let running_seen = tokio::time::timeout(timeout, outcome)
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "pod {name} was not seen Running within {} s",
                    timeout.as_secs()
                )
            })?
            .context("the benchmark's pod watch ended")?
            .map_err(|reason| anyhow::anyhow!("pod {name} does not run: {reason}"))?;
        Ok(PodStartTimes {
            sent,
            acknowledged,
            running_seen,
        })
    }
}

async fn watch(pods: Api<Pod>, waiting: Waiting, listed: oneshot::Sender<()>) {
    let config = watcher::Config::default().fields(&format!("spec.nodeName={NODE_NAME}"));
    let mut events = watcher::watcher(pods, config).default_backoff().boxed();
    let mut listed = Some(listed);
    while let Some(event) = events.next().await {
        let seen = Instant::now();
        match event {
            Ok(Event::InitDone) => {
                if let Some(listed) = listed.take() {
                    // The benchmark waits for this; if it stopped waiting, nobody listens.
                    let _ = listed.send(());
                }
            }
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => {
                if let Some(outcome) = outcome(&pod, seen) {
                    let name = pod.metadata.name.unwrap_or_default();
                    let sender = waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&name);
                    if let Some(sender) = sender {
                        // A creator that gave up waiting has dropped its receiver.
                        let _ = sender.send(outcome);
                    }
                }
            }
            Ok(Event::Init | Event::Delete(_)) => {}
            Err(error) => tracing::warn!(%error, "the benchmark's pod watch failed; it restarts"),
        }
    }
}

/// Running, or the reason a pod will not get there (it failed, or a container waits for
/// something other than its start); `None` while it is still starting.
pub(super) fn outcome(pod: &Pod, seen: Instant) -> Option<PodOutcome> {
    let status = pod.status.as_ref()?;
    match status.phase.as_deref() {
        Some("Running") => return Some(Ok(seen)),
        Some(phase @ ("Failed" | "Succeeded")) => {
            return Some(Err(format!(
                "its phase is {phase}: {}",
                status.message.as_deref().unwrap_or("no message")
            )));
        }
        _ => {}
    }
    status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|container| {
            let waiting = container.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref().unwrap_or_default();
            (!STARTING_REASONS.contains(&reason)).then(|| {
                Err(format!(
                    "container {} is waiting: {reason}: {}",
                    container.name,
                    waiting.message.as_deref().unwrap_or("no message")
                ))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_with_status(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn running_pods_are_seen_and_stuck_ones_are_explained() {
        let seen = Instant::now();
        assert_eq!(
            outcome(
                &pod_with_status(serde_json::json!({"phase": "Running"})),
                seen
            ),
            Some(Ok(seen))
        );
        let creating = pod_with_status(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{"name": "idle", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}],
        }));
        assert_eq!(outcome(&creating, seen), None);
        let bad_image = pod_with_status(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{"name": "idle", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull",
                "message": "file:///x.wasm: No such file or directory"}}}],
        }));
        assert_eq!(
            outcome(&bad_image, seen),
            Some(Err(
                "container idle is waiting: ErrImagePull: file:///x.wasm: No such file or directory"
                    .to_owned()
            ))
        );
        assert_eq!(outcome(&pod_with_status(serde_json::json!({})), seen), None);
    }
}
