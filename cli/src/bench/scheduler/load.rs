//! The measured part: pods created without a node, as fast as the creators can, a watch
//! on bound pods (`spec.nodeName!=`) that notes when each one is seen bound, and a watch
//! on the scheduler's Scheduled events.
//!
//! The benchmark decodes only what it reads (a pod's name and node), not the objects the
//! API server sends, so that its own work stays small beside the work it measures.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::oneshot;

use super::super::samples::{Summary, nanoseconds_between};

/// How long the benchmark waits for every pod to be bound before it gives up.
const BIND_TIMEOUT: Duration = Duration::from_secs(600);

const NAMESPACE: &str = "default";
const PODS_PATH: &str = "/api/v1/namespaces/default/pods";
const EVENTS_PATH: &str = "/api/v1/namespaces/default/events";

#[derive(Clone, Debug)]
pub struct PodLoad {
    pub pods: usize,
    pub creators: usize,
    pub cpu: String,
    pub memory: String,
}

pub struct LoadReport {
    pub created: usize,
    /// From the first create sent to the last create answered.
    pub creating: Duration,
    /// From the first create sent to the last pod seen bound.
    pub all_bound: Duration,
    /// From the first create sent until every Scheduled event was seen on a watch.
    pub all_events: Duration,
    /// Create sent → pod seen bound, per pod.
    pub to_bound: Summary,
    /// The fewest and the most pods any node got.
    pub per_node: (usize, usize),
    pub nodes_used: usize,
}

impl LoadReport {
    pub fn pods_per_second(&self) -> f64 {
        self.created as f64 / self.all_bound.as_secs_f64()
    }

    pub fn creates_per_second(&self) -> f64 {
        self.created as f64 / self.creating.as_secs_f64()
    }
}

pub fn pod_name(index: usize) -> String {
    format!("bench-{index:06}")
}

fn pod(name: &str, load: &PodLoad) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "scheduler-bench"}},
        "spec": {"containers": [{
            "name": "app",
            "image": "registry.example/hollow:1",
            "resources": {"requests": {"cpu": load.cpu, "memory": load.memory}},
        }]},
    }))?)
}

/// What the benchmark reads of a pod on its watch.
#[derive(Clone, Debug, Deserialize)]
struct BoundPod {
    metadata: NameOnly,
    spec: NodeNameOnly,
}

#[derive(Clone, Debug, Deserialize)]
struct NameOnly {
    name: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeNameOnly {
    node_name: Option<String>,
}

/// Where and when each pod was first seen bound.
type Bound = HashMap<String, (String, Instant)>;

/// Watches bound pods from `revision` until `expected` different pods have been seen.
async fn watch_bound(
    client: kube::Client,
    revision: String,
    expected: usize,
    started: oneshot::Sender<()>,
) -> anyhow::Result<Bound> {
    let params = WatchParams::default()
        .fields("spec.nodeName!=")
        .timeout(290);
    let request = kube::core::Request::new(PODS_PATH).watch(&params, &revision)?;
    let mut events = client.request_events::<BoundPod>(request).await?.boxed();
    let _ = started.send(());
    let mut bound = Bound::with_capacity(expected);
    while bound.len() < expected {
        let event = events
            .try_next()
            .await?
            .context("the watch on bound pods ended early")?;
        if let WatchEvent::Added(pod) | WatchEvent::Modified(pod) = event
            && let Some(node) = pod.spec.node_name
        {
            bound
                .entry(pod.metadata.name)
                .or_insert_with(|| (node, Instant::now()));
        }
    }
    Ok(bound)
}

/// Creates the pods from `creators` tasks, each taking the next index until none is left.
async fn create_all(client: &kube::Client, load: &PodLoad) -> anyhow::Result<Vec<Instant>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..load.creators.max(1) {
        let (client, next, shape) = (client.clone(), Arc::clone(&next), load.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= shape.pods {
                    return anyhow::Ok(sent);
                }
                let body = serde_json::to_vec(&pod(&pod_name(index), &shape)?)?;
                let request =
                    kube::core::Request::new(PODS_PATH).create(&PostParams::default(), body)?;
                let at = Instant::now();
                client
                    .request::<IgnoredAny>(request)
                    .await
                    .with_context(|| format!("cannot create pod {index}"))?;
                sent.push((index, at));
            }
        }));
    }
    let mut sent_at = vec![None; load.pods];
    for task in tasks {
        for (index, at) in task.await?? {
            sent_at[index] = Some(at);
        }
    }
    sent_at
        .into_iter()
        .enumerate()
        .map(|(index, at)| at.with_context(|| format!("pod {index} was never created")))
        .collect()
}

