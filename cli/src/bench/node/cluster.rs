//! The node benchmark's cluster: a control plane on a temporary store and one node agent
//! in this process, and a client that reaches the API server over HTTPS on 127.0.0.1 as
//! the admin, as kubectl with the admin kubeconfig does. The control plane runs either in
//! this process too, as `wasmkube up` runs it (the agent then reaches it with no socket,
//! as its node's identity), or in a `wasmkube server` process of its own (the agent then
//! reaches it over HTTPS with its node's client certificate, as a node on another machine
//! would).

use std::net::IpAddr;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use wasmkube_control_plane::auth::UserInfo;
use wasmkube_control_plane::kubeconfig::{KubeconfigCredential, kubeconfig_yaml};
use wasmkube_control_plane::server::ControlPlane;
use wasmkube_pki::ClusterAuthority;
use wasmkube_pki::authority::tls_directory;
use wasmkube_runtime::network::NodeNetwork;
use wasmkube_runtime::{NodeAgent, NodeAgentConfig, NodeTls};

use super::super::start_control_plane;
use super::memory::{MemorySample, mapping_count, proportional_bytes, resident_bytes};
use super::server_process::{self, ServerProcess};

/// The one node; every benchmark pod is bound to it by `spec.nodeName`.
pub const NODE_NAME: &str = "bench-node";
/// Where the benchmark's pods are created.
pub const NAMESPACE: &str = "default";

/// Where the control plane runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPlaneHome {
    /// Beside the node agent, as `wasmkube up` runs them.
    ThisProcess,
    /// In a `wasmkube server` child process.
    ChildProcess,
}

/// A running cluster. The fields drop in order: the node agent stops its guests first,
/// then the control plane stops, then the temporary directory is removed.
pub struct BenchCluster {
    /// The node's pods, through the admin's HTTPS client.
    pub pods: Api<Pod>,
    agent: NodeAgent,
    /// The control plane when it runs in this process.
    control_plane: Option<ControlPlane>,
    /// The control plane when it runs apart.
    server: Option<ServerProcess>,
    _directory: tempfile::TempDir,
}

/// A client that reaches the API server over HTTPS as the kubeconfig's user.
async fn https_client(kubeconfig_yaml: &str) -> anyhow::Result<kube::Client> {
    let kubeconfig = Kubeconfig::from_yaml(kubeconfig_yaml)
        .context("the benchmark's kubeconfig is not valid")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("the benchmark's kubeconfig does not make a client configuration")?;
    kube::Client::try_from(config).context("cannot build an HTTPS client for the API server")
}

/// The node's client and serving certificates, issued straight by the cluster CA, as
/// `wasmkube up` issues them for its node.
fn issue_node_tls(authority: &ClusterAuthority) -> anyhow::Result<NodeTls> {
    NodeTls::issue(authority, NODE_NAME, &[IpAddr::from([127, 0, 0, 1])])
        .context("cannot issue the node's certificates")
}

impl BenchCluster {
    /// Starts the control plane and a node agent that runs at most `max_pods` pods (the
    /// size of its instance pool).
    pub async fn start(max_pods: u32, home: ControlPlaneHome) -> anyhow::Result<BenchCluster> {
        let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
        let server_dir = directory.path().join("server");
        // The agent acts as its node, so the node authorizer limits it as it does any node.
        let node = UserInfo::node(NODE_NAME);
        let (control_plane, server, admin_kubeconfig, node_tls, agent_client) = match home {
            ControlPlaneHome::ThisProcess => {
                let control_plane = start_control_plane(server_dir).await?;
                let admin_kubeconfig = control_plane
                    .admin_kubeconfig()
                    .context("cannot make the admin's kubeconfig")?;
                let node_tls = issue_node_tls(&control_plane.authority)?;
                // In this process the agent reaches the API server with no socket, as in `up`.
                let agent_client = control_plane.client_as(node);
                (
                    Some(control_plane),
                    None,
                    admin_kubeconfig,
                    node_tls,
                    agent_client,
                )
            }
            ControlPlaneHome::ChildProcess => {
                let server = server_process::start(&server_dir).await?;
                // The server made the cluster CA and the admin's kubeconfig in its data
                // directory before it said it was up.
                let authority = ClusterAuthority::load_or_create(&tls_directory(&server_dir))
                    .context("cannot read the server's cluster CA")?;
                let kubeconfig_path = server_dir.join("kubeconfig");
                let admin_kubeconfig =
                    std::fs::read_to_string(&kubeconfig_path).with_context(|| {
                        format!("cannot read the server's {}", kubeconfig_path.display())
                    })?;
                let node_tls = issue_node_tls(&authority)?;
                // Apart, the agent presents its client certificate, as `wasmkube node` does.
                let agent_client = https_client(&kubeconfig_yaml(
                    &server.url(),
                    authority.certificate_pem(),
                    "wasmkube",
                    &node.username,
                    KubeconfigCredential::ClientCertificate(&node_tls.client),
                    NAMESPACE,
                ))
                .await?;
                (None, Some(server), admin_kubeconfig, node_tls, agent_client)
            }
        };
        let mut config = NodeAgentConfig::new(
            NODE_NAME.to_owned(),
            directory.path().join("node"),
            node_tls,
        );
        config.max_pods = max_pods;
        // Room for the ten thousand pods of the density measurement.
        config.pod_cidr = Some("10.244.0.0/16".parse()?);
        let agent = NodeAgent::start(config, agent_client)
            .await
            .with_context(|| format!("the node agent cannot start with {max_pods} pods"))?;
        Ok(BenchCluster {
            pods: Api::namespaced(https_client(&admin_kubeconfig).await?, NAMESPACE),
            agent,
            control_plane,
            server,
            _directory: directory,
        })
    }

    /// The control plane's in-process client (the one `wasmkube up` gives its controller
    /// manager), when the control plane runs in this process.
    pub fn in_process_client(&self) -> Option<kube::Client> {
        self.control_plane
            .as_ref()
            .map(|control_plane| control_plane.client.clone())
    }

    /// The node's pod network, through which the network benchmark reaches its pods
    /// from the node's side.
    pub fn network(&self) -> &NodeNetwork {
        &self.agent.network
    }

    /// The resident memory of this process (the node agent's) and, when it runs apart,
    /// of the API server's.
    pub fn memory(&self) -> anyhow::Result<MemorySample> {
        let agent_pid = std::process::id();
        let agent_bytes = resident_bytes(agent_pid)?;
        let server_bytes = match &self.server {
            Some(server) => Some(resident_bytes(server.pid)?),
            None => None,
        };
        Ok(MemorySample {
            agent_bytes,
            agent_proportional_bytes: proportional_bytes(agent_pid),
            agent_mappings: mapping_count(agent_pid),
            server_bytes,
        })
    }
}

/// A pod bound to the node whose one container runs `testbox sleep-forever` from
/// `image`, with small limits like an idle microservice's.
pub fn sleeping_pod(name: &str, image: &str) -> anyhow::Result<Pod> {
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "nodeName": NODE_NAME,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "idle",
                "image": image,
                "command": ["testbox", "sleep-forever"],
                "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
            }],
        },
    });
    serde_json::from_value(manifest).context("the benchmark's pod manifest does not decode")
}
