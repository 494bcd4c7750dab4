//! The pod network with real guests written with plain `std::net`: containers of a pod
//! share a loopback, pods never collide on ports, a pod reaches another pod's IP, the
//! host's loopback is out of reach, and UDP works inside a pod.

mod support;

use std::time::Duration;

use support::{TestCluster, guest_image, phase};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

fn echo() -> String {
    guest_image("echo", WasmTarget::P2)
}

fn echo_client() -> String {
    guest_image("echo-client", WasmTarget::P2)
}

/// A pod running the echo server on 8080 and, beside it, a client calling `url`.
fn server_and_client(name: &str, url: &str, count: u32) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
  - name: server
    image: {echo}
    args: ["--port", "8080"]
  - name: client
    image: {client}
    args: ["{url}", "--count", "{count}", "--interval-ms", "100", "--wait-for-server-ms", "10000"]
"#,
        echo = echo(),
        client = echo_client(),
    )
}

/// A pod running only a client calling `url` once.
fn client_only(name: &str, url: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: {client}
    args: ["{url}", "--count", "3", "--interval-ms", "200"]
"#,
        client = echo_client(),
    )
}

#[tokio::test]
async fn containers_of_a_pod_talk_over_localhost_and_ports_do_not_collide_between_pods() {
    let cluster = TestCluster::start().await;
    // The same port in two pods, each reached over its own loopback by every name.
    cluster
        .create_pod(&server_and_client(
            "first",
            "http://localhost:8080/hello",
            3,
        ))
        .await;
    cluster
        .create_pod(&server_and_client(
            "second",
            "http://127.0.0.1:8080/hello",
            3,
        ))
        .await;
    for pod in ["first", "second"] {
        let (code, logs) = support::client_exit(&cluster, pod).await;
        assert_eq!(code, 0, "{pod}'s client failed:\n{logs}");
        assert_eq!(
            logs.matches("200 ").count(),
            3,
            "{pod}'s client logs:\n{logs}"
        );
        assert!(
            logs.contains(pod),
            "{pod}'s server answered, not another pod's:\n{logs}"
        );
        let server = cluster.pods().get(pod).await.expect("the pod");
        assert_eq!(phase(&server), "Running", "both servers kept their port");
    }
    let ip = cluster
        .pods()
        .get("first")
        .await
        .expect("the pod")
        .status
        .and_then(|status| status.pod_ip)
        .expect("the pod has an IP");
    assert!(
        ip.starts_with("10.244.0."),
        "{ip} is from the node's podCIDR"
    );
}

#[tokio::test]
async fn a_pod_reaches_another_pods_ip_and_sees_the_callers_pod_ip() {
    let cluster = TestCluster::start().await;
    cluster
        .create_pod(&server_and_client("server", "http://localhost:8080/", 1))
        .await;
    let server = cluster
        .wait_for("server", TIMEOUT, |pod| {
            pod.status
                .as_ref()
                .and_then(|status| status.pod_ip.as_ref())
                .is_some()
                && phase(pod) == "Running"
        })
        .await;
    let server_ip = server
        .status
        .and_then(|status| status.pod_ip)
        .expect("an IP");
    cluster
        .create_pod(&client_only(
            "caller",
            &format!("http://{server_ip}:8080/from-caller"),
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "caller").await;
    assert_eq!(code, 0, "the caller failed:\n{logs}");
    assert!(logs.contains("server"), "the server pod answered:\n{logs}");
}

#[tokio::test]
async fn the_hosts_loopback_is_out_of_a_pods_reach() {
    let cluster = TestCluster::start().await;
    // A real service on the host's loopback: a pod dialling 127.0.0.1 at its port reaches
    // its own loopback, where nothing listens.
    let host_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a host listener");
    let host_port = host_listener.local_addr().expect("its address").port();
    let accepted = tokio::spawn(async move { host_listener.accept().await.is_ok() });
    cluster
        .create_pod(&client_only(
            "prober",
            &format!("http://127.0.0.1:{host_port}/"),
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "prober").await;
    assert_eq!(code, 1, "the host's service must not answer:\n{logs}");
    assert!(logs.contains("error"), "{logs}");
    assert!(logs.to_lowercase().contains("refused"), "{logs}");
    assert!(
        !accepted.is_finished(),
        "no connection reached the host listener"
    );
    accepted.abort();
}

/// The host's address on its outward interface (no packet is sent: a UDP "connect" only
/// picks the route).
fn host_outward_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    socket
        .connect("8.8.8.8:53")
        .expect("the host has a route out: the egress test needs an address that is not loopback");
    socket.local_addr().expect("its address").ip()
}

/// A minimal HTTP server on the host answering every request with 200 `outside`.
async fn serve_outside(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut connection, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut request = vec![0u8; 4096];
            let _ = connection.read(&mut request).await;
            let _ = connection
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\noutside\n",
                )
                .await;
        });
    }
}

