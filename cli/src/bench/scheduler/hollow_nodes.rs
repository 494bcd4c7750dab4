//! Hollow nodes, as kubemark makes them: Node objects registered through the API with a
//! capacity and a Ready condition, and nothing behind them. The scheduler cannot tell
//! them from real nodes; no pod bound to them ever runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

/// How many node registrations are in flight at once.
const CONCURRENT_REGISTRATIONS: usize = 64;

/// What each hollow node offers.
#[derive(Clone, Debug)]
pub struct NodeShape {
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
}

pub fn node_name(index: usize) -> String {
    format!("hollow-{index:05}")
}

/// Registers one node: the Node object, then its status as a kubelet posts it.
async fn register(nodes: &Api<Node>, name: String, shape: &NodeShape) -> anyhow::Result<()> {
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "wasm32",
        }},
    }))?;
    nodes
        .create(&PostParams::default(), &node)
        .await
        .with_context(|| format!("cannot create node {name}"))?;
    let resources =
        json!({"cpu": shape.cpu, "memory": shape.memory, "pods": shape.pods.to_string()});
    let status = json!({"status": {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [{
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "hollow node",
        }],
    }});
    nodes
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .with_context(|| format!("cannot post the status of node {name}"))?;
    Ok(())
}

/// Registers `count` nodes and waits until a watch has shown every one of them Ready, as
/// the scheduler's node watch will. Answers how long the registration took.
pub async fn register_all(
    client: &kube::Client,
    count: usize,
    shape: &NodeShape,
) -> anyhow::Result<Duration> {
    let nodes: Api<Node> = Api::all(client.clone());
    let listed = nodes.list(&Default::default()).await?;
    let revision = listed.metadata.resource_version.unwrap_or_default();
    let watch_params = WatchParams::default().timeout(290);
    let mut events = nodes.watch(&watch_params, &revision).await?.boxed();
    let started = Instant::now();
    let shape = Arc::new(shape.clone());
    futures::stream::iter(0..count)
        .map(|index| {
            let (nodes, shape) = (nodes.clone(), Arc::clone(&shape));
            async move { register(&nodes, node_name(index), &shape).await }
        })
        .buffer_unordered(CONCURRENT_REGISTRATIONS)
        .try_collect::<()>()
        .await?;
    let mut ready = std::collections::HashSet::new();
    while ready.len() < count {
        let event = events
            .try_next()
            .await?
            .context("the node watch ended before every node was seen")?;
        if let WatchEvent::Added(node) | WatchEvent::Modified(node) = event
            && node.status.is_some()
            && let Some(name) = node.metadata.name
        {
            ready.insert(name);
        }
    }
    Ok(started.elapsed())
}
