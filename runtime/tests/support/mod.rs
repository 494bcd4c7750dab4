//! A real one-node cluster in the test's process: the control plane on a temporary store
//! and a node agent beside it, as `wasmkube up` runs them, with short restart back-offs.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_pki::tls::TlsIdentity;
use wasmkube_pki::{ClusterAuthority, Subject, Usage};
use wasmkube_runtime::{BackoffSettings, NodeAgent, NodeAgentConfig, NodeTls};
use wasmkube_wasm_guests::{WasmTarget, guest};

pub const NODE_NAME: &str = "node-1";

pub struct TestCluster {
    pub client: kube::Client,
    pub agent: Option<NodeAgent>,
    pub agent_config: NodeAgentConfig,
    pub control_plane: ControlPlane,
    pub directory: tempfile::TempDir,
}

/// A control plane on a fresh store under `directory`.
pub async fn start_control_plane(directory: &std::path::Path) -> ControlPlane {
    start_control_plane_with(directory, ApiOptions::default()).await
}

/// A control plane with the API server's settings (its flags) as given.
pub async fn start_control_plane_with(
    directory: &std::path::Path,
    api: ApiOptions,
) -> ControlPlane {
    start(ControlPlaneOptions {
        data_dir: directory.join("server"),
        listen: "127.0.0.1:0".parse().expect("an address"),
        api,
        compaction_interval: Duration::from_secs(300),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts")
}

/// A test node's settings: its data under `directory/<name>` (`node` for the first
/// node), certificates from the control plane's CA for 127.0.0.1, short restart
/// back-offs and the shared compilation cache.
pub fn node_agent_config(
    control_plane: &ControlPlane,
    directory: &std::path::Path,
    node_name: &str,
) -> NodeAgentConfig {
    let data_dir = if node_name == NODE_NAME {
        directory.join("node")
    } else {
        directory.join(node_name)
    };
    let mut config = NodeAgentConfig::new(
        node_name.to_owned(),
        data_dir,
        node_tls(&control_plane.authority, node_name),
    );
    config.backoff = BackoffSettings {
        initial: Duration::from_millis(500),
        maximum: Duration::from_secs(2),
    };
    config.max_pods = 50;
    // Every test cluster compiles the same guests: one cache spares the repeats.
    config.compilation_cache_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compiled");
    config
}

/// A node's certificates, issued by `authority` for a node at 127.0.0.1, where test
/// nodes listen.
pub fn node_tls(authority: &ClusterAuthority, node_name: &str) -> NodeTls {
    NodeTls::issue(authority, node_name, &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
        .expect("the node's certificates are issued")
}

/// A client identity from `authority` for `subject`, its chain ending with the CA.
pub fn client_identity(authority: &ClusterAuthority, subject: &Subject) -> TlsIdentity {
    let issued = authority
        .issue(subject, Usage::Client, &[], &[])
        .expect("a client certificate is issued");
    TlsIdentity {
        certificate_chain_pem: format!("{}{}", issued.certificate_pem, authority.certificate_pem()),
        private_key_pem: issued.private_key_pem,
    }
}

/// The identity the API server calls node agents with.
pub fn api_server_identity(authority: &ClusterAuthority) -> TlsIdentity {
    client_identity(
        authority,
        &Subject::new("kube-apiserver-kubelet-client", &["system:masters"]),
    )
}

/// A node endpoint's answer: its status code, head and body.
#[derive(Debug)]
pub struct EndpointAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// GETs `path` from the node endpoint at `endpoint` over HTTPS (HTTP/1.1), checking the
/// node's certificate against the CA in `authority_pem` and presenting `identity`. An
/// error is a failed connection or handshake.
pub async fn node_endpoint_get(
    authority_pem: &str,
    identity: Option<&TlsIdentity>,
    endpoint: SocketAddr,
    path: &str,
) -> std::io::Result<EndpointAnswer> {
    let config = wasmkube_pki::tls::client_config(authority_pem, identity, &[b"http/1.1"])
        .map_err(std::io::Error::other)?;
    let tcp = tokio::net::TcpStream::connect(endpoint).await?;
    let mut stream = tokio_rustls::TlsConnector::from(Arc::clone(&config))
        .connect(ServerName::IpAddress(endpoint.ip().into()), tcp)
        .await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // A server that refuses the client's certificate says so in an alert, which arrives
    // here, after the handshake that TLS 1.3 lets the client finish first.
    if let Err(error) = stream.read_to_end(&mut response).await
        && (error.kind() != std::io::ErrorKind::UnexpectedEof || response.is_empty())
    {
        return Err(error);
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {response:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok(EndpointAnswer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

pub fn guest_image(name: &str, target: WasmTarget) -> String {
    format!("file://{}", guest(name, target).display())
}

pub fn testbox() -> String {
    guest_image("testbox", WasmTarget::P2)
}

impl TestCluster {
    pub async fn start() -> TestCluster {
        TestCluster::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut NodeAgentConfig)) -> TestCluster {
        TestCluster::start_with_api(ApiOptions::default(), configure).await
    }

    /// A cluster whose API server has these settings (`--allow-egress`, say).
    pub async fn start_with_api(
        api: ApiOptions,
        configure: impl FnOnce(&mut NodeAgentConfig),
    ) -> TestCluster {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let control_plane = start_control_plane_with(directory.path(), api).await;
        let mut config = node_agent_config(&control_plane, directory.path(), NODE_NAME);
        // No controller manager runs here to give the node a podCIDR: the kubelet's
        // standalone `--pod-cidr` does.
        config.pod_cidr = Some("10.244.0.0/24".parse().expect("a CIDR"));
        configure(&mut config);
        let agent = NodeAgent::start(config.clone(), control_plane.client.clone())
            .await
            .expect("the node agent starts");
        TestCluster {
            client: control_plane.client.clone(),
            agent: Some(agent),
            agent_config: config,
            control_plane,
            directory,
        }
    }

    /// Stops the node agent, as a crash or an upgrade would: its guests end with it.
    pub fn stop_agent(&mut self) {
        self.agent = None;
    }

    /// Starts a new node agent on the same data directory.
    pub async fn start_agent(&mut self) {
        let agent = NodeAgent::start(self.agent_config.clone(), self.client.clone())
            .await
            .expect("the node agent starts again");
        self.agent = Some(agent);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.directory.path().to_path_buf()
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a pod from YAML, bound to the test node (there is no scheduler yet).
    pub async fn create_pod(&self, manifest: &str) -> Pod {
        let mut pod: Pod = serde_yaml::from_str(manifest).expect("a pod manifest");
        pod.spec.get_or_insert_default().node_name = Some(NODE_NAME.to_owned());
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("the pod is created")
    }

    /// Waits (on a watch) until the pod satisfies `done`, failing after `timeout` with the
    /// pod's last status.
    pub async fn wait_for(
        &self,
        name: &str,
        timeout: Duration,
        done: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let pods = self.pods();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = pods.get(name).await.expect("the pod exists");
        loop {
            if done(&last) {
                return last;
            }
            let version = last.metadata.resource_version.clone().unwrap_or_default();
            let parameters = WatchParams::default()
                .fields(&format!("metadata.name={name}"))
                .timeout(10);
            let mut events = pods
                .watch(&parameters, &version)
                .await
                .expect("a watch")
                .boxed();
            loop {
                let next = tokio::time::timeout_at(deadline, events.try_next()).await;
                match next {
                    Err(_) => panic!(
                        "pod {name} did not get there in {timeout:?}; its status: {}",
                        serde_json::to_string_pretty(&last.status).unwrap_or_default()
                    ),
                    Ok(Ok(Some(WatchEvent::Added(pod) | WatchEvent::Modified(pod)))) => {
                        last = pod;
                        if done(&last) {
                            return last;
                        }
                    }
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None) | Err(_)) => break,
                }
            }
        }
    }

    /// The logs of a container, read from the node agent's log files through the node
    /// endpoint, as the API server's pods/log proxy reads them.
    pub async fn logs(&self, name: &str, container: &str) -> String {
        let pods = self.pods();
        pods.logs(
            name,
            &kube::api::LogParams {
                container: Some(container.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|error| panic!("logs of {name}/{container}: {error}"))
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

pub fn container_status<'a>(
    pod: &'a Pod,
    container: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|status| status.name == container)
}

pub fn waiting_reason(pod: &Pod, container: &str) -> Option<String> {
    container_status(pod, container)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

pub fn terminated(
    pod: &Pod,
    container: &str,
) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
    container_status(pod, container)?
        .state
        .as_ref()?
        .terminated
        .clone()
}

/// Waits for the container named `client` of `pod` to end (a minute at most), and
/// returns its exit code and its log.
pub async fn client_exit(cluster: &TestCluster, pod: &str) -> (i32, String) {
    let finished = cluster
        .wait_for(pod, Duration::from_secs(60), |pod| {
            terminated(pod, "client").is_some()
        })
        .await;
    let exit = terminated(&finished, "client").expect("the client ended");
    (exit.exit_code, cluster.logs(pod, "client").await)
}
