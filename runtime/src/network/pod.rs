//! One pod's network: its IP, and the ports its containers have bound. Containers of a
//! pod share it, as containers of a Kubernetes pod share a network namespace, so a
//! listener in one container is reachable from another over loopback, and the same port
//! in two pods never collides: each pod has a port table of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::mpsc;

use super::node::NodeNetworkShared;
use super::pipe::{VirtualStream, connected_pair};
use super::udp::DatagramInbox;
use super::{ConnectError, PodIdentity, Transport};

/// The ports the kernel hands out for connections that did not bind one (Linux's
/// `ip_local_port_range`).
const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// Which of the pod's addresses a socket is bound to. A pod has two: loopback (127.0.0.1
/// and ::1 are the same interface here) and its pod IP; the unspecified address means both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindScope {
    Any,
    Loopback,
    PodIp,
}

impl BindScope {
    fn overlaps(self, other: BindScope) -> bool {
        self == other || self == BindScope::Any || other == BindScope::Any
    }
}

/// Why a bind was refused, in the terms of wasi:sockets' error codes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error("the address is in use")]
    AddressInUse,
    #[error("the address is not one of the pod's")]
    AddressNotBindable,
    #[error("no ephemeral port is free")]
    AddressInUseEphemeral,
}

/// A connection waiting in a listener's backlog.
pub struct IncomingConnection {
    pub stream: VirtualStream,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

enum PortUse {
    /// Bound but not listening: the port is taken, nothing is accepted.
    Bound,
    Listening(mpsc::Sender<IncomingConnection>),
}

#[derive(Default)]
struct PortTable {
    tcp: HashMap<(BindScope, u16), PortUse>,
    udp: HashMap<(BindScope, u16), Arc<DatagramInbox>>,
    next_ephemeral: u16,
}

pub struct PodNetwork {
    pub identity: PodIdentity,
    /// The pod's IP, from its node's podCIDR.
    pub ip: Ipv4Addr,
    ports: Mutex<PortTable>,
    node: Weak<NodeNetworkShared>,
}

impl Drop for PodNetwork {
    /// The IP goes back to the pool only once nothing holds the pod's network any more,
    /// whoever lets go last.
    fn drop(&mut self) {
        if let Some(node) = self.node.upgrade() {
            node.release(self.ip);
        }
    }
}

/// A bound TCP port: releases the port when dropped, so a guest's socket going away
/// (closed, or its container killed) frees what it held.
pub struct TcpPortLease {
    pod: Arc<PodNetwork>,
    scope: BindScope,
    /// The address as the socket asked for it (possibly unspecified).
    pub ip: IpAddr,
    pub port: u16,
}

impl Drop for TcpPortLease {
    fn drop(&mut self) {
        self.pod.ports().tcp.remove(&(self.scope, self.port));
    }
}

/// A bound UDP port, released when dropped.
pub struct UdpPortLease {
    pod: Arc<PodNetwork>,
    scope: BindScope,
    /// The address as the socket asked for it (possibly unspecified).
    pub ip: IpAddr,
    pub port: u16,
}

impl Drop for UdpPortLease {
    fn drop(&mut self) {
        self.pod.ports().udp.remove(&(self.scope, self.port));
    }
}

impl PodNetwork {
    pub(super) fn new(
        identity: PodIdentity,
        ip: Ipv4Addr,
        node: Weak<NodeNetworkShared>,
    ) -> PodNetwork {
        PodNetwork {
            identity,
            ip,
            ports: Mutex::new(PortTable {
                next_ephemeral: *EPHEMERAL_PORTS.start(),
                ..PortTable::default()
            }),
            node,
        }
    }

    fn ports(&self) -> MutexGuard<'_, PortTable> {
        self.ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn node(&self) -> Option<Arc<NodeNetworkShared>> {
        self.node.upgrade()
    }

    /// Which of this pod's addresses `ip` is, if any.
    pub fn scope_of(&self, ip: IpAddr) -> Option<BindScope> {
        let ip = canonical(ip);
        if ip.is_unspecified() {
            Some(BindScope::Any)
        } else if ip.is_loopback() {
            Some(BindScope::Loopback)
        } else if ip == IpAddr::V4(self.ip) {
            Some(BindScope::PodIp)
        } else {
            None
        }
    }

    /// Binds a TCP port (0 picks an ephemeral one).
    pub fn bind_tcp(self: &Arc<Self>, ip: IpAddr, port: u16) -> Result<TcpPortLease, BindError> {
        let scope = self.scope_of(ip).ok_or(BindError::AddressNotBindable)?;
        let mut ports = self.ports();
        let port = pick_port(&mut ports, Transport::Tcp, scope, port)?;
        ports.tcp.insert((scope, port), PortUse::Bound);
        Ok(TcpPortLease {
            pod: Arc::clone(self),
            scope,
            ip,
            port,
        })
    }

    /// Turns a bound port into a listener with a backlog of `backlog` connections.
    pub fn listen_tcp(
        &self,
        lease: &TcpPortLease,
        backlog: usize,
    ) -> mpsc::Receiver<IncomingConnection> {
        let (sender, receiver) = mpsc::channel(backlog.max(1));
        self.ports()
            .tcp
            .insert((lease.scope, lease.port), PortUse::Listening(sender));
        receiver
    }

