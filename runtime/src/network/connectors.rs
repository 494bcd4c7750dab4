//! The node's ways into its pods' ports, for probes and `kubectl port-forward`: a
//! connection from the node to the pod's IP, carried in memory like any other.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{ConnectError, NodeNetwork, PodNetwork};
use crate::pod::probes::{PodPortConnector, ProbeConnection};
use crate::port_forward::{ConnectFuture, PodConnection, PortForwardConnector, PortForwardTarget};

fn io_error(error: ConnectError) -> io::Error {
    let kind = match error {
        ConnectError::Refused => io::ErrorKind::ConnectionRefused,
        ConnectError::TimedOut => io::ErrorKind::TimedOut,
        ConnectError::Unreachable => io::ErrorKind::HostUnreachable,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error.to_string())
}

impl PodPortConnector for PodNetwork {
    fn pod_ip(&self) -> IpAddr {
        IpAddr::V4(self.ip)
    }

    fn connect(&self, port: u16) -> BoxFuture<'_, io::Result<Box<dyn ProbeConnection>>> {
        let connection = self
            .connect_from_node(port)
            .map(|stream| Box::new(stream) as Box<dyn ProbeConnection>)
            .map_err(io_error);
        Box::pin(async move { connection })
    }
}

/// Port-forward into the node's pods, found by uid.
#[derive(Clone)]
pub struct PodNetworkPortForward {
    pub network: NodeNetwork,
}

impl std::fmt::Debug for PodNetworkPortForward {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PodNetworkPortForward")
            .field("node", &self.network.node_name())
            .finish()
    }
}

impl PortForwardConnector for PodNetworkPortForward {
    fn connect<'call>(&'call self, target: &'call PortForwardTarget) -> ConnectFuture<'call> {
        let connection = match self.network.pod_by_uid(&target.pod_uid) {
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("pod {} has no network on this node", target.pod_uid),
            )),
            Some(pod) => pod
                .connect_from_node(target.port)
                .map(|stream| Box::new(stream) as Box<dyn PodConnection>)
                .map_err(io_error),
        };
        Box::pin(async move { connection })
    }
}

impl NodeNetwork {
    /// The network of this node's pod with this uid.
    pub fn pod_by_uid(&self, uid: &str) -> Option<Arc<PodNetwork>> {
        self.shared.pod_by_uid(uid)
    }
}
