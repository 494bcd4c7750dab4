//! pods/portforward over real HTTP with the real kubectl (1.33, which tries a WebSocket
//! first, and 1.27, SPDY only): the API server speaks SPDY to kubectl and, for each
//! forwarded connection, tunnels to the node agent named by the Node object. The agent
//! here is a small imitation of the node endpoint's route that dials loopback ports, so
//! that the pod's "port" is a TCP echo server the test starts.

mod channels;
mod kubectl;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use super::support::*;
use kubectl::{PortForward, closed_port, start_echo_server, write_kubeconfig};

const NODES: &str = "/api/v1/nodes";

/// The imitation node endpoint: reaches `127.0.0.1:{port}` for the pod, answering with
/// the kubelet's message when nothing listens there, else 101 and the bytes both ways.
async fn forward_to_loopback(
    UrlPath((_namespace, _pod, uid)): UrlPath<(String, String, String)>,
    RawQuery(query): RawQuery,
    mut request: Request,
) -> Response {
    let port: u16 = query
        .as_deref()
        .and_then(|query| query.strip_prefix("port="))
        .and_then(|port| port.parse().ok())
        .expect("the API server names the port");
    assert_eq!(
        request.headers()[header::UPGRADE],
        "wasmkube-port-forward",
        "the API server asks for the tunnel protocol"
    );
    let mut pod = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(pod) => pod,
        Err(error) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("error forwarding port {port} to pod {uid}, uid : {error}"),
            )
                .into_response();
        }
    };
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let mut tunnel = TokioIo::new(upgrade.await.expect("the tunnel is upgraded"));
        let _ = tokio::io::copy_bidirectional(&mut tunnel, &mut pod).await;
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "Upgrade"),
            (header::UPGRADE, "wasmkube-port-forward"),
        ],
    )
        .into_response()
}

async fn start_node_agent(cluster: &Cluster) -> u16 {
    let app = Router::new().route(
        "/portForward/{namespace}/{pod}/{uid}",
        post(forward_to_loopback),
    );
    crate::tls::serve_node_agent(&cluster.plane, app).await
}

async fn register_node(cluster: &Cluster, name: &str, agent_port: u16) {
    cluster
        .create(
            NODES,
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}),
        )
        .await;
    cluster
        .merge_patch(
            &format!("{NODES}/{name}/status"),
            &json!({"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": agent_port}},
            }}),
        )
        .await
        .expect(200);
}

/// Creates a pod bound to `node` in `phase`, and answers its uid.
async fn create_pod(cluster: &Cluster, name: &str, node: &str, phase: &str) -> String {
    let mut manifest = pod(name);
    manifest["spec"]["nodeName"] = json!(node);
    let created = cluster.create(PODS, &manifest).await;
    cluster
        .merge_patch(
            &format!("{PODS}/{name}/status"),
            &json!({"status": {"phase": phase}}),
        )
        .await
        .expect(200);
    text(&created, "/metadata/uid")
}

/// How many port-forward upgrades the API server has answered with 101, by verb:
/// POST for SPDY, GET for a WebSocket.
async fn upgrades(cluster: &Cluster, verb: &str) -> u64 {
    let metrics = cluster.get("/metrics").await;
    let series =
        format!("apiserver_request_total{{verb=\"{verb}\",resource=\"pods\",code=\"101\"}} ");
    String::from_utf8_lossy(&metrics.body)
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// Forwards several connections at once with `kubectl` and checks that they were all
/// carried over the protocol whose upgrade uses `upgrade_verb`.
async fn forwards_bytes_both_ways(kubectl: &str, environment: &[(&str, &str)], upgrade_verb: &str) {
    let cluster = start_cluster().await;
    let agent_port = start_node_agent(&cluster).await;
    let echo_port = start_echo_server().await;
    register_node(&cluster, "node-1", agent_port).await;
    create_pod(&cluster, "web", "node-1", "Running").await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.plane);

    let forward =
        PortForward::start_with(kubectl, environment, &kubeconfig, "web", echo_port).await;
    let answer = forward.round_trip(b"hello through the pod").await;
    // Several connections at once, each with its own pair of streams; one of them larger
    // than a SPDY data frame's worth of a read.
    let large: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
    let messages: Vec<Vec<u8>> = (0..8)
        .map(|index| format!("connection {index}").into_bytes())
        .chain(std::iter::once(large))
        .collect();
    let answers: std::io::Result<Vec<Vec<u8>>> =
        futures::future::join_all(messages.iter().map(|message| forward.round_trip(message)))
            .await
            .into_iter()
            .collect();
    let errors = forward.stop().await;
    assert_eq!(
        answer.ok().as_deref(),
        Some(b"hello through the pod".as_slice()),
        "{kubectl} wrote: {errors}"
    );
    assert_eq!(answers.ok(), Some(messages), "{kubectl} wrote: {errors}");
    assert!(
        !errors.contains("error forwarding"),
        "{kubectl} reported errors: {errors}"
    );
    assert_eq!(
        upgrades(&cluster, upgrade_verb).await,
        1,
        "one {upgrade_verb} upgrade"
    );
    let other_verb = if upgrade_verb == "GET" { "POST" } else { "GET" };
    assert_eq!(
        upgrades(&cluster, other_verb).await,
        0,
        "no {other_verb} upgrade"
    );
}

