//! pods/log over real HTTP: refused by the API server as Kubernetes refuses it when the
//! request cannot have logs, and otherwise proxied to the node agent named by the Node
//! object (here a small imitation of the agent's log endpoint) and streamed back.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::support::*;

const NODES: &str = "/api/v1/nodes";

/// The imitation agent's log endpoint: `app` (and any other container) echoes what it
/// was asked, `follower` streams one line, then a second once the test says so,
/// `failing` answers a Status error and `plain` a plain-text one.
async fn container_logs(
    State(release): State<Arc<Notify>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    match container.as_str() {
        "follower" => {
            let lines = futures::stream::unfold(0, move |sent| {
                let release = Arc::clone(&release);
                async move {
                    match sent {
                        0 => Some((Ok::<_, std::io::Error>(Bytes::from("first line\n")), 1)),
                        1 => {
                            release.notified().await;
                            Some((Ok(Bytes::from("second line\n")), 2))
                        }
                        _ => None,
                    }
                }
            });
            Body::from_stream(lines).into_response()
        }
        "failing" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the log of container failing cannot be read", "reason": "InternalError", "code": 500,
            })
            .to_string(),
        )
            .into_response(),
        "plain" => (StatusCode::NOT_FOUND, "no log file for container plain\n").into_response(),
        _ => format!(
            "logs of {namespace}/{pod}/{container}?{}\n",
            query.unwrap_or_default()
        )
        .into_response(),
    }
}

/// Starts the imitation agent on a loopback port; notifying the returned `Notify`
/// releases the second line of `follower`.
async fn start_node_agent(cluster: &Cluster) -> (u16, Arc<Notify>) {
    let release = Arc::new(Notify::new());
    let app = Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .with_state(Arc::clone(&release));
    let port = crate::tls::serve_node_agent(&cluster.plane, app).await;
    (port, release)
}

/// Registers a Node whose status says where its agent listens (`port` None: nowhere).
async fn register_node(cluster: &Cluster, name: &str, port: Option<u16>) {
    cluster
        .create(
            NODES,
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}),
        )
        .await;
    let mut status = json!({"addresses": [
        {"type": "Hostname", "address": "localhost"},
        {"type": "InternalIP", "address": "127.0.0.1"},
    ]});
    if let Some(port) = port {
        status["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": port}});
    }
    cluster
        .merge_patch(
            &format!("{NODES}/{name}/status"),
            &json!({ "status": status }),
        )
        .await
        .expect(200);
}

fn running(name: &str) -> Value {
    json!({
        "name": name, "image": "registry.example/app:1", "imageID": "", "ready": true,
        "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}},
    })
}

/// A pod on `node` with the imitation agent's containers, all running, and `app` as
/// its default container.
async fn create_running_pod(cluster: &Cluster, name: &str, node: &str) {
    let containers: Vec<Value> = ["app", "follower", "failing", "plain"]
        .iter()
        .map(|container| json!({"name": container, "image": "registry.example/app:1"}))
        .collect();
    cluster
        .create(
            PODS,
            &json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "annotations": {"kubectl.kubernetes.io/default-container": "app"}},
                "spec": {"nodeName": node, "containers": containers},
            }),
        )
        .await;
    let statuses: Vec<Value> = ["app", "follower", "failing", "plain"]
        .iter()
        .map(|container| running(container))
        .collect();
    cluster
        .merge_patch(
            &format!("{PODS}/{name}/status"),
            &json!({"status": {"phase": "Running", "containerStatuses": statuses}}),
        )
        .await
        .expect(200);
}

