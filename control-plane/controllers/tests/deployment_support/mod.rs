//! What the Deployment tests share: building and changing Deployments, waiting for a
//! rollout to finish, finding a Deployment's ReplicaSets, and a watch that records the
//! Deployment's pods at every event.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use wasmkube_controllers::owners;
use wasmkube_controllers::pods::{is_pod_active, is_pod_ready, pod_phase};

use crate::support::eventually;

pub const TIMEOUT: Duration = Duration::from_secs(15);
pub const REVISION: &str = "deployment.kubernetes.io/revision";

pub fn deployment(name: &str, replicas: i32, image: &str, strategy: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }))
    .expect("a deployment")
}

pub fn rolling(max_surge: Value, max_unavailable: Value) -> Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}})
}

pub async fn create(client: &Client, deployment: &Deployment) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), deployment)
        .await
        .expect("the deployment is created");
}

pub async fn patch(client: &Client, name: &str, patch: Value) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("the deployment is patched");
}

pub async fn set_image(client: &Client, name: &str, image: &str) {
    patch(
        client,
        name,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}),
    )
    .await;
}

fn image_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.containers.first()?.image.clone()
}

/// The Deployment's ReplicaSets, by name.
pub async fn replica_sets_of(
    client: &Client,
    deployment: &Deployment,
) -> BTreeMap<String, ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let uid = deployment.uid().unwrap_or_default();
    api.list(&ListParams::default())
        .await
        .expect("the replica sets")
        .items
        .into_iter()
        .filter(|replica_set| owners::is_controlled_by(&replica_set.metadata, &uid))
        .map(|replica_set| (replica_set.name_any(), replica_set))
        .collect()
}

pub fn replicas_of(replica_set: &ReplicaSet) -> i32 {
    replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(0)
}

pub fn annotation(replica_set: &ReplicaSet, key: &str) -> Option<String> {
    replica_set.annotations().get(key).cloned()
}

pub fn condition(deployment: &Deployment, type_: &str) -> Option<DeploymentCondition> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_)
        .cloned()
}

/// Waits until the rollout is complete (what `kubectl rollout status` waits for) with
/// every active pod running `image`, and answers the Deployment.
pub async fn wait_for_rollout(client: &Client, name: &str, image: &str) -> Deployment {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("{name} to roll out {image}"), TIMEOUT, || async {
        let deployment = deployments
            .get(name)
            .await
            .map_err(|error| error.to_string())?;
        let desired = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let status = deployment.status.clone().unwrap_or_default();
        let active: Vec<Pod> = pods
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .map_err(|error| error.to_string())?
            .items
            .into_iter()
            .filter(is_pod_active)
            .collect();
        let done = status.observed_generation >= deployment.metadata.generation
            && status.updated_replicas.unwrap_or(0) == desired
            && status.replicas.unwrap_or(0) == desired
            && status.available_replicas.unwrap_or(0) == desired
            && active.len() == usize::try_from(desired).unwrap_or(0)
            && active
                .iter()
                .all(|pod| image_of(pod).as_deref() == Some(image));
        if done {
            Ok(deployment)
        } else {
            Err(format!("status {status:?}, {} active pods", active.len()))
        }
    })
    .await
}

/// What a watch of a Deployment's pods saw, event by event.
#[derive(Debug, Default)]
pub struct PodHistory {
    pub events: usize,
    pub most_pods: usize,
    pub fewest_ready: Option<usize>,
    /// Events at which pods of an old and of the new template ran together.
    pub overlaps: usize,
}

/// Watches the pods labelled `app=<name>` and records, at every event, how many are
/// active and how many of those are ready, and whether any unfinished pod of another image
/// than `new_image` runs beside a pod of `new_image`.
pub struct PodWatch {
    history: Arc<Mutex<PodHistory>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodWatch {
    pub async fn start(client: &Client, name: &str, new_image: &str) -> PodWatch {
        let history = Arc::new(Mutex::new(PodHistory::default()));
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let config = watcher::Config::default().labels(&format!("app={name}"));
        let (ready_sender, ready_receiver) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let history = Arc::clone(&history);
            let new_image = new_image.to_owned();
            async move {
                let mut seen: BTreeMap<String, Pod> = BTreeMap::new();
                let mut ready_sender = Some(ready_sender);
                // While the watch (re)lists, the set of pods is incomplete.
                let mut listing = true;
                let mut stream = std::pin::pin!(watcher(pods, config));
                while let Some(Ok(event)) = stream.next().await {
                    match event {
                        watcher::Event::Init => {
                            seen.clear();
                            listing = true;
                        }
                        watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                            seen.insert(pod.name_any(), pod);
                        }
                        watcher::Event::Delete(pod) => {
                            seen.remove(&pod.name_any());
                        }
                        watcher::Event::InitDone => {
                            listing = false;
                            if let Some(sender) = ready_sender.take() {
                                let _ = sender.send(());
                            }
                        }
                    }
                    if !listing {
                        record(&history, &seen, &new_image);
                    }
                }
            }
        });
        ready_receiver.await.expect("the pod watch starts");
        PodWatch { history, task }
    }

    pub fn stop(self) -> PodHistory {
        self.task.abort();
        std::mem::take(&mut *self.history.lock().expect("the history"))
    }
}

fn record(history: &Mutex<PodHistory>, seen: &BTreeMap<String, Pod>, new_image: &str) {
    let active: Vec<&Pod> = seen.values().filter(|pod| is_pod_active(pod)).collect();
    let ready = active.iter().filter(|pod| is_pod_ready(pod)).count();
    let unfinished = seen
        .values()
        .filter(|pod| !matches!(pod_phase(pod), Some("Succeeded" | "Failed")));
    let (new, old): (Vec<&Pod>, Vec<&Pod>) =
        unfinished.partition(|pod| image_of(pod).as_deref() == Some(new_image));
    let mut history = history.lock().expect("the history");
    history.events += 1;
    history.most_pods = history.most_pods.max(active.len());
    history.fewest_ready = Some(
        history
            .fewest_ready
            .map_or(ready, |fewest| fewest.min(ready)),
    );
    if !new.is_empty() && !old.is_empty() {
        history.overlaps += 1;
    }
}

pub async fn events_about(client: &Client, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .expect("the events")
        .items
        .into_iter()
        .filter(|event| event.involved_object.name.as_deref() == Some(name))
        .collect()
}

/// What `kubectl rollout undo` does: the ReplicaSet's template, without its hash label,
/// replaces the Deployment's.
pub async fn undo_to(client: &Client, deployment: &str, replica_set: &ReplicaSet) {
    let mut template = replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.clone())
        .expect("a template");
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|metadata| metadata.labels.as_mut())
    {
        labels.remove("pod-template-hash");
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut current = deployments.get(deployment).await.expect("the deployment");
    current.spec.as_mut().expect("a spec").template = template;
    deployments
        .replace(deployment, &PostParams::default(), &current)
        .await
        .expect("the old template is written back");
}
