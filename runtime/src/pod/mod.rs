//! Pods on this node: one worker task per pod runs its lifecycle like the kubelet's pod
//! worker, and everything the workers share.

mod adoption;
mod backoff;
mod container_record;
mod launch;
pub mod probes;
mod status;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use wasmkube_container_logs::LogRoot;
use wasmkube_images::{ClusterImageSource, ImageCache};
use wasmkube_volumes::{VolumeHost, VolumeSourceReader};

pub use backoff::BackoffSettings;
pub use worker::{PodWorkerHandle, start_pod_worker};

use crate::guest::GuestRuntime;
use crate::limits::NodeDefaultLimits;
use crate::network::NodeNetwork;
use crate::resource_usage::ResourceUsageRegistry;

/// What every pod worker on a node uses.
pub struct NodeContext {
    pub node_name: String,
    pub node_ip: String,
    pub client: kube::Client,
    pub guests: Arc<GuestRuntime>,
    /// The runtime the guests run on, apart from the agent's own tasks so that busy
    /// guests never delay heartbeats or status updates.
    pub guest_executor: tokio::runtime::Handle,
    pub images: ImageCache,
    pub image_source: Arc<dyn ClusterImageSource>,
    pub volume_host: VolumeHost,
    pub volume_sources: Arc<dyn VolumeSourceReader>,
    pub logs: LogRoot,
    pub backoff: BackoffSettings,
    pub default_limits: NodeDefaultLimits,
    pub allocatable: BTreeMap<String, Quantity>,
    /// The running containers' usage, which the node endpoint reports.
    pub resource_usage: ResourceUsageRegistry,
    /// The pod network: each pod's IP and sockets.
    pub network: NodeNetwork,
    /// The stdin pipes of containers with `stdin: true`, which attaches write to.
    pub stdins: crate::attach::ContainerStdins,
    /// The running containers' sandboxes, where `kubectl exec` runs commands.
    pub exec_sandboxes: crate::exec::ExecSandboxes,
}
