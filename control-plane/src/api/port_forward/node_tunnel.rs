//! Tunnels to a pod's ports through its node's agent: for each forwarded connection the
//! API server opens one upgraded HTTP/1.1 connection to the node endpoint, which
//! answers 101 once it has reached the pod's port and then carries raw bytes both ways.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

use crate::api::pod_log::NodeClient;

/// The `Upgrade` protocol the node endpoint's port-forward route speaks (the runtime
/// crate's `port_forward::PORT_FORWARD_UPGRADE`).
const NODE_TUNNEL_UPGRADE: &str = "wasmkube-port-forward";

/// How long the node may take to reach the pod's port and answer.
const NODE_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the node's refusal is read: a one-line message.
const MAX_REFUSAL_BYTES: usize = 50_000;

/// A connection to a pod's port, through its node.
pub type Tunnel = TokioIo<Upgraded>;

/// Where the tunnels of one port-forward request go.
pub struct PodTunnels {
    pub client: NodeClient,
    pub node: String,
    /// The node endpoint's `host:port`.
    pub authority: String,
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: String,
}

/// The error and its causes on one line.
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

impl PodTunnels {
    /// Opens a tunnel to `port`, or answers the message for the port-forward error
    /// stream: the node's own (in the kubelet's words) when it could not reach the port.
    pub async fn open(&self, port: u16) -> Result<Tunnel, String> {
        let uri = format!(
            "https://{}/portForward/{}/{}/{}?port={port}",
            self.authority, self.namespace, self.pod_name, self.pod_uid
        );
        open_node_tunnel(
            &self.client,
            &self.node,
            &self.authority,
            &uri,
            NODE_TUNNEL_UPGRADE,
        )
        .await
    }
}

/// Opens an upgraded connection to `uri` on a node endpoint (port-forward, attach), or
/// answers the message for the client: the node's own when it refused.
pub(in crate::api) async fn open_node_tunnel(
    client: &NodeClient,
    node: &str,
    authority: &str,
    uri: &str,
    upgrade: &str,
) -> Result<Tunnel, String> {
    let unreachable = |why: String| {
        format!(
            "error dialing backend: cannot reach the agent of node \"{node}\" at {authority}: {why}"
        )
    };
    let request = Request::post(uri)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, upgrade)
        .body(Empty::<Bytes>::new())
        .map_err(|error| unreachable(format!("cannot build a request for {uri}: {error}")))?;
    let response = tokio::time::timeout(NODE_ANSWER_TIMEOUT, client.request(request))
        .await
        .map_err(|_| unreachable(format!("no answer within {NODE_ANSWER_TIMEOUT:?}")))?
        .map_err(|error| unreachable(error_chain(&error)))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return hyper::upgrade::on(response)
            .await
            .map(TokioIo::new)
            .map_err(|error| unreachable(error_chain(&error)));
    }
    let status = response.status();
    let body = tokio::time::timeout(
        NODE_ANSWER_TIMEOUT,
        Limited::new(response.into_body(), MAX_REFUSAL_BYTES).collect(),
    )
    .await;
    let text = match body {
        Ok(Ok(collected)) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Ok(Err(error)) => format!("the node's answer could not be read: {error}"),
        Err(_) => format!("the node's answer did not arrive within {NODE_ANSWER_TIMEOUT:?}"),
    };
    if text.is_empty() {
        return Err(unreachable(format!("it answered {status}")));
    }
    Err(text)
}