/// What the benchmark reads of an event on its watch: nothing.
#[derive(Clone, Debug, Deserialize)]
struct AnyObject {}

/// Counts the Scheduled events created after `revision` until there is one per pod: the
/// scheduler writes them after the bindings, and they are part of its work. Answers
/// when the last one was seen.
async fn watch_scheduled_events(
    client: kube::Client,
    revision: String,
    expected: usize,
    started: oneshot::Sender<()>,
) -> anyhow::Result<Instant> {
    let params = WatchParams::default()
        .fields("reason=Scheduled")
        .timeout(290);
    let request = kube::core::Request::new(EVENTS_PATH).watch(&params, &revision)?;
    let mut events = client.request_events::<AnyObject>(request).await?.boxed();
    let _ = started.send(());
    let mut seen = 0;
    while seen < expected {
        let event = events
            .try_next()
            .await?
            .context("the watch on Scheduled events ended early")?;
        if let WatchEvent::Added(_) = event {
            seen += 1;
        }
    }
    Ok(Instant::now())
}

/// Starts a watch and waits until it is established.
async fn start_watch<T: Send + 'static>(
    watch: impl FnOnce(oneshot::Sender<()>) -> tokio::task::JoinHandle<anyhow::Result<T>>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<T>>> {
    let (started, watching) = oneshot::channel();
    let handle = watch(started);
    watching.await.context("a watch did not start")?;
    Ok(handle)
}

pub async fn run(client: &kube::Client, load: &PodLoad) -> anyhow::Result<LoadReport> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let revision = pods
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let bound_watch = start_watch(|started| {
        tokio::spawn(watch_bound(
            client.clone(),
            revision.clone(),
            load.pods,
            started,
        ))
    })
    .await?;
    let events_watch = start_watch(|started| {
        tokio::spawn(watch_scheduled_events(
            client.clone(),
            revision.clone(),
            load.pods,
            started,
        ))
    })
    .await?;
    let first_sent = Instant::now();
    let sent_at = create_all(client, load).await?;
    let creating = first_sent.elapsed();
    let bound = tokio::time::timeout(BIND_TIMEOUT, bound_watch)
        .await
        .with_context(|| format!("not every pod was bound within {BIND_TIMEOUT:?}"))???;
    let last_event = tokio::time::timeout(BIND_TIMEOUT, events_watch)
        .await
        .with_context(|| {
            format!("not every Scheduled event was written within {BIND_TIMEOUT:?}")
        })???;
    let last_bound = bound
        .values()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or(first_sent);
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    let mut to_bound = Vec::with_capacity(load.pods);
    for (index, sent) in sent_at.iter().enumerate() {
        let (node, at) = bound
            .get(&pod_name(index))
            .with_context(|| format!("pod {index} was not seen bound"))?;
        *per_node.entry(node).or_default() += 1;
        to_bound.push(nanoseconds_between(*sent, *at));
    }
    Ok(LoadReport {
        created: load.pods,
        creating,
        all_bound: last_bound.duration_since(first_sent),
        all_events: last_event.duration_since(first_sent),
        to_bound: Summary::of(to_bound),
        per_node: (
            per_node.values().copied().min().unwrap_or(0),
            per_node.values().copied().max().unwrap_or(0),
        ),
        nodes_used: per_node.len(),
    })
}
