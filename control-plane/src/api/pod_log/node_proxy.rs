//! Reaching a node's agent, as the API server reaches a kubelet: its address and port
//! come from the Node object's status, and the agent's answer is streamed back to the
//! caller as it arrives.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::api::status::{ApiError, ApiResult};
use crate::store::ObjectKey;

/// The HTTPS client the API server reaches node agents with: it checks their serving
/// certificates against the cluster CA and presents its own client certificate.
pub type NodeClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// How long connecting to a node agent may take before the node counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a node agent may take to begin its answer. A followed log may then stream
/// for as long as the caller keeps reading.
const RESPONSE_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of a node agent's error answer is read, as Kubernetes reads at most this
/// much of a kubelet's.
const MAX_ERROR_BODY_BYTES: usize = 50_000;

pub fn node_client(tls: std::sync::Arc<rustls::ClientConfig>) -> NodeClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_only()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Where a node's agent listens, as `host:port` (IPv6 hosts in brackets).
#[derive(Debug, PartialEq)]
pub struct NodeEndpoint {
    pub authority: String,
}

fn endpoint_unknown(node: &str, why: &str) -> ApiError {
    ApiError::service_unavailable(format!(
        "the agent endpoint of node \"{node}\" is unknown: {why}"
    ))
}

/// The node's agent endpoint from its status: the first InternalIP address, else the
/// first Hostname, and `daemonEndpoints.kubeletEndpoint.Port`.
pub fn node_endpoint(state: &ApiState, node: &str) -> ApiResult<NodeEndpoint> {
    let stored = state
        .storage
        .get(&ObjectKey::new("nodes", "", node))
        .map_err(|error| ApiError::internal(format!("reading node \"{node}\": {error}")))?
        .ok_or_else(|| endpoint_unknown(node, "there is no Node object of that name"))?;
    endpoint_of(&stored.object).map_err(|why| endpoint_unknown(node, why))
}

fn endpoint_of(node: &Value) -> Result<NodeEndpoint, &'static str> {
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let address_of_type = |wanted: &str| {
        addresses
            .iter()
            .filter(|address| address.get("type").and_then(Value::as_str) == Some(wanted))
            .filter_map(|address| address.get("address").and_then(Value::as_str))
            .find(|address| !address.is_empty())
    };
    let host = address_of_type("InternalIP")
        .or_else(|| address_of_type("Hostname"))
        .ok_or("its status.addresses has no InternalIP and no Hostname")?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0)
        .ok_or("its status.daemonEndpoints.kubeletEndpoint.Port is not set")?;
    let authority = if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(NodeEndpoint { authority })
}

/// The error and the errors that caused it, as one line: the legacy client's own
/// message ("client error (Connect)") says little without its sources.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Kubernetes' reason for an HTTP code, for a node agent's error that is not a Status.
fn reason_for_code(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// GETs `path_and_query` from the node's agent and answers with what it sends: a
/// success is streamed through as plain text, chunk by chunk; an error that is a
/// Status is passed on as it is, and any other error becomes a Status with its code.
pub async fn proxy_get(
    client: &NodeClient,
    node: &str,
    endpoint: &NodeEndpoint,
    path_and_query: &str,
) -> ApiResult<Response> {
    let uri = format!("https://{}{path_and_query}", endpoint.authority);
    let request = http::Request::get(&uri)
        .body(Empty::new())
        .map_err(|error| {
            ApiError::internal(format!("cannot build a request for {uri}: {error}"))
        })?;
    let unreachable = |why: String| {
        ApiError::service_unavailable(format!(
            "cannot reach the agent of node \"{node}\" at {}: {why}",
            endpoint.authority
        ))
    };
    let response = tokio::time::timeout(RESPONSE_HEAD_TIMEOUT, client.request(request))
        .await
        .map_err(|_| unreachable(format!("no answer within {RESPONSE_HEAD_TIMEOUT:?}")))?
        .map_err(|error| unreachable(error_chain(&error)))?;
    let (parts, body) = response.into_parts();
    if parts.status.is_success() {
        return Ok((
            parts.status,
            [(header::CONTENT_TYPE, "text/plain")],
            Body::new(body),
        )
            .into_response());
    }
    let read = tokio::time::timeout(
        RESPONSE_HEAD_TIMEOUT,
        Limited::new(body, MAX_ERROR_BODY_BYTES).collect(),
    )
    .await;
    let text = match read {
        Ok(Ok(collected)) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Ok(Err(error)) => format!("the agent's error answer could not be read: {error}"),
        Err(_) => {
            format!("the agent's error answer did not arrive within {RESPONSE_HEAD_TIMEOUT:?}")
        }
    };
    let is_status = serde_json::from_str::<Value>(&text)
        .is_ok_and(|value| value.get("kind").and_then(Value::as_str) == Some("Status"));
    if is_status {
        return Ok((
            parts.status,
            [(header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response());
    }
    let message = match text.trim() {
        "" => format!(
            "the agent of node \"{node}\" answered {} with no explanation",
            parts.status
        ),
        text => text.to_owned(),
    };
    Err(ApiError {
        code: parts.status,
        reason: reason_for_code(parts.status),
        message,
        details: Some(json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_prefers_the_internal_ip_and_brackets_ipv6() {
        let node = |addresses: Value| json!({"status": {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        let both = node(json!([
            {"type": "Hostname", "address": "worker-1"},
            {"type": "InternalIP", "address": "10.0.0.7"},
        ]));
        assert_eq!(
            endpoint_of(&both).map(|endpoint| endpoint.authority),
            Ok("10.0.0.7:10250".to_owned())
        );
        let hostname = node(json!([{"type": "Hostname", "address": "worker-1"}]));
        assert_eq!(
            endpoint_of(&hostname).map(|endpoint| endpoint.authority),
            Ok("worker-1:10250".to_owned())
        );
        let ipv6 = node(json!([{"type": "InternalIP", "address": "fd00::7"}]));
        assert_eq!(
            endpoint_of(&ipv6).map(|endpoint| endpoint.authority),
            Ok("[fd00::7]:10250".to_owned())
        );
        assert!(endpoint_of(&node(json!([{"type": "ExternalIP", "address": "1.2.3.4"}]))).is_err());
        let no_port =
            json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.7"}]}});
        assert_eq!(
            endpoint_of(&no_port),
            Err("its status.daemonEndpoints.kubeletEndpoint.Port is not set")
        );
    }
}
