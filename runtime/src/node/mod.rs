//! The node agent: registers the Node, keeps its Lease, serves the node endpoint and runs
//! the pods bound to it.

mod lease;
mod pods;
mod registration;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use wasmkube_container_logs::{LogRoot, LogRotation};
use wasmkube_images::{ApiServerImageSource, ImageCache};
use wasmkube_volumes::{ApiServerVolumeSources, VolumeHost};

use crate::guest::{EngineSettings, GuestRuntime, HostBudget, PoolDemand};
use crate::limits::NodeDefaultLimits;
use crate::limits::node_memory::NodeMemory;
use crate::limits::system_oom_events::record_system_ooms;
use crate::network::{Ipv4Net, NodeNetwork, NodeNetworkSettings, PodNetworkPortForward};
use crate::pod::{BackoffSettings, NodeContext};
use crate::port_forward::PortForwardConnector;
use crate::resource_usage::ResourceUsageRegistry;

pub use registration::{kubelet_version, node_capacity};
pub use tls::NodeTls;

#[derive(Clone, Debug)]
pub struct NodeAgentConfig {
    pub node_name: String,
    /// Images, pod volumes and logs live here.
    pub data_dir: PathBuf,
    /// Where compiled modules are cached (by default `DATA_DIR/compiled`); agents may
    /// share one, as wasmtime's cache is safe to use from several processes.
    pub compilation_cache_dir: PathBuf,
    /// The address the node is reached at (its InternalIP).
    pub node_ip: IpAddr,
    /// The node's certificates and the cluster CA: the node endpoint and the tunnel serve
    /// only TLS, and the tunnel dials other nodes with TLS. The serving certificate must
    /// name `node_ip`, where the API server reaches the node endpoint, and the tunnel's
    /// address when it listens on another one: other nodes check it against that.
    pub tls: NodeTls,
    /// Where the node endpoint (logs, metrics, port-forward) listens; port 0 picks a free
    /// port.
    pub endpoint_listen: SocketAddr,
    pub max_pods: u32,
    pub backoff: BackoffSettings,
    pub default_limits: NodeDefaultLimits,
    /// The largest memory limit a container may have on this node.
    pub max_container_memory_bytes: u64,
    /// The node's memory: its capacity and allocatable memory, and what all its
    /// containers' memories together may hold (past it, the node's OOM killer acts).
    /// None: the host's memory.
    pub node_memory_bytes: Option<u64>,
    /// Host directories pods may mount with hostPath (none by default).
    pub allowed_host_paths: Vec<PathBuf>,
    /// Threads that run guests, apart from the agent's own.
    pub guest_threads: usize,
    /// Opens connections to pods' ports for `kubectl port-forward`; by default the pod
    /// network's own.
    pub port_forward_connector: Option<Arc<dyn PortForwardConnector>>,
    /// The node's pod CIDR when it is not left to the node IPAM controller (the kubelet's
    /// `--pod-cidr`, for a node without a controller manager); a podCIDR on the Node
    /// object wins.
    pub pod_cidr: Option<Ipv4Net>,
    /// Where the pod network's tunnel (pod-to-pod traffic between nodes) listens; port 0
    /// picks a free port.
    pub tunnel_listen: SocketAddr,
    /// The tunnel's address as announced on the Node; the agent sets it once the tunnel
    /// listens.
    pub pod_network_tunnel: Option<SocketAddr>,
}

