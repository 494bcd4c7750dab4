//! A real one-node cluster in the test's process: the control plane on a temporary store
//! and a node agent beside it, as `wasmkube up` runs them, with short restart back-offs.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_runtime::{BackoffSettings, NodeAgent, NodeAgentConfig};
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
    })
    .await
    .expect("the control plane starts")
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
        let mut config = NodeAgentConfig::new(NODE_NAME.to_owned(), directory.path().join("node"));
        config.backoff = BackoffSettings {
            initial: Duration::from_millis(500),
            maximum: Duration::from_secs(2),
        };
        config.max_pods = 50;
        // No controller manager runs here to give the node a podCIDR: the kubelet's
        // standalone `--pod-cidr` does.
        config.pod_cidr = Some("10.244.0.0/24".parse().expect("a CIDR"));
        // Every test cluster compiles the same guests: one cache spares the repeats.
        config.compilation_cache_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compiled");
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
