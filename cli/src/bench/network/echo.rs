//! The echo measurement: one pod of the echo example behind a Service, reached from the
//! node through the Service's cluster IP and straight at the pod IP, and the same crate
//! built for the host on the host's loopback. The http measurement runs the same way
//! with the http example, a wasi:http component served with a fresh instance per
//! request, in place of echo (and no native twin). The targets and connection modes take
//! turns within each round, so that a disturbance on the machine falls on all of them,
//! and each round starts with another target.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;

use super::super::node::cluster::{BenchCluster, NAMESPACE, NODE_NAME};
use super::native::{NativeBinaries, NativeEcho};
use super::requests::{self, ConnectionMode, EchoEndpoint, RequestLoad, RequestReport};
use super::{statistics, tables};

/// Which example serves: its pod's and Service's name (also the pod's `app` label) and
/// the arguments its container gets.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    pub name: &'static str,
    pub listens_by_argument: bool,
}

/// examples/echo, a command component with std::net, told its port.
pub const ECHO: Server = Server {
    name: "echo-bench",
    listens_by_argument: true,
};

/// examples/http, a wasi:http component, served on its containerPort by the node.
pub const HTTP_COMPONENT: Server = Server {
    name: "http-bench",
    listens_by_argument: false,
};
/// The port echo listens on in its pod.
const CONTAINER_PORT: u16 = 8080;
/// The Service's port, which maps to the container's port by its name.
const SERVICE_PORT: u16 = 80;
const PORT_NAME: &str = "http";
/// How long the pod may take to run and the node to learn its Service.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What the echo measurement does.
#[derive(Clone, Debug)]
pub struct EchoLoad {
    pub rounds: usize,
    pub requests: usize,
    pub warm_up_requests: usize,
    pub modes: Vec<ConnectionMode>,
}

/// The ways to the echo server, ready to answer.
pub struct EchoEndpoints {
    pub endpoints: Vec<EchoEndpoint>,
    _native: Option<NativeEcho>,
}

fn echo_pod(server: Server, image: &str) -> anyhow::Result<Pod> {
    let args: Vec<String> = if server.listens_by_argument {
        vec!["--port".to_owned(), CONTAINER_PORT.to_string()]
    } else {
        Vec::new()
    };
    // No resources: the container gets the node's default limits, one CPU (which a
    // single-threaded guest cannot exceed, so no quota is enforced) and 512 MiB.
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": server.name, "namespace": NAMESPACE, "labels": {"app": server.name}},
        "spec": {
            "nodeName": NODE_NAME,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "echo",
                "image": image,
                "args": args,
                "ports": [{"name": PORT_NAME, "containerPort": CONTAINER_PORT}],
            }],
        },
    });
    serde_json::from_value(manifest).context("the echo pod's manifest does not decode")
}

fn echo_service(server: Server) -> anyhow::Result<Service> {
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": server.name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"app": server.name},
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME}],
        },
    });
    serde_json::from_value(manifest).context("the echo Service's manifest does not decode")
}

fn is_ready_with_ip(pod: Option<&Pod>) -> bool {
    let Some(status) = pod.and_then(|pod| pod.status.as_ref()) else {
        return false;
    };
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True");
    ready && status.pod_ip.is_some()
}

impl EchoEndpoints {
    /// Creates the echo pod and its Service, waits until the node routes the Service to
    /// the pod, starts the native echo when `native` is given, and waits until each way
    /// in answers.
    pub async fn start(
        cluster: &BenchCluster,
        server: Server,
        image: &str,
        native: Option<&NativeBinaries>,
    ) -> anyhow::Result<EchoEndpoints> {
        let pods = cluster.pods.clone();
        let services: Api<Service> = Api::namespaced(pods.clone().into_client(), NAMESPACE);
        pods.create(&PostParams::default(), &echo_pod(server, image)?)
            .await
            .context("cannot create the echo pod")?;
        services
            .create(&PostParams::default(), &echo_service(server)?)
            .await
            .context("cannot create the echo Service")?;
        let pod = tokio::time::timeout(
            SETUP_TIMEOUT,
            await_condition(pods, server.name, is_ready_with_ip),
        )
        .await
        .context("the echo pod did not become Ready")??
        .context("the echo pod was deleted")?;
        let pod_ip = pod
            .status
            .and_then(|status| status.pod_ip)
            .context("the echo pod has no IP")?
            .parse()
            .context("the echo pod's IP is not an IPv4 address")?;
        let network = cluster.network().clone();
        let cluster_ip = wait_for_routed_service(cluster, server, SETUP_TIMEOUT).await?;
        let mut endpoints = vec![
            EchoEndpoint::Service {
                network: network.clone(),
                address: (cluster_ip, SERVICE_PORT).into(),
            },
            EchoEndpoint::PodIp {
                network,
                ip: pod_ip,
                port: CONTAINER_PORT,
            },
        ];
        let native = native
            .map(|binaries| NativeEcho::start(&binaries.echo))
            .transpose()?;
        if let Some(native) = &native {
            endpoints.push(EchoEndpoint::Native(native.address));
        }
        for endpoint in &endpoints {
            requests::wait_until_answering(endpoint, SETUP_TIMEOUT).await?;
        }
        Ok(EchoEndpoints {
            endpoints,
            _native: native,
        })
    }
}

/// Waits until the node's picture of the cluster has the echo Service with a ready
/// endpoint, and returns its cluster IP.
async fn wait_for_routed_service(
    cluster: &BenchCluster,
    server: Server,
    timeout: Duration,
) -> anyhow::Result<std::net::Ipv4Addr> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let snapshot = cluster.network().cluster().snapshot();
        if let Some(service) = snapshot.service(NAMESPACE, server.name)
            && let Some(cluster_ip) = service.cluster_ip
            && !service.ready_backends(PORT_NAME).is_empty()
        {
            return Ok(cluster_ip);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the node did not route the echo Service to its pod within {} s",
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Warms every way in up, then runs the rounds, printing a row per run and the medians
/// at the end. Returns every run's report.
pub async fn run(
    endpoints: &EchoEndpoints,
    load: &EchoLoad,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Vec<RequestReport>> {
    if load.warm_up_requests > 0 {
        for endpoint in &endpoints.endpoints {
            for mode in &load.modes {
                let warm_up = RequestLoad {
                    requests: load.warm_up_requests,
                    mode: *mode,
                };
                requests::run(endpoint, warm_up).await?;
            }
        }
    }
    tables::echo_header(out, load.requests)?;
    let mut reports = Vec::new();
    let ways_in = endpoints.endpoints.len();
    for round in 1..=load.rounds {
        // Each round starts one target further on, so that no target always runs first
        // (after the others' idle time) or last.
        let order = (0..ways_in).map(|index| (index + round - 1) % ways_in);
        for endpoint in order.map(|index| &endpoints.endpoints[index]) {
            for mode in &load.modes {
                let request_load = RequestLoad {
                    requests: load.requests,
                    mode: *mode,
                };
                let report = requests::run(endpoint, request_load)
                    .await
                    .with_context(|| {
                        format!(
                            "round {round}, {} with {}",
                            endpoint.target().label(),
                            mode.label()
                        )
                    })?;
                tables::echo_row(out, round, &report)?;
                reports.push(report);
            }
        }
    }
    tables::echo_summary(out, &statistics::summarize(&reports))?;
    Ok(reports)
}
