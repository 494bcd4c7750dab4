//! The pod network, carried entirely by the node agent: the runtime implements
//! wasi:sockets itself (`wasi/`), so a guest's every bind, listen, connect and name
//! lookup goes through its pod's virtual network, never a host socket.
//!
//! - `pod.rs`: one pod's addresses (loopback and its pod IP) and port tables, shared by
//!   its containers.
//! - `pipe.rs`: the in-memory byte streams connections are made of.
//! - `node.rs`: pod IPs from the node's podCIDR, and where a connection goes.
//! - `cluster_view.rs` and `watch.rs`: Services, endpoints, nodes and egress policy as the
//!   node knows them; `dns.rs`: cluster DNS over that view.
//! - `tunnel.rs`: pod-to-pod connections between nodes; `egress.rs`: the outside world;
//!   `node_ports.rs`: NodePort and LoadBalancer Services on the host.

pub mod cluster_view;
mod connectors;
pub mod dns;
pub mod egress;
mod node;
pub mod node_ports;
pub mod pipe;
mod pod;
pub mod tunnel;
pub mod udp;
pub mod wasi;
pub mod watch;

pub use connectors::PodNetworkPortForward;
pub use ipnet::Ipv4Net;
pub use node::{AttachError, NodeNetwork, NodeNetworkSettings};
pub use pipe::VirtualStream;
pub use pod::{BindError, BindScope, IncomingConnection, PodNetwork, TcpPortLease};

/// The pod a network belongs to: for logs, egress policy and DNS's search path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Udp,
}

/// Why a connection could not be made, in the terms of wasi:sockets' error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("connection refused")]
    Refused,
    #[error("no route to the destination")]
    Unreachable,
    #[error("the destination is outside the cluster and egress is not allowed")]
    EgressDenied,
    #[error("the tunnel refused the connection")]
    Denied,
    #[error("the connection timed out")]
    TimedOut,
    #[error("the address cannot be connected to")]
    InvalidAddress,
}

impl ConnectError {
    fn from_io(error: &std::io::Error) -> ConnectError {
        match error.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectError::Refused,
            std::io::ErrorKind::TimedOut => ConnectError::TimedOut,
            _ => ConnectError::Unreachable,
        }
    }

    /// The word a tunnel answers with instead of `OK`.
    fn tunnel_word(self) -> &'static str {
        match self {
            ConnectError::Refused => "REFUSED",
            ConnectError::Unreachable => "UNREACHABLE",
            _ => "DENIED",
        }
    }

    fn from_tunnel_word(word: &str) -> ConnectError {
        match word {
            "REFUSED" => ConnectError::Refused,
            "UNREACHABLE" => ConnectError::Unreachable,
            _ => ConnectError::Denied,
        }
    }
}
