//! The node agent's two listeners under TLS from the cluster CA: the node endpoint lets in
//! only the API server's certificate (a node's gets the kubelet's 403; one from another
//! CA, or none, fails the handshake), and the pod network's tunnel takes only nodes, and
//! carries a connection from a pod of one node to a pod of another.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use rustls::pki_types::ServerName;
use support::{
    TestCluster, api_server_identity, client_identity, node_agent_config, node_endpoint_get,
    node_tls, phase, terminated,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use wasmkube_pki::tls::TlsIdentity;
use wasmkube_pki::{ClusterAuthority, Subject};
use wasmkube_runtime::NodeAgent;
use wasmkube_runtime::network::tunnel::{ALPN_PROTOCOL, PROTOCOL};
use wasmkube_runtime::network::watch::TUNNEL_ANNOTATION;
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

fn endpoint(cluster: &TestCluster) -> SocketAddr {
    cluster
        .agent
        .as_ref()
        .expect("the node agent runs")
        .endpoint_address
}

/// The API server's client identity, but signed by a CA the cluster does not know.
fn impostor_identity() -> TlsIdentity {
    let foreign = ClusterAuthority::create("another-ca").expect("a CA");
    client_identity(
        &foreign,
        &Subject::new("kube-apiserver-kubelet-client", &["system:masters"]),
    )
}

#[tokio::test]
async fn the_node_endpoint_lets_in_only_the_api_servers_certificate() {
    let cluster = TestCluster::start().await;
    let authority = &cluster.control_plane.authority;
    let authority_pem = authority.certificate_pem();
    let endpoint = endpoint(&cluster);

    let api_server = api_server_identity(authority);
    let healthy = node_endpoint_get(authority_pem, Some(&api_server), endpoint, "/healthz")
        .await
        .expect("the API server is let in");
    assert_eq!((healthy.status, healthy.body.as_str()), (200, "ok"));

    // Another node's certificate is the cluster CA's, so the handshake succeeds, but a
    // node is no caller of this endpoint.
    let other_node = node_tls(authority, "node-2");
    for (path, subresource) in [("/metrics/resource", "metrics"), ("/healthz", "healthz")] {
        let refused = node_endpoint_get(authority_pem, Some(&other_node.client), endpoint, path)
            .await
            .expect("the endpoint answers a node");
        assert_eq!(refused.status, 403, "{path}: {}", refused.head);
        assert_eq!(
            refused.body,
            format!(
                "Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource={subresource})\n"
            )
        );
    }

    // The right names from the wrong CA, or no certificate at all: the TLS handshake fails.
    let impostor = node_endpoint_get(
        authority_pem,
        Some(&impostor_identity()),
        endpoint,
        "/healthz",
    )
    .await;
    assert!(
        impostor.is_err(),
        "another CA's certificate was let in: {impostor:?}"
    );
    let anonymous = node_endpoint_get(authority_pem, None, endpoint, "/healthz").await;
    assert!(
        anonymous.is_err(),
        "a caller without a certificate was let in: {anonymous:?}"
    );

    // Plain HTTP is not served.
    let mut plain = tokio::net::TcpStream::connect(endpoint)
        .await
        .expect("the endpoint accepts connections");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&answer)
    );
}

/// The tunnel address a node announced on its Node.
async fn tunnel_address(client: &kube::Client, node: &str) -> SocketAddr {
    let node = Api::<Node>::all(client.clone())
        .get(node)
        .await
        .expect("the node is registered");
    node.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(TUNNEL_ANNOTATION))
        .and_then(|address| address.parse().ok())
        .expect("the node announces its tunnel")
}

/// Dials a tunnel as `identity`, sends one header line and returns the answer line; an
/// error is a failed connection or handshake.
async fn tunnel_answer(
    authority_pem: &str,
    identity: Option<&TlsIdentity>,
    tunnel: SocketAddr,
    header: &str,
) -> std::io::Result<String> {
    let config = wasmkube_pki::tls::client_config(authority_pem, identity, &[ALPN_PROTOCOL])
        .map_err(std::io::Error::other)?;
    let tcp = tokio::net::TcpStream::connect(tunnel).await?;
    let mut stream = tokio_rustls::TlsConnector::from(Arc::clone(&config))
        .connect(ServerName::IpAddress(tunnel.ip().into()), tcp)
        .await?;
    stream.write_all(format!("{header}\n").as_bytes()).await?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).await?;
    if answer.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(answer.trim_end().to_owned())
}

