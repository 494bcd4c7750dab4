//! Node IPAM (kube-controller-manager's `node-ipam-controller` with its range allocator,
//! events from `cidrAllocator`): every Node without `spec.podCIDR` gets a block of
//! `--node-cidr-mask-size` from `--cluster-cidr`, written to `spec.podCIDR` and
//! `spec.podCIDRs`. The API server refuses changing a set podCIDR, so a node keeps its
//! block until it is deleted.
//!
//! Kubernetes keeps the used blocks in a bitmap that it fills from the nodes at start and
//! updates on every allocation and node deletion. Here each allocation reads all Nodes
//! fresh from the API server and takes the lowest block no node overlaps, under one lock
//! so that two allocations never race: blocks of deleted nodes are free again and blocks
//! set on nodes before a restart are used, with no bitmap to keep or lose. (Kubernetes'
//! bitmap hands out blocks round-robin from the last one given; the lowest free one is
//! taken here, which a restart cannot change.) When the range is full the node gets a
//! `CIDRNotAvailable` event and is tried again after a back-off, and at once when another
//! node changes or goes away.

mod cidr;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::Mutex;

use self::cidr::NodeBlocks;
pub use self::cidr::{CidrError, Ipv4Cidr};
use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::retry::RetryBackoff;

const COMPONENT: &str = "cidrAllocator";
const CIDR_NOT_AVAILABLE: &str = "CIDRNotAvailable";

#[derive(Debug, thiserror::Error)]
pub enum NodeIpamError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error(
        "failed to allocate cidr from cluster cidr {0}: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
    )]
    CidrNotAvailable(Ipv4Cidr),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
    blocks: NodeBlocks,
    /// Held from reading the nodes until the chosen block is written, so that two nodes
    /// are never given the same block.
    allocation: Mutex<()>,
}

pub async fn run(client: Client, options: Arc<ControllerManagerOptions>) {
    let blocks = match NodeBlocks::new(options.cluster_cidr, options.node_cidr_mask_size) {
        Ok(blocks) => blocks,
        Err(error) => {
            tracing::error!(%error, cluster_cidr = %options.cluster_cidr, "node CIDRs are not allocated");
            return;
        }
    };
    let context = Arc::new(Context {
        client: client.clone(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        backoff: RetryBackoff::default(),
        blocks,
        allocation: Mutex::new(()),
    });
    let controller = Controller::new(Api::<Node>::all(client.clone()), watcher::Config::default());
    let nodes = controller.store();
    controller
        // A node that changes or goes away may have freed a block for one still waiting.
        .watches(
            Api::<Node>::all(client),
            watcher::Config::default(),
            move |_| nodes_waiting_for_a_block(&nodes),
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "node CIDR allocation failed");
            }
        })
        .await;
}

fn nodes_waiting_for_a_block(nodes: &Store<Node>) -> Vec<ObjectRef<Node>> {
    nodes
        .state()
        .iter()
        .filter(|node| pod_cidrs(node).is_empty() && node.metadata.deletion_timestamp.is_none())
        .map(|node| ObjectRef::from_obj(node.as_ref()))
        .collect()
}

async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, NodeIpamError> {
    if pod_cidrs(&node).is_empty() {
        allocate(&node.name_any(), &context).await?;
    }
    context.backoff.succeeded(node.as_ref());
    Ok(Action::await_change())
}

fn error_policy(node: Arc<Node>, error: &NodeIpamError, context: Arc<Context>) -> Action {
    tracing::debug!(%error, node = %node.name_any(), "retrying the node's CIDR allocation after a back-off");
    context.backoff.requeue_after_failure(node.as_ref())
}

/// The node's pod CIDRs: `spec.podCIDRs`, or `spec.podCIDR` alone as the API's older form.
fn pod_cidrs(node: &Node) -> Vec<String> {
    let Some(spec) = node.spec.as_ref() else {
        return Vec::new();
    };
    match spec.pod_cidrs.as_ref() {
        Some(cidrs) if !cidrs.is_empty() => cidrs.clone(),
        _ => spec
            .pod_cidr
            .iter()
            .filter(|cidr| !cidr.is_empty())
            .cloned()
            .collect(),
    }
}

async fn allocate(name: &str, context: &Context) -> Result<(), NodeIpamError> {
    let _allocation = context.allocation.lock().await;
    let api: Api<Node> = Api::all(context.client.clone());
    let nodes = api.list(&ListParams::default()).await?.items;
    let Some(node) = nodes.iter().find(|node| node.name_any() == name) else {
        return Ok(());
    };
    if !pod_cidrs(node).is_empty() || node.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let used = used_blocks(&context.blocks, &nodes);
    let Some(free) = (0..context.blocks.count()).find(|index| !used.contains(index)) else {
        context
            .events
            .publish(
                node,
                EventType::Normal,
                CIDR_NOT_AVAILABLE,
                format!("Node {name} status is now: {CIDR_NOT_AVAILABLE}"),
            )
            .await;
        return Err(NodeIpamError::CidrNotAvailable(context.blocks.cluster()));
    };
    let block = context.blocks.block(free).to_string();
    // The resourceVersion read makes the write fail with 409 if the node changed since.
    let patch = json!({
        "metadata": {"resourceVersion": node.resource_version()},
        "spec": {"podCIDR": block, "podCIDRs": [block]},
    });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    tracing::info!(node = name, pod_cidr = %block, "set the node's podCIDR");
    Ok(())
}

/// The blocks that any node's podCIDRs overlap; CIDRs that do not parse or lie outside the
/// cluster range take none.
fn used_blocks(blocks: &NodeBlocks, nodes: &[Node]) -> BTreeSet<u32> {
    nodes
        .iter()
        .flat_map(pod_cidrs)
        .filter_map(|cidr| cidr.parse::<Ipv4Cidr>().ok())
        .filter_map(|cidr| blocks.overlapped_by(&cidr))
        .flatten()
        .collect()
}
