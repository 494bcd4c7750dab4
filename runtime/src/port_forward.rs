//! Port forwarding on the node endpoint, the kubelet's part of `kubectl port-forward`.
//!
//! The API server speaks the client's protocol (SPDY, or WebSocket) and, for each forwarded
//! connection, opens one upgraded HTTP/1.1 connection here:
//! `POST /portForward/{namespace}/{pod}/{uid}?port=N` with `Upgrade: wasmkube-port-forward`.
//! The node asks its [`PortForwardConnector`] for a connection to that port of the pod
//! (only the node can reach a pod's ports) and, once it has one, answers 101 and copies
//! bytes both ways until both sides have finished. A connection that cannot be made is
//! answered with an error whose text is what the kubelet writes on the port-forward error
//! stream, so that kubectl shows the words it would show against a kubelet.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::attach::asks_for_upgrade;

/// The `Upgrade` protocol of the API server's tunnels to the node endpoint.
pub const PORT_FORWARD_UPGRADE: &str = "wasmkube-port-forward";

/// The pod port a forwarded connection is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortForwardTarget {
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: String,
    pub port: u16,
}

/// A byte stream to a pod's port: a TCP stream, or whatever the pod network hands out.
pub trait PodConnection: AsyncRead + AsyncWrite + Send + Unpin {}

impl<Stream> PodConnection for Stream where Stream: AsyncRead + AsyncWrite + Send + Unpin {}

/// What [`PortForwardConnector::connect`] returns.
pub type ConnectFuture<'call> =
    Pin<Box<dyn Future<Output = io::Result<Box<dyn PodConnection>>> + Send + 'call>>;

/// Opens connections to pods' ports; the pod network implements it. Its error's text is
/// shown to the user after kubelet's "error forwarding port N to pod UID, uid : ".
pub trait PortForwardConnector: Send + Sync + fmt::Debug {
    fn connect<'call>(&'call self, target: &'call PortForwardTarget) -> ConnectFuture<'call>;
}

/// The node endpoint's port-forward route. Without a connector, every forward is refused
/// with an error that says so.
pub fn routes(connector: Option<Arc<dyn PortForwardConnector>>) -> Router {
    Router::new()
        .route(
            "/portForward/{namespace}/{pod_name}/{pod_uid}",
            post(forward_port),
        )
        .with_state(connector)
}

/// The port from the `port` query parameter, which must be 1 to 65535 as the kubelet
/// requires.
fn requested_port(query: Option<&str>) -> Result<u16, String> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("port="))
        .ok_or_else(|| "\"port\" query parameter is required".to_owned())?;
    match value.parse::<u16>() {
        Ok(0) => Err(format!("port \"{value}\" must be > 0")),
        Ok(port) => Ok(port),
        Err(error) => Err(format!("unable to parse \"{value}\" as a port: {error}")),
    }
}

async fn forward_port(
    State(connector): State<Option<Arc<dyn PortForwardConnector>>>,
    Path((namespace, pod_name, pod_uid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    mut request: Request,
) -> Response {
    if !asks_for_upgrade(request.headers(), PORT_FORWARD_UPGRADE) {
        return (
            StatusCode::BAD_REQUEST,
            format!("port forwarding needs a connection upgrade to {PORT_FORWARD_UPGRADE}"),
        )
            .into_response();
    }
    let port = match requested_port(query.as_deref()) {
        Ok(port) => port,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let target = PortForwardTarget {
        namespace,
        pod_name,
        pod_uid,
        port,
    };
    let connected = match &connector {
        Some(connector) => connector.connect(&target).await,
        None => Err(io::Error::other(
            "this node has no pod network to forward to",
        )),
    };
    let pod_connection = match connected {
        Ok(pod_connection) => pod_connection,
        Err(error) => {
            // The kubelet's words (its CRI streaming server passes the sandbox as the pod
            // and no uid), so that kubectl prints what it prints against a kubelet.
            let message = format!(
                "error forwarding port {port} to pod {}, uid : {error}",
                target.pod_uid
            );
            tracing::debug!(pod = %target.pod_name, namespace = %target.namespace, %message, "port forward refused");
            return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
    };
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "the port-forward tunnel was not upgraded");
                return;
            }
        };
        let mut tunnel = TokioIo::new(upgraded);
        let mut pod_connection = pod_connection;
        // Each direction's end is passed on as a half-close, so that a client that stops
        // sending still gets the rest of the pod's answer.
        if let Err(error) = tokio::io::copy_bidirectional(&mut tunnel, &mut pod_connection).await {
            tracing::debug!(%error, pod = %target.pod_name, port = target.port, "a forwarded connection ended with an error");
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::UPGRADE,
        HeaderValue::from_static(PORT_FORWARD_UPGRADE),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_must_be_given_and_between_1_and_65535() {
        assert_eq!(requested_port(Some("port=8080")), Ok(8080));
        assert_eq!(requested_port(Some("other=1&port=53")), Ok(53));
        assert_eq!(
            requested_port(None),
            Err("\"port\" query parameter is required".to_owned())
        );
        assert_eq!(
            requested_port(Some("port=0")),
            Err("port \"0\" must be > 0".to_owned())
        );
        assert!(requested_port(Some("port=70000")).is_err());
    }

    #[test]
    fn only_an_upgrade_to_the_tunnel_protocol_is_served() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::UPGRADE,
            HeaderValue::from_static(PORT_FORWARD_UPGRADE),
        );
        assert!(!asks_for_upgrade(&headers, PORT_FORWARD_UPGRADE));
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(asks_for_upgrade(&headers, PORT_FORWARD_UPGRADE));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(!asks_for_upgrade(&headers, PORT_FORWARD_UPGRADE));
    }
}
