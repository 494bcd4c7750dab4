//! Watching the pods bound to this node (and only those: a field selector on
//! `spec.nodeName`) and handing each to its worker.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use wasmkube_volumes::{pod_volume_dirs, remove_pod_volumes};

use crate::pod::{NodeContext, PodWorkerHandle, start_pod_worker};

/// The pods this node runs, by uid.
struct PodWorkers {
    context: Arc<NodeContext>,
    workers: HashMap<String, PodWorkerHandle>,
    /// Uids seen during a (re)list, to forget pods deleted while the watch was down.
    relisting: Option<HashSet<String>>,
    cleaned_up_after_start: bool,
}

fn uid(pod: &Pod) -> Option<String> {
    pod.metadata.uid.clone()
}

impl PodWorkers {
    fn apply(&mut self, pod: Pod) {
        let Some(uid) = uid(&pod) else {
            return;
        };
        if let Some(seen) = self.relisting.as_mut() {
            seen.insert(uid.clone());
        }
        match self.workers.get(&uid) {
            Some(worker) if !worker.is_finished() => worker.update(pod),
            Some(_) => {}
            None => {
                tracing::info!(pod = ?pod.metadata.name, namespace = ?pod.metadata.namespace, "starting pod");
                let worker = start_pod_worker(Arc::clone(&self.context), pod);
                self.workers.insert(uid, worker);
            }
        }
    }

    fn delete(&mut self, pod: &Pod) {
        if let Some(worker) = uid(pod).and_then(|uid| self.workers.remove(&uid)) {
            worker.forget();
        }
    }

    fn relist_done(&mut self) {
        let Some(seen) = self.relisting.take() else {
            return;
        };
        let gone: Vec<String> = self
            .workers
            .keys()
            .filter(|uid| !seen.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            if let Some(worker) = self.workers.remove(&uid) {
                worker.forget();
            }
        }
        self.workers.retain(|_, worker| !worker.is_finished());
        if !self.cleaned_up_after_start {
            self.cleaned_up_after_start = true;
            self.remove_leftovers(&seen);
        }
    }

    /// After a restart, the volumes and logs of pods that no longer exist are removed:
    /// the old agent may have stopped before it could.
    fn remove_leftovers(&self, existing: &HashSet<String>) {
        let host = &self.context.volume_host;
        for uid in pod_volume_dirs(host).unwrap_or_default() {
            if !existing.contains(&uid) {
                tracing::info!(%uid, "removing the volumes of a pod that no longer exists");
                if let Err(error) = remove_pod_volumes(host, &uid) {
                    tracing::warn!(%uid, %error, "cannot remove leftover volumes");
                }
            }
        }
        for directory in self.context.logs.pod_log_dirs().unwrap_or_default() {
            if !existing.contains(&directory.uid)
                && let Err(error) = self.context.logs.remove_pod_logs(
                    &directory.namespace,
                    &directory.pod,
                    &directory.uid,
                )
            {
                tracing::warn!(uid = %directory.uid, %error, "cannot remove leftover logs");
            }
        }
    }
}

/// Runs until the agent stops: the watch restarts itself after errors (with kube's
/// default back-off), relisting so that nothing is missed.
pub async fn watch_pods(context: Arc<NodeContext>) {
    let pods: Api<Pod> = Api::all(context.client.clone());
    let selector = format!("spec.nodeName={}", context.node_name);
    let config = watcher::Config::default().fields(&selector);
    let mut workers = PodWorkers {
        context,
        workers: HashMap::new(),
        relisting: None,
        cleaned_up_after_start: false,
    };
    let mut events = watcher::watcher(pods, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => workers.relisting = Some(HashSet::new()),
            Ok(Event::InitApply(pod) | Event::Apply(pod)) => workers.apply(pod),
            Ok(Event::InitDone) => workers.relist_done(),
            Ok(Event::Delete(pod)) => workers.delete(&pod),
            Err(error) => {
                tracing::warn!(%error, "the pod watch failed; it restarts");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
