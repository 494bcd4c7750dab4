//! Connections to the outside world: refused unless the cluster (the server's
//! `--allow-egress`) or the pod's namespace (the label `wasmkube.dev/egress: allowed`)
//! allows them. Allowed ones, and connections to the API server through the `kubernetes`
//! Service (which every pod may make), are the only guest connections that become host
//! sockets, and the node makes them, not the guest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::ConnectError;
use super::node::NodeNetworkShared;
use super::pipe::{VirtualStream, connected_pair};
use super::pod::PodNetwork;

/// The label on a namespace that lets its pods reach outside the cluster.
pub const EGRESS_NAMESPACE_LABEL: &str = "wasmkube.dev/egress";
/// The label's value that allows it.
pub const EGRESS_ALLOWED: &str = "allowed";

/// How long a connection to the outside may take to establish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn connect(
    node: &Arc<NodeNetworkShared>,
    from: Option<&Arc<PodNetwork>>,
    destination: SocketAddr,
) -> Result<VirtualStream, ConnectError> {
    let Some(pod) = from else {
        return Err(ConnectError::Unreachable);
    };
    let namespace = &pod.identity.namespace;
    if !node.cluster.snapshot().egress.allows(namespace) {
        tracing::warn!(
            pod = %format!("{namespace}/{}", pod.identity.name),
            %destination,
            "refused a connection outside the cluster: egress is not allowed for namespace {namespace} \
             (label it {EGRESS_NAMESPACE_LABEL}={EGRESS_ALLOWED}, or start the server with --allow-egress)"
        );
        return Err(ConnectError::EgressDenied);
    }
    dial_host(destination).await
}

/// A host TCP connection made by the node on a guest's behalf, whose guest end is
/// returned: for an allowed egress connection, or the API server's endpoint.
pub(super) async fn dial_host(destination: SocketAddr) -> Result<VirtualStream, ConnectError> {
    let host_stream =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(destination))
            .await
            .map_err(|_| ConnectError::TimedOut)?
            .map_err(|error| ConnectError::from_io(&error))?;
    let _ = host_stream.set_nodelay(true);
    Ok(bridge(host_stream))
}

/// The guest's end of a connection whose other end is a host stream, copied both ways
/// by a task of the node's.
pub(super) fn bridge<S>(mut host_stream: S) -> VirtualStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (guest_end, mut node_end) = connected_pair();
    tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut host_stream, &mut node_end).await;
    });
    guest_end
}
