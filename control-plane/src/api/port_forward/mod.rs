//! pods/portforward: `kubectl port-forward`. The request is checked as the API server
//! (the pod, its node) and kubectl (the pod runs) check it, then upgraded to the
//! protocol the client asked for, which the API server speaks itself: SPDY/3.1 directly
//! (`Upgrade: SPDY/3.1`), SPDY/3.1 tunneled in a WebSocket (kubectl 1.31 and later try
//! that first), or the WebSocket channel protocol (`v4.channel.k8s.io`, as kube-rs
//! uses). Each forwarded connection becomes one tunnel to the node's agent, which
//! reaches the pod's port (`node_tunnel`).

pub(super) mod node_tunnel;
pub(super) mod spdy;
pub(super) mod websocket;

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::ApiState;
use super::get_list::read_object;
use super::pod_log::node_endpoint;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use node_tunnel::PodTunnels;

/// The port-forward subprotocol (`X-Stream-Protocol-Version`).
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// The `Upgrade` token of SPDY/3.1.
const SPDY_UPGRADE: &str = "SPDY/3.1";
const STREAM_PROTOCOL_VERSION_HEADER: &str = "x-stream-protocol-version";
/// The WebSocket subprotocol of SPDY tunneled in a WebSocket.
const SPDY_TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The WebSocket channel protocol (binary), the one kube-rs asks for.
const CHANNEL_PROTOCOL: &str = "v4.channel.k8s.io";
const WEBSOCKET_KEY_HEADER: &str = "sec-websocket-key";
const WEBSOCKET_ACCEPT_HEADER: &str = "sec-websocket-accept";
const WEBSOCKET_PROTOCOL_HEADER: &str = "sec-websocket-protocol";

/// The protocol a port-forward request is upgraded to.
#[derive(Debug, PartialEq)]
enum Protocol {
    Spdy,
    SpdyOverWebSocket {
        accept: String,
    },
    Channels {
        accept: String,
        /// The subprotocol to confirm, when the client named one.
        subprotocol: Option<&'static str>,
        ports: Vec<u16>,
    },
}

pub(super) fn header_values(
    headers: &HeaderMap,
    name: impl header::AsHeaderName,
) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// Whether the request asks to switch protocols to `protocol`.
pub(super) fn upgrades_to(headers: &HeaderMap, protocol: &str) -> bool {
    let connection_upgrade = header_values(headers, header::CONNECTION)
        .any(|token| token.eq_ignore_ascii_case("upgrade"));
    connection_upgrade
        && header_values(headers, header::UPGRADE).any(|token| token.eq_ignore_ascii_case(protocol))
}

/// The protocol of the request's upgrade: SPDY negotiated as `httpstream.Handshake`
/// does, or a WebSocket.
fn negotiate(headers: &HeaderMap, query: Option<&str>) -> ApiResult<Protocol> {
    if upgrades_to(headers, "websocket") {
        return negotiate_websocket(headers, query);
    }
    if !upgrades_to(headers, SPDY_UPGRADE) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let offered: Vec<&str> = header_values(headers, STREAM_PROTOCOL_VERSION_HEADER).collect();
    if offered.is_empty() {
        return Err(ApiError::bad_request(
            "unable to upgrade: X-Stream-Protocol-Version is required",
        ));
    }
    if !offered.contains(&PORT_FORWARD_PROTOCOL) {
        return Err(ApiError {
            code: StatusCode::FORBIDDEN,
            reason: "Forbidden",
            message: format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{PORT_FORWARD_PROTOCOL}]",
                offered.join(" ")
            ),
            details: Some(json!({})),
        });
    }
    Ok(Protocol::Spdy)
}

