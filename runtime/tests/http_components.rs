//! wasi:http components served by a real node agent: `examples/http` (a component
//! exporting `wasi:http/incoming-handler`) answers on its pod's port over the pod network,
//! to a container of its own pod over localhost, to another pod over the pod IP and to the
//! node itself; every request gets a fresh instance; a trapping request is a 500 that
//! leaves the container running; and the component's own outgoing requests reach a
//! Service by its DNS name.

mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use support::{TestCluster, container_status, guest_image, phase, terminated};
use wasmkube_runtime::network::PodNetwork;
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

fn http_component() -> String {
    guest_image("http", WasmTarget::P2)
}

fn echo() -> String {
    guest_image("echo", WasmTarget::P2)
}

fn echo_client() -> String {
    guest_image("echo-client", WasmTarget::P2)
}

/// A pod serving the http component (on 8080: its containerPort, or the default).
fn http_pod(name: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
  - name: http
    image: {image}
"#,
        image = http_component(),
    )
}

/// A pod running only echo-client, calling `url` once with `extra` arguments.
fn client_pod(name: &str, url: &str, extra: &str) -> String {
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
    args: ["{url}", "--count", "1"{extra}]
"#,
        client = echo_client(),
    )
}

/// Waits until the pod runs and has an IP.
async fn running_pod_ip(cluster: &TestCluster, name: &str) -> Ipv4Addr {
    let pod = cluster
        .wait_for(name, TIMEOUT, |pod| {
            phase(pod) == "Running"
                && pod
                    .status
                    .as_ref()
                    .is_some_and(|status| status.pod_ip.is_some())
        })
        .await;
    pod.status
        .and_then(|status| status.pod_ip)
        .and_then(|ip| ip.parse().ok())
        .expect("the pod has an IPv4 address")
}

fn pod_network(cluster: &TestCluster, ip: Ipv4Addr) -> Arc<PodNetwork> {
    cluster
        .agent
        .as_ref()
        .expect("the agent runs")
        .network
        .pod(ip)
        .expect("the pod is on this node's network")
}

/// An HTTP/1.1 connection from the node to the pod's port 8080, once the component
/// listens there (it binds just after its container starts).
async fn connect(cluster: &TestCluster, ip: Ipv4Addr) -> SendRequest<Empty<Bytes>> {
    let pod = pod_network(cluster, ip);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match pod.connect_from_node(8080) {
            Ok(stream) => break stream,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the component never listened on 8080: {error}"),
        }
    };
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1.1 handshake");
    tokio::spawn(connection);
    sender
}

