//! HTTP/2 (negotiated with ALPN "h2" in the TLS handshake) on the same listener as
//! HTTP/1.1, which every other test here uses: a client that opens with the HTTP/2
//! preface gets HTTP/2, and can carry a watch and other requests over one connection at
//! once, as client-go does.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use super::support::*;

/// Keeps a broken server from hanging the test; nothing here depends on speed.
const PATIENCE: Duration = Duration::from_secs(30);

struct Http2Client {
    sender: SendRequest<Empty<Bytes>>,
    base: String,
}

impl Http2Client {
    async fn connect(cluster: &Cluster) -> Self {
        let stream = tokio::net::TcpStream::connect(cluster.plane.address)
            .await
            .expect("a connection to the API server");
        let admin = cluster
            .plane
            .admin_identity()
            .expect("the admin's certificate");
        let tls = crate::tls::client_tls(&cluster.plane, Some(&admin), &[b"h2"]);
        let server_name = rustls::pki_types::ServerName::from(cluster.plane.address.ip());
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(server_name, stream)
            .await
            .expect("a TLS handshake with the API server");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("an HTTP/2 handshake");
        tokio::spawn(connection);
        Self {
            sender,
            base: cluster.plane.url(),
        }
    }

    /// Sends a GET on this connection; each call is a new stream beside the others.
    async fn get(&self, path: &str) -> Response<Incoming> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{path}", self.base))
            .body(Empty::new())
            .expect("a well-formed request");
        let response = tokio::time::timeout(PATIENCE, self.sender.clone().send_request(request))
            .await
            .unwrap_or_else(|_| panic!("no response to {path} within {PATIENCE:?}"))
            .unwrap_or_else(|error| panic!("sending the request to {path}: {error}"));
        assert_eq!(response.version(), Version::HTTP_2, "{path}");
        response
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = tokio::time::timeout(PATIENCE, response.into_body().collect())
            .await
            .unwrap_or_else(|_| panic!("no complete response to {path} within {PATIENCE:?}"))
            .expect("reading the response")
            .to_bytes();
        serde_json::from_slice(&body).expect("a JSON body")
    }
}

#[tokio::test]
async fn a_get_and_a_watch_share_one_http2_connection() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("before", json!({})))
        .await;
    let client = Http2Client::connect(&cluster).await;

    let list = client.get_json(CONFIG_MAPS).await;
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(names(&list), ["before", ROOT_CA]);
    let after = text(&list, "/metadata/resourceVersion");

    let response = client
        .get(&format!("{CONFIG_MAPS}?watch=1&resourceVersion={after}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut watch = Watch::new(response.into_body());

    // Each event must arrive as its own write: the watch stays open, so an event held
    // back until more data fills a frame would never come.
    for name in ["first", "second"] {
        let created = cluster
            .create(CONFIG_MAPS, &config_map(name, json!({})))
            .await;
        let event = watch.next_change().await;
        assert_eq!(
            summary(&event),
            (
                "ADDED".to_owned(),
                name.to_owned(),
                text(&created, "/metadata/resourceVersion")
            )
        );
    }

    // The open watch does not hold up other requests on the same connection.
    let object = client.get_json(&format!("{CONFIG_MAPS}/second")).await;
    assert_eq!(text(&object, "/metadata/name"), "second");
    let deleted = cluster.delete(&format!("{CONFIG_MAPS}/first")).await;
    deleted.expect(200);
    let event = watch.next_change().await;
    assert_eq!(event["type"], "DELETED");
    assert_eq!(text(&event, "/object/metadata/name"), "first");
}

#[tokio::test]
async fn a_response_larger_than_what_a_connection_gathers_arrives_whole() {
    let cluster = start_cluster().await;
    // 40 ConfigMaps of 10 KB each: the list is larger than the 256 KiB an HTTP/2
    // connection gathers before it writes without waiting.
    let value = "x".repeat(10 * 1024);
    let mut expected = Vec::new();
    for index in 0..40 {
        let name = format!("big-{index:02}");
        let mut object = config_map(&name, json!({}));
        object["data"] = json!({"value": value});
        cluster.create(CONFIG_MAPS, &object).await;
        expected.push(name);
    }
    // The namespace's own kube-root-ca.crt sorts after them.
    expected.push(ROOT_CA.to_owned());
    let client = Http2Client::connect(&cluster).await;
    let list = client.get_json(CONFIG_MAPS).await;
    assert_eq!(names(&list), expected);
    let items = list["items"].as_array().expect("items");
    assert!(
        items[..40]
            .iter()
            .all(|item| item["data"]["value"] == value.as_str())
    );
    assert!(
        text(&items[40], "/data/ca.crt").starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        items[40]
    );
}