fn negotiate_websocket(headers: &HeaderMap, query: Option<&str>) -> ApiResult<Protocol> {
    let accept = headers
        .get(WEBSOCKET_KEY_HEADER)
        .and_then(|key| key.to_str().ok())
        .filter(|key| !key.trim().is_empty())
        .map(websocket::accept_key)
        .ok_or_else(|| ApiError::bad_request("unable to upgrade: Sec-WebSocket-Key is required"))?;
    let offered: Vec<&str> = header_values(headers, WEBSOCKET_PROTOCOL_HEADER).collect();
    if offered.contains(&SPDY_TUNNEL_PROTOCOL) {
        return Ok(Protocol::SpdyOverWebSocket { accept });
    }
    if offered.is_empty() || offered.contains(&CHANNEL_PROTOCOL) {
        return Ok(Protocol::Channels {
            accept,
            subprotocol: (!offered.is_empty()).then_some(CHANNEL_PROTOCOL),
            ports: requested_ports(query)?,
        });
    }
    Err(ApiError::bad_request(format!(
        "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{SPDY_TUNNEL_PROTOCOL} {CHANNEL_PROTOCOL}]",
        offered.join(" ")
    )))
}

/// The `ports` of the query, repeated or comma-separated, each checked as the kubelet
/// checks a port.
fn requested_ports(query: Option<&str>) -> ApiResult<Vec<u16>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))?;
    let mut ports = Vec::new();
    for (_, value) in pairs.iter().filter(|(name, _)| name == "ports") {
        for text in value.split(',').map(str::trim) {
            let port = match text.parse::<u16>() {
                Ok(0) => {
                    return Err(ApiError::bad_request(format!(
                        "port \"{text}\" must be > 0"
                    )));
                }
                Ok(port) => port,
                Err(error) => {
                    return Err(ApiError::bad_request(format!(
                        "unable to parse \"{text}\" as a port: {error}"
                    )));
                }
            };
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request(
            "query parameter \"ports\" is required",
        ));
    }
    if ports.len() > websocket::MAX_PORTS {
        return Err(ApiError::bad_request(format!(
            "at most {} ports can be forwarded over one connection",
            websocket::MAX_PORTS
        )));
    }
    Ok(ports)
}

/// A string field of the pod, empty when absent.
pub(super) fn pod_text(pod: &Value, pointer: &str) -> String {
    pod.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The node the pod is bound to, as every streaming subresource needs it.
pub(super) fn assigned_node(pod: &Value, name: &str) -> ApiResult<String> {
    let node = pod_text(pod, "/spec/nodeName");
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    Ok(node)
}

/// The pod's uid and node, once it is known to run somewhere.
fn running_pod_placement(pod: &Value, name: &str) -> ApiResult<(String, String)> {
    let text = |pointer: &str| pod_text(pod, pointer);
    let node = assigned_node(pod, name)?;
    // kubectl refuses before asking; the API server says the same to other clients, whose
    // connections could otherwise reach nothing.
    let phase = text("/status/phase");
    if phase != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to forward port because pod is not running. Current status={phase}"
        )));
    }
    Ok((text("/metadata/uid"), node))
}