    /// Binds a UDP port (0 picks an ephemeral one), delivering datagrams to `inbox`.
    pub fn bind_udp(
        self: &Arc<Self>,
        ip: IpAddr,
        port: u16,
        inbox: Arc<DatagramInbox>,
    ) -> Result<UdpPortLease, BindError> {
        let scope = self.scope_of(ip).ok_or(BindError::AddressNotBindable)?;
        let mut ports = self.ports();
        let port = pick_port(&mut ports, Transport::Udp, scope, port)?;
        ports.udp.insert((scope, port), inbox);
        Ok(UdpPortLease {
            pod: Arc::clone(self),
            scope,
            ip,
            port,
        })
    }

    /// The inbox of the UDP socket that would receive a datagram sent to `scope:port`.
    pub fn udp_receiver(&self, scope: BindScope, port: u16) -> Option<Arc<DatagramInbox>> {
        let ports = self.ports();
        ports
            .udp
            .get(&(scope, port))
            .or_else(|| ports.udp.get(&(BindScope::Any, port)))
            .cloned()
    }

    /// Hands a new connection to the listener on `scope:port` and returns the
    /// connecting side's end. Refused when nothing listens there or its backlog is full.
    pub fn deliver(
        &self,
        scope: BindScope,
        port: u16,
        remote: SocketAddr,
    ) -> Result<VirtualStream, ConnectError> {
        let listener = {
            let ports = self.ports();
            let find = |scope| match ports.tcp.get(&(scope, port)) {
                Some(PortUse::Listening(sender)) => Some(sender.clone()),
                _ => None,
            };
            find(scope).or_else(|| find(BindScope::Any))
        };
        let Some(listener) = listener else {
            return Err(ConnectError::Refused);
        };
        let local_ip = match scope {
            BindScope::Loopback if remote.is_ipv6() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            BindScope::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
            BindScope::PodIp | BindScope::Any => IpAddr::V4(self.ip),
        };
        let (client_end, server_end) = connected_pair();
        listener
            .try_send(IncomingConnection {
                stream: server_end,
                local: SocketAddr::new(local_ip, port),
                remote,
            })
            .map_err(|_| ConnectError::Refused)?;
        Ok(client_end)
    }

    /// A connection from the node itself (a probe, port-forward, a NodePort, a tunnel) to
    /// this pod's port on its pod IP.
    pub fn connect_from_node(&self, port: u16) -> Result<VirtualStream, ConnectError> {
        let node_address = self
            .node()
            .map(|node| node.node_address())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.deliver(BindScope::PodIp, port, SocketAddr::new(node_address, 0))
    }

    /// A connection from this pod's `source` (an address whose port the caller holds a
    /// lease on) to `destination`, routed as a guest socket's connect is: the pod itself,
    /// a Service, another pod, or the outside world where egress allows. For connections
    /// the node makes on a guest's behalf (its outgoing wasi:http requests).
    pub(crate) async fn connect_from_pod(
        self: &Arc<Self>,
        source: SocketAddr,
        destination: SocketAddr,
    ) -> Result<VirtualStream, ConnectError> {
        let node = self.node().ok_or(ConnectError::Unreachable)?;
        super::node::connect(&node, Some(self), source, destination).await
    }

    /// The cluster as this pod's node sees it, for cluster DNS outside wasi:sockets (a
    /// guest's outgoing wasi:http requests); None once the node's network is gone.
    pub(crate) fn cluster_snapshot(&self) -> Option<Arc<super::cluster_view::ClusterSnapshot>> {
        self.node().map(|node| node.cluster.snapshot())
    }

    /// An ephemeral port for a connection's source address; the caller keeps the lease
    /// for the connection's life.
    pub fn ephemeral_tcp_port(self: &Arc<Self>, ip: IpAddr) -> Result<TcpPortLease, BindError> {
        self.bind_tcp(ip, 0)
    }
}

/// `::ffff:a.b.c.d` is a.b.c.d, and `::1` is loopback like 127.0.0.1.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        IpAddr::V4(_) => ip,
    }
}

fn pick_port(
    ports: &mut PortTable,
    transport: Transport,
    scope: BindScope,
    wanted: u16,
) -> Result<u16, BindError> {
    let taken =
        |ports: &PortTable, port: u16| match transport {
            Transport::Tcp => ports.tcp.keys().any(|(bound_scope, bound_port)| {
                *bound_port == port && bound_scope.overlaps(scope)
            }),
            Transport::Udp => ports.udp.keys().any(|(bound_scope, bound_port)| {
                *bound_port == port && bound_scope.overlaps(scope)
            }),
        };
    if wanted != 0 {
        return if taken(ports, wanted) {
            Err(BindError::AddressInUse)
        } else {
            Ok(wanted)
        };
    }
    let span = usize::from(EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) + 1;
    for _ in 0..span {
        let candidate = ports.next_ephemeral;
        ports.next_ephemeral = if candidate >= *EPHEMERAL_PORTS.end() {
            *EPHEMERAL_PORTS.start()
        } else {
            candidate + 1
        };
        if !taken(ports, candidate) {
            return Ok(candidate);
        }
    }
    Err(BindError::AddressInUseEphemeral)
}
