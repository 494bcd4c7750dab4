//! `kubectl port-forward` along the whole path: the real kubectl (1.33 over SPDY tunneled
//! in a WebSocket, 1.27 over SPDY) to the API server, which tunnels each connection to
//! the node endpoint of a real node agent running the pod, whose connector opens the
//! pod's port. Until the pod network exists, the test's connector reaches loopback ports,
//! where the test runs an echo server.

mod support;

#[path = "../../control-plane/tests/api_http/port_forward/kubectl.rs"]
mod kubectl;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubectl::{PortForward, closed_port, start_echo_server, write_kubeconfig};
use support::{TestCluster, phase, testbox};
use wasmkube_runtime::port_forward::{
    ConnectFuture, PodConnection, PortForwardConnector, PortForwardTarget,
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Reaches `127.0.0.1:{port}` for any pod, and remembers what it was asked for.
#[derive(Debug, Default)]
struct LoopbackConnector {
    targets: Mutex<Vec<PortForwardTarget>>,
}

impl PortForwardConnector for LoopbackConnector {
    fn connect<'call>(&'call self, target: &'call PortForwardTarget) -> ConnectFuture<'call> {
        Box::pin(async move {
            if let Ok(mut targets) = self.targets.lock() {
                targets.push(target.clone());
            }
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", target.port)).await?;
            Ok(Box::new(stream) as Box<dyn PodConnection>)
        })
    }
}

/// A cluster whose node forwards to loopback ports, with a running pod `web`; answers
/// the pod's uid.
async fn cluster_with_running_pod(connector: &Arc<LoopbackConnector>) -> (TestCluster, String) {
    let as_connector: Arc<dyn PortForwardConnector> = connector.clone();
    let cluster = TestCluster::start_with(|config| {
        config.port_forward_connector = Some(as_connector);
    })
    .await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            "metadata: {{name: web}}\nspec:\n  containers:\n  - name: app\n    image: {image}\n    args: [sleep-forever]\n"
        ))
        .await;
    let pod = cluster
        .wait_for("web", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let uid = pod.metadata.uid.unwrap_or_default();
    (cluster, uid)
}

#[tokio::test]
async fn kubectl_reaches_a_pods_port_through_the_node_agent() {
    let connector = Arc::new(LoopbackConnector::default());
    let (cluster, uid) = cluster_with_running_pod(&connector).await;
    let echo_port = start_echo_server().await;
    let kubeconfig = write_kubeconfig(cluster.directory.path(), &cluster.control_plane);

    for kubectl in ["kubectl.1.33", "kubectl.1.27"] {
        let forward = PortForward::start(kubectl, &kubeconfig, "web", echo_port).await;
        let messages: Vec<Vec<u8>> = (0..4)
            .map(|index| format!("{kubectl} connection {index}").into_bytes())
            .collect();
        let answers: std::io::Result<Vec<Vec<u8>>> =
            futures::future::join_all(messages.iter().map(|message| forward.round_trip(message)))
                .await
                .into_iter()
                .collect();
        let errors = forward.stop().await;
        assert_eq!(answers.ok(), Some(messages), "{kubectl} wrote: {errors}");
    }
    let targets = connector.targets.lock().map(|targets| targets.clone());
    let expected = PortForwardTarget {
        namespace: "default".to_owned(),
        pod_name: "web".to_owned(),
        pod_uid: uid,
        port: echo_port,
    };
    assert_eq!(
        targets.ok(),
        Some(vec![expected; 8]),
        "the node was asked for the pod's port once per connection"
    );
}

#[tokio::test]
async fn a_port_nothing_listens_on_is_an_error_in_the_kubelets_words() {
    let connector = Arc::new(LoopbackConnector::default());
    let (cluster, uid) = cluster_with_running_pod(&connector).await;
    let kubeconfig = write_kubeconfig(cluster.directory.path(), &cluster.control_plane);
    let nowhere = closed_port();

    let forward = PortForward::start("kubectl.1.33", &kubeconfig, "web", nowhere).await;
    let answer = forward.round_trip(b"anyone?").await;
    let errors = forward.stop().await;
    assert_eq!(
        answer.ok(),
        Some(Vec::new()),
        "the local connection is closed; kubectl wrote: {errors}"
    );
    let expected = format!("error forwarding port {nowhere} to pod {uid}, uid : ");
    assert!(
        errors.contains(&expected) && errors.contains("refused"),
        "kubectl shows the kubelet's message ({expected}…refused); it wrote: {errors}"
    );
}