pub async fn port_forward(
    state: &Arc<ApiState>,
    mut request: Request,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let method = request.method();
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        )));
    }
    let name = target.name.as_deref().unwrap_or_default();
    let stored = read_object(state, target)?;
    let (pod_uid, node) = running_pod_placement(&stored.object, name)?;
    let protocol = negotiate(request.headers(), request.uri().query())?;
    let authority = node_endpoint(state, &node)?.authority;
    let tunnels = Arc::new(PodTunnels {
        client: state.node_client.clone(),
        node,
        authority,
        namespace: target.namespace.clone().unwrap_or_default(),
        pod_name: name.to_owned(),
        pod_uid,
    });
    let upgrade = hyper::upgrade::on(&mut request);
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    match &protocol {
        Protocol::Spdy => {
            headers.insert(header::UPGRADE, HeaderValue::from_static(SPDY_UPGRADE));
            headers.insert(
                STREAM_PROTOCOL_VERSION_HEADER,
                HeaderValue::from_static(PORT_FORWARD_PROTOCOL),
            );
        }
        Protocol::SpdyOverWebSocket { accept } | Protocol::Channels { accept, .. } => {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let accept = HeaderValue::from_str(accept)
                .map_err(|error| ApiError::internal(format!("the accept key: {error}")))?;
            headers.insert(WEBSOCKET_ACCEPT_HEADER, accept);
            let subprotocol = match &protocol {
                Protocol::Channels { subprotocol, .. } => *subprotocol,
                _ => Some(SPDY_TUNNEL_PROTOCOL),
            };
            if let Some(subprotocol) = subprotocol {
                headers.insert(
                    WEBSOCKET_PROTOCOL_HEADER,
                    HeaderValue::from_static(subprotocol),
                );
            }
        }
    }
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(error) => {
                tracing::debug!(%error, "a port-forward connection was not upgraded");
                return;
            }
        };
        match protocol {
            Protocol::Spdy => spdy::serve(upgraded, tunnels).await,
            Protocol::SpdyOverWebSocket { .. } => {
                websocket::serve_spdy_tunnel(upgraded, tunnels).await;
            }
            Protocol::Channels { ports, .. } => {
                websocket::serve_channels(upgraded, tunnels, ports).await;
            }
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn spdy_is_negotiated_with_the_port_forward_subprotocol() {
        let spdy = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "portforward.k8s.io"),
        ]);
        assert_eq!(negotiate(&spdy, None).ok(), Some(Protocol::Spdy));
        let plain = headers(&[]);
        assert_eq!(
            negotiate(&plain, None).map_err(|error| error.message),
            Err("Upgrade request required".to_owned())
        );
        let other = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ]);
        let refused = negotiate(&other, None).map_err(|error| (error.code, error.message));
        assert_eq!(
            refused,
            Err((
                StatusCode::FORBIDDEN,
                "unable to upgrade: unable to negotiate protocol: client supports [v4.channel.k8s.io], server accepts [portforward.k8s.io]".to_owned()
            ))
        );
    }

    #[test]
    fn websockets_carry_tunneled_spdy_or_the_channel_protocol() {
        let tunneled = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io"),
        ]);
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned();
        assert_eq!(
            negotiate(&tunneled, None).ok(),
            Some(Protocol::SpdyOverWebSocket {
                accept: accept.clone()
            })
        );
        let channels = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            (
                "sec-websocket-protocol",
                "v5.channel.k8s.io, v4.channel.k8s.io",
            ),
        ]);
        assert_eq!(
            negotiate(&channels, Some("ports=80%2C8080&ports=9090")).ok(),
            Some(Protocol::Channels {
                accept,
                subprotocol: Some(CHANNEL_PROTOCOL),
                ports: vec![80, 8080, 9090],
            })
        );
        let message = |query| negotiate(&channels, query).map_err(|error| error.message);
        assert_eq!(
            message(None),
            Err("query parameter \"ports\" is required".to_owned())
        );
        assert_eq!(
            message(Some("ports=0")),
            Err("port \"0\" must be > 0".to_owned())
        );
        assert!(message(Some("ports=http")).is_err());
    }

    #[test]
    fn only_a_running_pod_on_a_node_is_forwarded_to() {
        let pod = |node: &str, phase: &str| json!({"metadata": {"uid": "u-1"}, "spec": {"nodeName": node}, "status": {"phase": phase}});
        assert_eq!(
            running_pod_placement(&pod("node-1", "Running"), "web").ok(),
            Some(("u-1".to_owned(), "node-1".to_owned()))
        );
        assert_eq!(
            running_pod_placement(&pod("", "Pending"), "web").map_err(|error| error.message),
            Err("pod web does not have a host assigned".to_owned())
        );
        assert_eq!(
            running_pod_placement(&pod("node-1", "Pending"), "web").map_err(|error| error.message),
            Err(
                "unable to forward port because pod is not running. Current status=Pending"
                    .to_owned()
            )
        );
    }
}