#[tokio::test]
async fn kubectl_1_33_forwards_a_pods_port_through_spdy_tunneled_in_a_websocket() {
    forwards_bytes_both_ways("kubectl.1.33", &[], "GET").await;
}

#[tokio::test]
async fn kubectl_1_33_forwards_a_pods_port_over_spdy_when_told_not_to_use_websockets() {
    let environment = [("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
    forwards_bytes_both_ways("kubectl.1.33", &environment, "POST").await;
}

#[tokio::test]
async fn kubectl_1_27_forwards_a_pods_port_over_spdy() {
    forwards_bytes_both_ways("kubectl.1.27", &[], "POST").await;
}

#[tokio::test]
async fn a_port_nothing_listens_on_is_reported_in_the_kubelets_words() {
    let cluster = start_cluster().await;
    let agent_port = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", agent_port).await;
    let uid = create_pod(&cluster, "web", "node-1", "Running").await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.plane);
    let nowhere = closed_port();

    for kubectl in ["kubectl.1.33", "kubectl.1.27"] {
        let forward = PortForward::start(kubectl, &kubeconfig, "web", nowhere).await;
        let answer = forward.round_trip(b"anyone?").await;
        let errors = forward.stop().await;
        assert_eq!(
            answer.ok(),
            Some(Vec::new()),
            "the local connection is closed; {kubectl} wrote: {errors}"
        );
        let expected = format!("error forwarding port {nowhere} to pod {uid}, uid : ");
        assert!(
            errors.contains(&expected),
            "{kubectl} shows the kubelet's message ({expected}); it wrote: {errors}"
        );
    }
}

#[tokio::test]
async fn a_pod_that_is_not_running_or_a_plain_request_is_refused() {
    let cluster = start_cluster().await;
    let agent_port = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", agent_port).await;
    create_pod(&cluster, "pending", "node-1", "Pending").await;
    create_pod(&cluster, "web", "node-1", "Running").await;

    let spdy = [
        ("connection", "Upgrade"),
        ("upgrade", "SPDY/3.1"),
        ("x-stream-protocol-version", "portforward.k8s.io"),
    ];
    let status = cluster
        .request(
            http::Method::POST,
            &format!("{PODS}/pending/portforward"),
            &spdy,
            "",
        )
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        status["message"],
        "unable to forward port because pod is not running. Current status=Pending"
    );
    let status = cluster
        .request(
            http::Method::POST,
            &format!("{PODS}/web/portforward"),
            &[],
            "",
        )
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(status["message"], "Upgrade request required");
    cluster
        .request(
            http::Method::POST,
            &format!("{PODS}/missing/portforward"),
            &spdy,
            "",
        )
        .await
        .expect_failure(404, "NotFound");
}

#[tokio::test]
async fn discovery_lists_the_portforward_subresource() {
    let cluster = start_cluster().await;
    let resources = cluster.get("/api/v1").await.expect(200);
    let entry = resources["resources"]
        .as_array()
        .and_then(|resources| {
            resources
                .iter()
                .find(|resource| resource["name"] == "pods/portforward")
        })
        .cloned();
    assert_eq!(
        entry,
        Some(json!({
            "name": "pods/portforward", "singularName": "", "namespaced": true,
            "kind": "PodPortForwardOptions", "verbs": ["create", "get"],
        }))
    );
}
