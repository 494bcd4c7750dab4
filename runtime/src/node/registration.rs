//! The Node object: this machine's capacity, addresses, conditions and software, created
//! on start and kept fresh with a periodic heartbeat.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::network::watch::TUNNEL_ANNOTATION;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::NodeAgentConfig;

/// How often the node's status is re-posted (its Ready heartbeat); liveness itself is
/// the Lease's job, as in Kubernetes.
pub const NODE_STATUS_INTERVAL: Duration = Duration::from_secs(60);

/// The version of Kubernetes whose API the node agent speaks, shown as the node's
/// VERSION, with wasmkube's own version as build metadata.
pub fn kubelet_version() -> String {
    format!("v1.33.0+wasmkube-{}", env!("CARGO_PKG_VERSION"))
}

/// The host's memory in bytes (0 when it cannot be read: the node then offers none,
/// rather than a made-up figure).
pub fn host_memory_bytes() -> u64 {
    sysinfo::System::new()
        .map(|mut system| {
            system.refresh_memory();
            system.total_memory()
        })
        .unwrap_or(0)
}

/// What the node offers: every core, its memory (the host's unless set), and the pod
/// count the agent's instance pool is sized for.
pub fn node_capacity(max_pods: u32, memory_bytes: u64) -> BTreeMap<String, Quantity> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // The kubelet reports memory in Ki; a size that is not whole Ki is given in bytes.
    let memory = if memory_bytes.is_multiple_of(1024) {
        format!("{}Ki", memory_bytes / 1024)
    } else {
        memory_bytes.to_string()
    };
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(cores.to_string())),
        ("memory".to_owned(), Quantity(memory)),
        ("pods".to_owned(), Quantity(max_pods.to_string())),
    ])
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    })
}

pub fn node_status(
    config: &NodeAgentConfig,
    endpoint_port: u16,
    capacity: &BTreeMap<String, Quantity>,
) -> Value {
    let now = Timestamp::now().to_string();
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "node agent has sufficient memory available", &now),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "node agent has no disk pressure", &now),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "node agent has sufficient PID available", &now),
            condition("Ready", "True", "KubeletReady", "wasmkube node agent is posting ready status", &now),
        ],
        "addresses": [
            {"type": "InternalIP", "address": config.node_ip.to_string()},
            {"type": "Hostname", "address": config.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": endpoint_port}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            // The host's kernel: guests never see it, but operators want to know the host.
            "kernelVersion": sysinfo::System::kernel_version().unwrap_or_default(),
            "osImage": format!("wasmkube on {}", std::env::consts::OS),
            "containerRuntimeVersion": format!("wasmtime://{}", crate::WASMTIME_VERSION),
            "kubeletVersion": kubelet_version(),
            "kubeProxyVersion": "",
            "operatingSystem": "wasi",
            "architecture": "wasm32",
        },
    })
}

/// What the agent learns from a look at its Node before each lease renewal.
pub struct NodeLook {
    /// The Node's uid, for the Lease's owner reference; `None` while the Node is gone.
    pub uid: Option<String>,
    /// Whether the status must be posted now rather than at the next interval: the Node
    /// is gone (it is registered again, as a kubelet does), or its Ready condition is not
    /// True — the node controller marks it Unknown when the lease went unrenewed, and an
    /// agent that is back must say it is ready for its node to be trusted again.
    pub needs_status: bool,
}

/// Reads the Node; `None` (logged) when the API server cannot be asked.
pub async fn look_at_node(nodes: &Api<Node>, node_name: &str) -> Option<NodeLook> {
    let node = match nodes.get_opt(node_name).await {
        Ok(node) => node,
        Err(error) => {
            tracing::debug!(%error, "cannot read the node");
            return None;
        }
    };
    let ready = node
        .as_ref()
        .and_then(|node| node.status.as_ref())
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        })
        .is_some_and(|condition| condition.status == "True");
    Some(NodeLook {
        uid: node.and_then(|node| node.metadata.uid),
        needs_status: !ready,
    })
}

/// Creates the Node if it does not exist, then posts its status.
pub async fn register_node(
    client: &kube::Client,
    config: &NodeAgentConfig,
    status: &Value,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let annotations = match config.pod_network_tunnel {
        Some(tunnel) => json!({ TUNNEL_ANNOTATION: tunnel.to_string() }),
        None => json!({}),
    };
    match nodes.get_opt(&config.node_name).await? {
        None => {
            let node: Node = serde_json::from_value(json!({
                "metadata": {
                    "name": config.node_name,
                    "labels": {
                        "kubernetes.io/hostname": config.node_name,
                        "kubernetes.io/os": "wasi",
                        "kubernetes.io/arch": "wasm32",
                        "node.wasmkube.dev/host-os": std::env::consts::OS,
                    },
                    "annotations": annotations,
                },
                "spec": match config.pod_cidr {
                    Some(cidr) => json!({"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}),
                    None => json!({}),
                },
            }))
            .map_err(kube::Error::SerdeError)?;
            match nodes.create(&PostParams::default(), &node).await {
                Ok(_) => {}
                Err(kube::Error::Api(response)) if response.code == 409 => {}
                Err(error) => return Err(error),
            }
        }
        // A restarted agent's tunnel may listen on another port: it announces the new one.
        Some(existing) => {
            let announced = existing
                .metadata
                .annotations
                .as_ref()
                .and_then(|present| present.get(TUNNEL_ANNOTATION));
            let wanted = annotations.get(TUNNEL_ANNOTATION).and_then(Value::as_str);
            if wanted.is_some() && announced.map(String::as_str) != wanted {
                nodes
                    .patch(
                        &config.node_name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"annotations": annotations}})),
                    )
                    .await?;
            }
        }
    }
    post_node_status(client, &config.node_name, status).await
}

pub async fn post_node_status(
    client: &kube::Client,
    node_name: &str,
    status: &Value,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch_status(
            node_name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .map(drop)
}