#[tokio::test]
async fn egress_is_refused_unless_the_namespace_allows_it() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Patch, PatchParams};

    let cluster = TestCluster::start().await;
    let host = host_outward_address();
    let listener = tokio::net::TcpListener::bind((host, 0))
        .await
        .expect("a listener on the host's outward address");
    let url = format!("http://{}/", listener.local_addr().expect("its address"));
    let server = tokio::spawn(serve_outside(listener));

    cluster.create_pod(&client_only("refused", &url)).await;
    let (code, logs) = support::client_exit(&cluster, "refused").await;
    assert_eq!(code, 1, "egress must be refused by default:\n{logs}");
    assert!(
        logs.to_lowercase().contains("permission denied"),
        "the refusal is access-denied, not a timeout:\n{logs}"
    );

    let namespaces: kube::Api<Namespace> = kube::Api::all(cluster.client.clone());
    namespaces
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"labels": {"wasmkube.dev/egress": "allowed"}}
            })),
        )
        .await
        .expect("the namespace is labelled");
    // The node learns of the label through its namespace watch.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let name = format!("allowed-{attempt}");
        cluster.create_pod(&client_only(&name, &url)).await;
        let (code, logs) = support::client_exit(&cluster, &name).await;
        if code == 0 {
            assert!(logs.contains("200 outside"), "{logs}");
            break;
        }
        assert!(
            attempt < 5,
            "egress stayed refused after the label:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.abort();
}

#[tokio::test]
async fn udp_datagrams_travel_inside_a_pod_and_between_pods_of_the_node() {
    let cluster = TestCluster::start().await;
    let testbox = support::testbox();
    cluster
        .create_pod(&format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: datagrams
spec:
  restartPolicy: Never
  containers:
  - name: server
    image: {testbox}
    args: ["udp-echo", "5353"]
  - name: client
    image: {testbox}
    args: ["udp-ask", "127.0.0.1:5353", "over loopback"]
"#
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "datagrams").await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains("answer from 127.0.0.1:5353: over loopback"),
        "{logs}"
    );

    let server_ip = cluster
        .pods()
        .get("datagrams")
        .await
        .expect("the pod")
        .status
        .and_then(|status| status.pod_ip)
        .expect("an IP");
    cluster
        .create_pod(&format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: neighbour
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: {testbox}
    args: ["udp-ask", "{server_ip}:5353", "from next door"]
"#
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "neighbour").await;
    assert_eq!(code, 0, "{logs}");
    assert!(
        logs.contains(&format!("answer from {server_ip}:5353: from next door")),
        "{logs}"
    );
}

#[tokio::test]
async fn the_servers_allow_egress_flag_lets_every_pod_out() {
    let api = wasmkube_control_plane::api::ApiOptions {
        allow_egress: true,
        ..Default::default()
    };
    let cluster = TestCluster::start_with_api(api, |_| {}).await;
    let host = host_outward_address();
    let listener = tokio::net::TcpListener::bind((host, 0))
        .await
        .expect("a listener on the host's outward address");
    let url = format!("http://{}/", listener.local_addr().expect("its address"));
    let server = tokio::spawn(serve_outside(listener));
    // The namespace carries no egress label: the cluster-wide policy lets the pod out,
    // once the node has read it (its watch starts with the agent, before any pod).
    let mut attempt = 0;
    loop {
        attempt += 1;
        let name = format!("out-{attempt}");
        cluster.create_pod(&client_only(&name, &url)).await;
        let (code, logs) = support::client_exit(&cluster, &name).await;
        if code == 0 {
            assert!(logs.contains("200 outside"), "{logs}");
            break;
        }
        assert!(
            attempt < 3,
            "egress stayed refused under --allow-egress:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.abort();
}