#[tokio::test]
async fn logs_are_proxied_from_the_nodes_agent_with_the_options_passed_on() {
    let cluster = start_cluster().await;
    let (port, _release) = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", Some(port)).await;
    create_running_pod(&cluster, "web", "node-1").await;

    let reply = cluster.get(&format!("{PODS}/web/log")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain");
    assert_eq!(reply.body, "logs of default/web/app?\n");

    let reply = cluster
        .get(&format!(
            "{PODS}/web/log?container=app&tailLines=5&timestamps=true&limitBytes=100&sinceSeconds=60&pretty=true"
        ))
        .await;
    assert_eq!(
        reply.body,
        "logs of default/web/app?timestamps=true&sinceSeconds=60&tailLines=5&limitBytes=100\n"
    );
}

#[tokio::test]
async fn a_followed_log_streams_each_chunk_as_the_agent_sends_it() {
    let cluster = start_cluster().await;
    let (port, release) = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", Some(port)).await;
    create_running_pod(&cluster, "web", "node-1").await;

    let client = crate::tls::admin_client::<Empty<Bytes>>(&cluster.plane);
    let request =
        http::Request::get(cluster.uri(&format!("{PODS}/web/log?container=follower&follow=true")))
            .body(Empty::new())
            .expect("a well-formed request");
    let response = client.request(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let next_chunk = async |body: &mut hyper::body::Incoming| {
        let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
            .await
            .expect("a chunk in time")
            .map(|frame| frame.expect("a readable chunk"));
        frame.and_then(|frame| frame.into_data().ok())
    };
    // The agent has not finished: the first line can only have come through unbuffered.
    assert_eq!(
        next_chunk(&mut body).await,
        Some(Bytes::from("first line\n"))
    );
    release.notify_one();
    assert_eq!(
        next_chunk(&mut body).await,
        Some(Bytes::from("second line\n"))
    );
    assert_eq!(
        next_chunk(&mut body).await,
        None,
        "the log ends with the agent's"
    );
}

#[tokio::test]
async fn the_agents_errors_come_back_as_status_objects_with_its_code() {
    let cluster = start_cluster().await;
    let (port, _release) = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", Some(port)).await;
    create_running_pod(&cluster, "web", "node-1").await;

    let status = cluster
        .get(&format!("{PODS}/web/log?container=failing"))
        .await
        .expect_failure(500, "InternalError");
    assert_eq!(
        status["message"],
        "the log of container failing cannot be read"
    );
    let status = cluster
        .get(&format!("{PODS}/web/log?container=plain"))
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(status["message"], "no log file for container plain");
}

#[tokio::test]
async fn a_node_whose_agent_cannot_be_reached_is_service_unavailable() {
    let cluster = start_cluster().await;
    register_node(&cluster, "no-port", None).await;
    create_running_pod(&cluster, "unannounced", "no-port").await;
    create_running_pod(&cluster, "unregistered", "missing").await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.local_addr().expect("its address").port()
    };
    register_node(&cluster, "down", Some(closed_port)).await;
    create_running_pod(&cluster, "stranded", "down").await;
    let unreachable = format!("cannot reach the agent of node \"down\" at 127.0.0.1:{closed_port}");

    for (pod, expected) in [
        (
            "unannounced",
            "the agent endpoint of node \"no-port\" is unknown: its status.daemonEndpoints.kubeletEndpoint.Port is not set",
        ),
        (
            "unregistered",
            "the agent endpoint of node \"missing\" is unknown: there is no Node object of that name",
        ),
        ("stranded", unreachable.as_str()),
    ] {
        let status = cluster
            .get(&format!("{PODS}/{pod}/log"))
            .await
            .expect_failure(503, "ServiceUnavailable");
        assert!(text(&status, "/message").starts_with(expected), "{status}");
    }
}

#[tokio::test]
async fn requests_that_cannot_have_logs_are_refused_without_asking_the_node() {
    let cluster = start_cluster().await;
    let refused = async |path: &str, code: u16, reason: &str| {
        text(
            &cluster
                .request(Method::GET, path, &[], "")
                .await
                .expect_failure(code, reason),
            "/message",
        )
    };
    let two_containers = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pair"},
        "spec": {
            "nodeName": "node-1",
            "initContainers": [{"name": "setup", "image": "registry.example/app:1"}],
            "containers": [
                {"name": "app", "image": "registry.example/app:1"},
                {"name": "sidecar", "image": "registry.example/app:1"},
            ],
        },
    });
    cluster.create(PODS, &two_containers).await;
    assert_eq!(
        refused(&format!("{PODS}/pair/log"), 400, "BadRequest").await,
        "a container name must be specified for pod pair, choose one of: [app sidecar] or one of the init containers: [setup]"
    );
    assert_eq!(
        refused(&format!("{PODS}/pair/log?container=db"), 400, "BadRequest").await,
        "container db is not valid for pod pair"
    );
    assert_eq!(
        refused(&format!("{PODS}/pair/log?container=app"), 400, "BadRequest").await,
        "container \"app\" in pod \"pair\" is waiting to start: ContainerCreating"
    );
    cluster
        .merge_patch(
            &format!("{PODS}/pair/status"),
            &json!({"status": {"containerStatuses": [
                {"name": "app", "image": "registry.example/app:1", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "CreateContainerError"}}},
                running("sidecar"),
            ]}}),
        )
        .await
        .expect(200);
    assert_eq!(
        refused(&format!("{PODS}/pair/log?container=app"), 400, "BadRequest").await,
        "container \"app\" in pod \"pair\" is waiting to start: CreateContainerError"
    );
    assert_eq!(
        refused(
            &format!("{PODS}/pair/log?container=sidecar&previous=true"),
            400,
            "BadRequest"
        )
        .await,
        "previous terminated container \"sidecar\" in pod \"pair\" not found"
    );
    assert_eq!(
        refused(
            &format!("{PODS}/pair/log?container=sidecar&tailLines=ten"),
            400,
            "BadRequest"
        )
        .await,
        "invalid value \"ten\" for query parameter tailLines: must be a number"
    );
    assert_eq!(
        refused(
            &format!("{PODS}/pair/log?container=sidecar&tailLines=-2"),
            422,
            "Invalid"
        )
        .await,
        "PodLogOptions \"pair\" is invalid: tailLines: Invalid value: -2: must be greater than or equal to 0"
    );

    cluster.create(PODS, &pod("unscheduled")).await;
    assert_eq!(
        refused(&format!("{PODS}/unscheduled/log"), 400, "BadRequest").await,
        "pod unscheduled does not have a host assigned"
    );
    refused(&format!("{PODS}/absent/log"), 404, "NotFound").await;
}