#[tokio::test]
async fn the_tunnel_takes_only_nodes() {
    let cluster = TestCluster::start().await;
    let authority = &cluster.control_plane.authority;
    let authority_pem = authority.certificate_pem();
    let tunnel = tunnel_address(&cluster.client, support::NODE_NAME).await;
    // A pod address of the node's podCIDR where no pod is.
    let header = format!("{PROTOCOL} 10.244.1.2:40000 10.244.0.250:8080");

    let node = node_tls(authority, "node-2");
    let from_a_node = tunnel_answer(authority_pem, Some(&node.client), tunnel, &header)
        .await
        .expect("a node is let in");
    assert_eq!(
        from_a_node, "UNREACHABLE",
        "a node is answered about the pod"
    );

    let from_the_api_server = tunnel_answer(
        authority_pem,
        Some(&api_server_identity(authority)),
        tunnel,
        &header,
    )
    .await;
    assert_eq!(
        from_the_api_server.ok().as_deref(),
        Some("DENIED"),
        "a certificate of the cluster that is not a node's is refused"
    );

    let from_elsewhere =
        tunnel_answer(authority_pem, Some(&impostor_identity()), tunnel, &header).await;
    assert!(
        from_elsewhere.is_err(),
        "another CA's certificate: {from_elsewhere:?}"
    );
    let anonymous = tunnel_answer(authority_pem, None, tunnel, &header).await;
    assert!(anonymous.is_err(), "no certificate: {anonymous:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_a_pod_of_another_node_through_the_tunnel() {
    let cluster = TestCluster::start().await;
    let mut config = node_agent_config(&cluster.control_plane, cluster.directory.path(), "node-2");
    config.pod_cidr = Some("10.244.1.0/24".parse().expect("a CIDR"));
    let second = NodeAgent::start(config, cluster.client.clone())
        .await
        .expect("the second node agent starts");

    let echo = support::guest_image("echo", WasmTarget::P2);
    cluster
        .create_pod(&format!(
            "metadata: {{name: server}}\nspec:\n  containers:\n  - name: server\n    image: {echo}\n    args: [\"--port\", \"8080\"]\n"
        ))
        .await;
    let server = cluster
        .wait_for("server", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let server_ip: Ipv4Addr = server
        .status
        .and_then(|status| status.pod_ip)
        .and_then(|ip| ip.parse().ok())
        .expect("the server has a pod IP");

    // The second node learns of the first one's podCIDR and tunnel through its Node watch.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while second
        .network
        .cluster()
        .snapshot()
        .tunnel_for(server_ip)
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second node never learnt the first one's tunnel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let client = support::guest_image("echo-client", WasmTarget::P2);
    let caller: Pod = serde_yaml::from_str(&format!(
        r#"
metadata: {{name: caller}}
spec:
  nodeName: node-2
  restartPolicy: Never
  containers:
  - name: client
    image: {client}
    args: ["http://{server_ip}:8080/from-node-2", "--count", "3", "--interval-ms", "100"]
"#
    ))
    .expect("a pod manifest");
    cluster
        .pods()
        .create(&PostParams::default(), &caller)
        .await
        .expect("the caller is created");
    let finished = cluster
        .wait_for("caller", TIMEOUT, |pod| terminated(pod, "client").is_some())
        .await;
    let logs = cluster.logs("caller", "client").await;
    let exit = terminated(&finished, "client").expect("the client ended");
    assert_eq!(exit.exit_code, 0, "the caller failed:\n{logs}");
    assert_eq!(
        logs.matches("200 echo from server: GET /from-node-2")
            .count(),
        3,
        "{logs}"
    );

    // The pod IPs are kept end to end: the server saw the caller's own.
    let caller_ip: IpAddr = cluster
        .pods()
        .get("caller")
        .await
        .expect("the caller")
        .status
        .and_then(|status| status.pod_ip)
        .and_then(|ip| ip.parse().ok())
        .expect("the caller has a pod IP");
    assert!(
        caller_ip.to_string().starts_with("10.244.1."),
        "{caller_ip}"
    );
    let server_logs = cluster.logs("server", "server").await;
    assert!(
        server_logs.contains(&format!("{caller_ip}:")),
        "the server saw the caller's pod IP {caller_ip}:\n{server_logs}"
    );
}
