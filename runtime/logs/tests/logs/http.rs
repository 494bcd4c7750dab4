//! The node endpoint's log route over real HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmkube_container_logs::{ContainerLogWriter, LogStream, routes};

use crate::support::{CONTAINER, NAMESPACE, POD, TestRoot, UID};

const PATIENCE: Duration = Duration::from_secs(10);

/// A node endpoint serving a log root on a loopback port, with a writer for the test
/// container that has logged one line.
struct Endpoint {
    /// Kept so that the log directory outlives the server.
    _root: TestRoot,
    address: SocketAddr,
    client: Client<HttpConnector, Empty<Bytes>>,
    writer: ContainerLogWriter,
}

impl Endpoint {
    async fn start() -> Endpoint {
        let root = TestRoot::with_default_rotation();
        let writer = root
            .logs
            .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
            .unwrap();
        writer.write(LogStream::Stdout, b"hello\n").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = routes(root.logs.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Endpoint {
            _root: root,
            address,
            client,
            writer,
        }
    }

    async fn get(&self, path_and_query: &str) -> hyper::Response<Incoming> {
        let uri = format!("http://{}{path_and_query}", self.address);
        tokio::time::timeout(PATIENCE, self.client.get(uri.parse().unwrap()))
            .await
            .unwrap()
            .unwrap()
    }

    /// The status and whole body of a request that ends.
    async fn get_text(&self, path_and_query: &str) -> (StatusCode, String, String) {
        let response = self.get(path_and_query).await;
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = tokio::time::timeout(PATIENCE, response.into_body().collect())
            .await
            .unwrap()
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_bytes().to_vec()).unwrap(),
        )
    }
}

fn log_path(query: &str) -> String {
    format!("/containerLogs/{NAMESPACE}/{POD}/{CONTAINER}{query}")
}

#[tokio::test]
async fn the_route_serves_the_log_as_text_with_the_options_of_pods_log() {
    let endpoint = Endpoint::start().await;
    endpoint
        .writer
        .write(LogStream::Stdout, b"world\n")
        .unwrap();
    assert_eq!(
        endpoint.get_text(&log_path("")).await,
        (
            StatusCode::OK,
            "text/plain".to_owned(),
            "hello\nworld\n".to_owned()
        )
    );
    assert_eq!(
        endpoint
            .get_text(&log_path("?tailLines=1&container=app"))
            .await
            .2,
        "world\n"
    );
    assert_eq!(endpoint.get_text(&log_path("?limitBytes=3")).await.2, "hel");
    let (_, _, stamped) = endpoint
        .get_text(&log_path("?timestamps=true&tailLines=1"))
        .await;
    let (timestamp, line) = stamped.split_once(' ').unwrap();
    assert_eq!(line, "world\n");
    let logged_at: jiff::Timestamp = timestamp.parse().unwrap();
    let since = logged_at.to_string();
    let query = format!("?sinceTime={}", since.replace(':', "%3A"));
    assert_eq!(endpoint.get_text(&log_path(&query)).await.2, "world\n");
}

#[tokio::test]
async fn a_followed_log_streams_lines_written_after_the_request_and_ends_with_the_writer() {
    let endpoint = Endpoint::start().await;
    let response = endpoint.get(&log_path("?follow=true")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut next_chunk = async || {
        loop {
            let frame = tokio::time::timeout(PATIENCE, body.frame()).await.unwrap();
            match frame {
                Some(frame) => {
                    if let Ok(data) = frame.unwrap().into_data() {
                        return Some(data);
                    }
                }
                None => return None,
            }
        }
    };
    assert_eq!(next_chunk().await.unwrap(), "hello\n");
    endpoint
        .writer
        .write(LogStream::Stdout, b"written while following\n")
        .unwrap();
    assert_eq!(next_chunk().await.unwrap(), "written while following\n");
    endpoint.writer.close();
    assert_eq!(next_chunk().await, None);
}

#[tokio::test]
async fn failures_are_kubernetes_status_objects() {
    let endpoint = Endpoint::start().await;
    let status = |code: u16, reason: &str, message: &str| {
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        })
    };
    let cases = [
        (
            log_path("?tailLines=ten"),
            status(
                400,
                "BadRequest",
                "invalid value \"ten\" for query parameter \"tailLines\": invalid digit found in string",
            ),
        ),
        (
            log_path("?follow=maybe"),
            status(
                400,
                "BadRequest",
                "invalid value \"maybe\" for query parameter \"follow\": must be true, false, 1 or 0",
            ),
        ),
        (
            log_path("?sinceSeconds=0"),
            status(
                400,
                "BadRequest",
                "sinceSeconds: Invalid value: 0: must be greater than 0",
            ),
        ),
        (
            log_path("?previous=1"),
            status(
                400,
                "BadRequest",
                "previous terminated container \"app\" in pod \"web\" not found",
            ),
        ),
        (
            format!("/containerLogs/{NAMESPACE}/other/{CONTAINER}"),
            status(
                404,
                "NotFound",
                "container \"app\" in pod \"other\" has no logs yet",
            ),
        ),
    ];
    for (path, expected) in cases {
        let (code, content_type, body) = endpoint.get_text(&path).await;
        assert_eq!(code.as_u16(), expected["code"], "{path}");
        assert_eq!(content_type, "application/json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            expected,
            "{path}"
        );
    }
    let (code, _, body) = endpoint
        .get_text(&format!("/containerLogs/{NAMESPACE}/..%2Fetc/{CONTAINER}"))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid pod name \\\"../etc\\\""), "{body}");
}
