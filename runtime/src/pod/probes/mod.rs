//! The kubelet's container probes (its `pkg/kubelet/prober`): startup, liveness and
//! readiness probes of a running app container. Each probe is a task of its own that
//! runs its check every period (exec, httpGet, tcpSocket) and, once a result has come
//! often enough in a row, reports it to the pod worker, which alone writes the pod's
//! status and stops containers that failed liveness or startup.
//!
//! A pod's ports are not the node's ports: network probes reach them only through a
//! [`PodPortConnector`], which the pod network provides. Without one, httpGet and
//! tcpSocket probes report an error (as the kubelet reports a probe it cannot run) and
//! never change the container's state.

mod events;
mod exec;
mod http_get;
mod prober;
mod results;
mod spec;
mod tcp_socket;
#[cfg(test)]
mod test_connectors;
mod tls;

use std::io;
use std::net::IpAddr;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

pub use events::{ContainerReference, EventType, KubeletEvents};
pub use exec::ExecSandbox;
pub use prober::{ProbeTarget, start_container_probes};
pub use results::{ContainerProbes, ProbeReport};
pub use spec::{ContainerProbeSpecs, ProbeKind};

/// A byte stream to a port of a pod, as the pod network hands it out.
pub trait ProbeConnection: AsyncRead + AsyncWrite + Send + Unpin {}

impl<Stream> ProbeConnection for Stream where Stream: AsyncRead + AsyncWrite + Send + Unpin {}

/// How the node reaches one pod's ports; the pod network implements it for each pod.
pub trait PodPortConnector: Send + Sync {
    /// The pod's IP address: what an httpGet probe without a `host` puts in its URL and
    /// its Host header, and the only host a probe may name.
    fn pod_ip(&self) -> IpAddr;

    /// Opens a TCP connection to `port` of the pod. The error's text ends up in the
    /// probe's failure message (as `connect: <error>`), so "connection refused" should
    /// read as such.
    fn connect(&self, port: u16) -> BoxFuture<'_, io::Result<Box<dyn ProbeConnection>>>;
}

/// Why an httpGet or tcpSocket probe cannot run on a node without a pod network.
const NO_POD_NETWORK: &str =
    "this node has no pod network yet, so it cannot reach the container's ports";

/// The host a network probe names, as its URL and Host header show it: its `host`, or the
/// pod's IP. A host other than the pod is refused, since the connector reaches only the
/// pod's own ports (the kubelet, on the host network, could reach any address).
fn probe_host(host: Option<&str>, connector: &dyn PodPortConnector) -> Result<String, String> {
    let pod_ip = connector.pod_ip();
    match host {
        None => Ok(pod_ip.to_string()),
        Some(host)
            if host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                == Ok(pod_ip) =>
        {
            Ok(pod_ip.to_string())
        }
        Some(host) => Err(format!(
            "probing host {host:?} is not supported: this node reaches only the pod's own IP ({pod_ip})"
        )),
    }
}

/// `host:port`, with an IPv6 address in brackets, as Go's `net.JoinHostPort` writes it.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