impl NodeAgentConfig {
    pub fn new(node_name: String, data_dir: PathBuf, tls: NodeTls) -> NodeAgentConfig {
        NodeAgentConfig {
            node_name,
            compilation_cache_dir: data_dir.join("compiled"),
            data_dir,
            node_ip: IpAddr::from([127, 0, 0, 1]),
            tls,
            endpoint_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_pods: 1000,
            backoff: BackoffSettings::default(),
            default_limits: NodeDefaultLimits::default(),
            max_container_memory_bytes: 4 * 1024 * 1024 * 1024,
            node_memory_bytes: None,
            allowed_host_paths: Vec::new(),
            guest_threads: std::thread::available_parallelism().map_or(1, usize::from),
            port_forward_connector: None,
            pod_cidr: None,
            tunnel_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            pod_network_tunnel: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeAgentError {
    #[error("cannot prepare the node's directory {path}: {source}")]
    DataDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen for the node endpoint on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for the pod network's tunnel on {address}: {source}")]
    Tunnel {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up the node's TLS: {0}")]
    Tls(#[from] wasmkube_pki::PkiError),
    #[error("cannot start the guest threads: {0}")]
    GuestThreads(std::io::Error),
    #[error(transparent)]
    Guest(#[from] crate::guest::GuestError),
    #[error("cannot open the node's image cache: {0}")]
    Images(#[from] wasmkube_images::ImageError),
    #[error("cannot open the container logs: {0}")]
    Logs(#[from] wasmkube_container_logs::OpenError),
    #[error("cannot register the node: {0}")]
    Register(#[from] kube::Error),
}

/// A running node agent. Dropping it stops its guests.
pub struct NodeAgent {
    pub node_name: String,
    /// Where the node endpoint listens (the real port when 0 was asked for).
    pub endpoint_address: SocketAddr,
    /// The node's pod network, through which the node (and benchmarks) reach pods.
    pub network: NodeNetwork,
    /// Held for its drop: the guests stop with the agent.
    _guest_threads: GuestThreads,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The runtime guests run on. A tokio runtime may not be dropped inside async code (it
/// would block), so it is shut down in the background instead — also when the agent
/// fails to start after creating it.
struct GuestThreads(Option<tokio::runtime::Runtime>);

impl GuestThreads {
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.0.as_ref().map(|runtime| runtime.handle().clone())
    }
}

impl Drop for GuestThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn directory(path: PathBuf) -> Result<PathBuf, NodeAgentError> {
    std::fs::create_dir_all(&path)
        .map(|()| path.clone())
        .map_err(|source| NodeAgentError::DataDirectory { path, source })
}

impl NodeAgent {
    pub async fn start(
        mut config: NodeAgentConfig,
        client: kube::Client,
    ) -> Result<NodeAgent, NodeAgentError> {
        let endpoint_tls = config.tls.endpoint_server_config()?;
        let tunnel_tls = config.tls.tunnel_server_config()?;
        let network = NodeNetwork::new(NodeNetworkSettings {
            node_name: config.node_name.clone(),
            node_address: config.node_ip,
            tunnel_client_tls: config.tls.tunnel_client_config()?,
        });
        if let Some(cidr) = config.pod_cidr {
            network.set_pod_cidr(cidr);
        }
        let tunnel_error = |source| NodeAgentError::Tunnel {
            address: config.tunnel_listen,
            source,
        };
        let tunnel_listener = tokio::net::TcpListener::bind(config.tunnel_listen)
            .await
            .map_err(tunnel_error)?;
        config.pod_network_tunnel = Some(tunnel_listener.local_addr().map_err(tunnel_error)?);
        if config.port_forward_connector.is_none() {
            config.port_forward_connector = Some(Arc::new(PodNetworkPortForward {
                network: network.clone(),
            }));
        }
        let data_dir = &config.data_dir;
        let logs = LogRoot::open(&directory(data_dir.join("logs"))?, LogRotation::default())?;
        let listener = tokio::net::TcpListener::bind(config.endpoint_listen)
            .await
            .map_err(|source| NodeAgentError::Listen {
                address: config.endpoint_listen,
                source,
            })?;
        let endpoint_address = listener
            .local_addr()
            .map_err(|source| NodeAgentError::Listen {
                address: config.endpoint_listen,
                source,
            })?;
        let guest_threads = GuestThreads(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(config.guest_threads.max(1))
                .thread_name("wasmkube-guest")
                .enable_all()
                .build()
                .map_err(NodeAgentError::GuestThreads)?,
        ));
        let guest_executor = guest_threads.handle().ok_or_else(|| {
            NodeAgentError::GuestThreads(std::io::Error::other("the guest runtime is gone"))
        })?;
        let node_memory_bytes = *config
            .node_memory_bytes
            .get_or_insert_with(registration::host_memory_bytes);
        let (node_memory, system_ooms) = NodeMemory::new(node_memory_bytes);
        // Every pod needs room for one container; two per pod leave room for sidecars
        // where the host's budget allows.
        let guests = Arc::new(
            GuestRuntime::new(&EngineSettings {
                compilation_cache_dir: directory(config.compilation_cache_dir.clone())?,
                demand: PoolDemand {
                    required_containers: config.max_pods,
                    wanted_containers: config.max_pods.saturating_mul(2),
                    max_container_memory_bytes: config.max_container_memory_bytes,
                },
                budget: HostBudget::of_this_host(),
            })?
            .with_node_memory(Arc::new(node_memory)),
        );
        tracing::info!(pool = ?guests.pool_sizing(), "instance pool sized");
        let capacity = node_capacity(config.max_pods, node_memory_bytes);
        let resource_usage = ResourceUsageRegistry::default();
        let status = registration::node_status(&config, endpoint_address.port(), &capacity);
        registration::register_node(&client, &config, &status).await?;

        let stdins = crate::attach::ContainerStdins::default();
        let exec_sandboxes = crate::exec::ExecSandboxes::default();
        let context = Arc::new(NodeContext {
            node_name: config.node_name.clone(),
            node_ip: config.node_ip.to_string(),
            client: client.clone(),
            guests,
            guest_executor,
            images: ImageCache::open(&directory(data_dir.join("images"))?)?,
            image_source: Arc::new(ApiServerImageSource::new(client.clone())),
            volume_host: VolumeHost {
                pods_dir: directory(data_dir.join("pods"))?,
                allowed_host_paths: config.allowed_host_paths.clone(),
            },
            volume_sources: Arc::new(ApiServerVolumeSources::new(client.clone())),
            logs: logs.clone(),
            backoff: config.backoff,
            default_limits: config.default_limits,
            allocatable: capacity,
            resource_usage: resource_usage.clone(),
            network: network.clone(),
            stdins: stdins.clone(),
            exec_sandboxes: exec_sandboxes.clone(),
        });
        let endpoint = crate::endpoint::serve(
            listener,
            endpoint_tls,
            logs,
            resource_usage,
            config.port_forward_connector.clone(),
            stdins,
            exec_sandboxes,
        );
        let tunnel = tokio::spawn(crate::network::tunnel::serve(
            tunnel_listener,
            tunnel_tls,
            network.clone(),
        ));
        let network_view =
            tokio::spawn(crate::network::watch::run(client.clone(), network.clone()));
        let system_oom_events = tokio::spawn(record_system_ooms(
            client.clone(),
            config.node_name.clone(),
            system_ooms,
        ));
        let heartbeat = tokio::spawn(keep_node_alive(client, config.clone(), status));
        let pods = tokio::spawn(pods::watch_pods(context));
        tracing::info!(node = %config.node_name, endpoint = %endpoint_address, "node agent started");
        Ok(NodeAgent {
            node_name: config.node_name,
            endpoint_address,
            network,
            _guest_threads: guest_threads,
            tasks: vec![
                endpoint,
                tunnel,
                network_view,
                system_oom_events,
                heartbeat,
                pods,
            ],
        })
    }
}

/// Renews the lease every few seconds and re-posts the node's status now and then, and at
/// once when the Node is gone or no longer Ready.
async fn keep_node_alive(
    client: kube::Client,
    config: NodeAgentConfig,
    mut status: serde_json::Value,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut node_uid = None;
    let mut last_status_post = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(lease::LEASE_RENEW_INTERVAL);
    loop {
        ticker.tick().await;
        let look = registration::look_at_node(&nodes, &config.node_name).await;
        if let Some(look) = &look {
            node_uid.clone_from(&look.uid);
        }
        if let Err(error) =
            lease::renew_lease(&client, &config.node_name, node_uid.as_deref()).await
        {
            tracing::warn!(%error, "cannot renew the node's lease");
        }
        if look.is_some_and(|look| look.needs_status)
            || last_status_post.elapsed() >= registration::NODE_STATUS_INTERVAL
        {
            let capacity = node_capacity(
                config.max_pods,
                config.node_memory_bytes.unwrap_or_default(),
            );
            let port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                .as_u64()
                .unwrap_or_default();
            status = registration::node_status(
                &config,
                u16::try_from(port).unwrap_or_default(),
                &capacity,
            );
            // A node deleted by hand comes back, as a kubelet re-registers it.
            let posted = match registration::register_node(&client, &config, &status).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "cannot post the node's status");
                    false
                }
            };
            if posted {
                last_status_post = tokio::time::Instant::now();
            }
        }
    }
}