/// GETs `path` on the connection: the status and the body as text.
async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> (u16, String) {
    sender
        .ready()
        .await
        .expect("the connection takes another request");
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "web:8080")
        .body(Empty::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_http_component_answers_its_own_pod_over_localhost_and_other_pods_over_its_ip() {
    let cluster = TestCluster::start().await;
    // The component and a client beside it; the declared containerPort is where it is
    // served.
    cluster
        .create_pod(&format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  restartPolicy: Never
  containers:
  - name: http
    image: {image}
    ports:
    - containerPort: 8080
  - name: client
    image: {client}
    args: ["http://localhost:8080/hello", "--count", "3", "--interval-ms", "100", "--wait-for-server-ms", "10000"]
"#,
            image = http_component(),
            client = echo_client(),
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "web").await;
    assert_eq!(code, 0, "the client beside the component failed:\n{logs}");
    assert_eq!(
        logs.matches("200 echo from web: GET /hello").count(),
        3,
        "three answers naming the pod:\n{logs}"
    );

    let ip = running_pod_ip(&cluster, "web").await;
    cluster
        .create_pod(&client_pod(
            "caller",
            &format!("http://{ip}:8080/status/503"),
            r#", "--expect-status", "503""#,
        ))
        .await;
    let (code, logs) = support::client_exit(&cluster, "caller").await;
    assert_eq!(code, 0, "another pod did not get the 503:\n{logs}");
    assert!(
        logs.contains("503 echo from web: GET /status/503"),
        "{logs}"
    );
    let web = cluster.pods().get("web").await.expect("the pod");
    assert!(
        terminated(&web, "http").is_none(),
        "the component keeps serving after its clients are done"
    );
    let served = cluster.logs("web", "http").await;
    assert!(
        served.contains("\"GET /hello\" 200"),
        "the component logs its requests:\n{served}"
    );
}

#[tokio::test]
async fn every_request_gets_a_fresh_instance_and_a_trap_fails_only_its_own_request() {
    let cluster = TestCluster::start().await;
    cluster.create_pod(&http_pod("web")).await;
    let ip = running_pod_ip(&cluster, "web").await;
    // One kept-alive connection carries every request.
    let mut connection = connect(&cluster, ip).await;
    for _ in 0..20 {
        assert_eq!(
            get(&mut connection, "/counter").await,
            (200, "requests handled by this instance: 1\n".to_owned()),
            "an instance never sees an earlier request"
        );
    }
    let (status, body) = get(&mut connection, "/status/503").await;
    assert_eq!(status, 503);
    assert_eq!(body, "echo from web: GET /status/503\n");

    let (status, _) = get(&mut connection, "/panic").await;
    assert_eq!(status, 500, "a trapping handler is the request's 500");
    assert_eq!(
        get(&mut connection, "/counter").await.0,
        200,
        "the next request on the same connection is served"
    );

    let web = cluster.pods().get("web").await.expect("the pod");
    assert_eq!(phase(&web), "Running");
    let status = container_status(&web, "http").expect("the container's status");
    assert_eq!(status.restart_count, 0, "the container never ended");
    assert!(
        status
            .state
            .as_ref()
            .and_then(|state| state.running.as_ref())
            .is_some(),
        "the container is running: {:?}",
        status.state
    );
    let logs = cluster.logs("web", "http").await;
    assert!(
        logs.contains("the /panic route panics on purpose"),
        "the guest's panic message is in the log:\n{logs}"
    );
    assert!(
        logs.contains("wasmkube: \"GET /panic\": the handler trapped"),
        "the trap is in the log:\n{logs}"
    );

    // Deleting the pod stops the server, and with it the connection it was serving.
    let uid = web.metadata.uid.clone().expect("a uid");
    cluster
        .pods()
        .delete("web", &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    tokio::time::timeout(
        TIMEOUT,
        await_condition(cluster.pods(), "web", conditions::is_deleted(&uid)),
    )
    .await
    .expect("the pod goes away once its container has stopped")
    .expect("a watch");
    let closed = async {
        connection.ready().await?;
        connection
            .send_request(
                hyper::Request::get("/counter")
                    .header(hyper::header::HOST, "web:8080")
                    .body(Empty::new())
                    .expect("a request"),
            )
            .await
    };
    assert!(
        closed.await.is_err(),
        "the stopped server's connection is closed"
    );
}

#[tokio::test]
async fn an_http_components_outgoing_requests_reach_a_service_by_its_dns_name() {
    let cluster = TestCluster::start().await;
    cluster
        .create_pod(&format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: echo-server
spec:
  restartPolicy: Never
  containers:
  - name: server
    image: {echo}
    args: ["--port", "8080"]
"#,
            echo = echo(),
        ))
        .await;
    cluster.create_pod(&http_pod("web")).await;
    let echo_ip = running_pod_ip(&cluster, "echo-server").await;
    // A Service without a selector and the EndpointSlice its owner writes for it, as
    // the endpointslice controller would for a selector (no controller runs here).
    let service: Service = serde_yaml::from_str(
        r#"
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  ports:
  - port: 80
    targetPort: 8080
"#,
    )
    .expect("a Service");
    Api::<Service>::namespaced(cluster.client.clone(), "default")
        .create(&PostParams::default(), &service)
        .await
        .expect("the Service is created");
    let slice: EndpointSlice = serde_yaml::from_str(&format!(
        r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  labels:
    kubernetes.io/service-name: echo
addressType: IPv4
endpoints:
- addresses: ["{echo_ip}"]
  conditions:
    ready: true
ports:
- port: 8080
  protocol: TCP
"#
    ))
    .expect("an EndpointSlice");
    Api::<EndpointSlice>::namespaced(cluster.client.clone(), "default")
        .create(&PostParams::default(), &slice)
        .await
        .expect("the EndpointSlice is created");

    let web_ip = running_pod_ip(&cluster, "web").await;
    let mut connection = connect(&cluster, web_ip).await;
    // The node learns of the Service through its watch: until then the name is unknown.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let expected = "proxy from web: 200\necho from echo-server: GET /hello\n";
    loop {
        let answer = get(&mut connection, "/proxy?url=http://echo/hello").await;
        if answer == (200, expected.to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Service never answered through the component: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = get(
        &mut connection,
        "/proxy?url=http://echo.default.svc.cluster.local/full",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            "proxy from web: 200\necho from echo-server: GET /full\n"
        )
    );

    let (status, body) = get(&mut connection, "/proxy?url=https://echo/").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("HttpProtocolError"),
        "https is refused: {body}"
    );
    let (status, body) = get(
        &mut connection,
        "/proxy?url=http://nothing.default.svc.cluster.local/",
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("DnsError"), "an unknown cluster name: {body}");
    // An address outside the cluster, where egress is not allowed (the default).
    let (status, body) = get(&mut connection, "/proxy?url=http://192.0.2.1/").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("DestinationIpProhibited"),
        "egress policy applies: {body}"
    );
    let web: Pod = cluster.pods().get("web").await.expect("the pod");
    assert_eq!(phase(&web), "Running");
}

#[tokio::test]
async fn a_component_whose_port_is_taken_exits_with_the_reason() {
    let cluster = TestCluster::start().await;
    // Two components of one pod on the same port: the second to bind cannot serve.
    cluster
        .create_pod(&format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: twins
spec:
  restartPolicy: Never
  containers:
  - name: first
    image: {image}
  - name: second
    image: {image}
"#,
            image = http_component(),
        ))
        .await;
    let pod = cluster
        .wait_for("twins", TIMEOUT, |pod| {
            terminated(pod, "first").is_some() || terminated(pod, "second").is_some()
        })
        .await;
    let (ended, serving) = if terminated(&pod, "first").is_some() {
        ("first", "second")
    } else {
        ("second", "first")
    };
    let exit = terminated(&pod, ended).expect("one container ended");
    assert_eq!(exit.exit_code, 1);
    assert_eq!(exit.reason.as_deref(), Some("Error"));
    assert_eq!(
        exit.message.as_deref(),
        Some("cannot serve the wasi:http component on port 8080: the address is in use")
    );
    assert!(
        terminated(&pod, serving).is_none(),
        "the container that bound the port serves on"
    );
}
