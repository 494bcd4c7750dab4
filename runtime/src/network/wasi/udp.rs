//! wasi:sockets/udp and udp-create-socket over the pod network: datagrams within the pod
//! and between pods of the node (see `network/udp.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable};

use super::bindings::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use super::bindings::udp::{self, IncomingDatagram, OutgoingDatagram};
use super::bindings::udp_create_socket;
use super::network::{NetworkCapability, family_matches, from_socket_address, to_socket_address};
use super::{PodSocketsView, SocketError, SocketResult};
use crate::network::pod::{PodNetwork, UdpPortLease, canonical};
use crate::network::udp::{Datagram, DatagramInbox};

/// The largest datagram UDP carries.
const MAX_DATAGRAM: usize = 65_507;
/// How many datagrams one `check-send` admits.
const SEND_PERMITS: u64 = 64;

struct Bound {
    lease: UdpPortLease,
    inbox: Arc<DatagramInbox>,
    /// Set by `stream(some(address))`: the socket only talks to that peer.
    peer: Option<SocketAddr>,
}

pub struct GuestUdpSocket {
    pod: Arc<PodNetwork>,
    family: IpAddressFamily,
    bound: Option<Bound>,
    bind_in_progress: bool,
    hop_limit: u8,
    receive_buffer_size: u64,
    send_buffer_size: u64,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for GuestUdpSocket {
    async fn ready(&mut self) {}
}

pub struct IncomingDatagramStream {
    inbox: Arc<DatagramInbox>,
    peer: Option<SocketAddr>,
    family: IpAddressFamily,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for IncomingDatagramStream {
    async fn ready(&mut self) {
        self.inbox.ready().await;
    }
}

pub struct OutgoingDatagramStream {
    pod: Arc<PodNetwork>,
    /// The bound address; when unspecified, each datagram's source is the pod's address
    /// on the destination's side (loopback for loopback, else the pod IP), as a kernel
    /// picks it.
    source: SocketAddr,
    peer: Option<SocketAddr>,
    family: IpAddressFamily,
    permits: u64,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for OutgoingDatagramStream {
    async fn ready(&mut self) {}
}

fn trap(error: wasmtime::component::ResourceTableError) -> SocketError {
    SocketError::trap(error)
}

impl udp_create_socket::Host for PodSocketsView<'_> {
    async fn create_udp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> SocketResult<Resource<GuestUdpSocket>> {
        let pod = self.pod()?;
        let socket = GuestUdpSocket {
            pod,
            family,
            bound: None,
            bind_in_progress: false,
            hop_limit: 64,
            receive_buffer_size: 212_992,
            send_buffer_size: 212_992,
        };
        self.table.push(socket).map_err(trap)
    }
}

impl udp::Host for PodSocketsView<'_> {}

impl PodSocketsView<'_> {
    fn udp_socket(&mut self, this: &Resource<GuestUdpSocket>) -> SocketResult<&mut GuestUdpSocket> {
        self.table.get_mut(this).map_err(trap)
    }
}

impl udp::HostUdpSocket for PodSocketsView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<GuestUdpSocket>,
        network: Resource<NetworkCapability>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network).map_err(trap)?;
        let address = to_socket_address(local_address);
        let socket = self.udp_socket(&this)?;
        if socket.bound.is_some() || socket.bind_in_progress {
            return Err(ErrorCode::InvalidState.into());
        }
        if !family_matches(&address, socket.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let inbox = Arc::new(DatagramInbox::default());
        let lease = socket
            .pod
            .bind_udp(address.ip(), address.port(), Arc::clone(&inbox))
            .map_err(ErrorCode::from)?;
        socket.bound = Some(Bound {
            lease,
            inbox,
            peer: None,
        });
        socket.bind_in_progress = true;
        Ok(())
    }

    async fn finish_bind(&mut self, this: Resource<GuestUdpSocket>) -> SocketResult<()> {
        let socket = self.udp_socket(&this)?;
        if !socket.bind_in_progress {
            return Err(ErrorCode::NotInProgress.into());
        }
        socket.bind_in_progress = false;
        Ok(())
    }

    async fn stream(
        &mut self,
        this: Resource<GuestUdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        let socket = self.udp_socket(&this)?;
        let family = socket.family;
        let pod = Arc::clone(&socket.pod);
        let peer = match remote_address.map(to_socket_address) {
            Some(peer) if !family_matches(&peer, family) || peer.port() == 0 => {
                return Err(ErrorCode::InvalidArgument.into());
            }
            peer => peer,
        };
        let Some(bound) = socket.bound.as_mut().filter(|_| !socket.bind_in_progress) else {
            return Err(ErrorCode::InvalidState.into());
        };
        bound.peer = peer;
        let incoming = IncomingDatagramStream {
            inbox: Arc::clone(&bound.inbox),
            peer,
            family,
        };
        let outgoing = OutgoingDatagramStream {
            pod,
            source: SocketAddr::new(bound.lease.ip, bound.lease.port),
            peer,
            family,
            permits: 0,
        };
        let incoming = self.table.push_child(incoming, &this).map_err(trap)?;
        let outgoing = self.table.push_child(outgoing, &this).map_err(trap)?;
        Ok((incoming, outgoing))
    }

    async fn local_address(
        &mut self,
        this: Resource<GuestUdpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        let socket = self.udp_socket(&this)?;
        let bound = socket.bound.as_ref().ok_or(ErrorCode::InvalidState)?;
        let address = SocketAddr::new(bound.lease.ip, bound.lease.port);
        Ok(from_socket_address(address, socket.family))
    }

    async fn remote_address(
        &mut self,
        this: Resource<GuestUdpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        let socket = self.udp_socket(&this)?;
        let peer = socket
            .bound
            .as_ref()
            .and_then(|bound| bound.peer)
            .ok_or(ErrorCode::InvalidState)?;
        Ok(from_socket_address(peer, socket.family))
    }

    async fn address_family(
        &mut self,
        this: Resource<GuestUdpSocket>,
    ) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family)
    }

    async fn unicast_hop_limit(&mut self, this: Resource<GuestUdpSocket>) -> SocketResult<u8> {
        Ok(self.udp_socket(&this)?.hop_limit)
    }

    async fn set_unicast_hop_limit(
        &mut self,
        this: Resource<GuestUdpSocket>,
        value: u8,
    ) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.udp_socket(&this)?.hop_limit = value;
        Ok(())
    }

    async fn receive_buffer_size(&mut self, this: Resource<GuestUdpSocket>) -> SocketResult<u64> {
        Ok(self.udp_socket(&this)?.receive_buffer_size)
    }

    async fn set_receive_buffer_size(
        &mut self,
        this: Resource<GuestUdpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.udp_socket(&this)?.receive_buffer_size = value;
        Ok(())
    }

    async fn send_buffer_size(&mut self, this: Resource<GuestUdpSocket>) -> SocketResult<u64> {
        Ok(self.udp_socket(&this)?.send_buffer_size)
    }

    async fn set_send_buffer_size(
        &mut self,
        this: Resource<GuestUdpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        self.udp_socket(&this)?.send_buffer_size = value;
        Ok(())
    }

    async fn subscribe(
        &mut self,
        this: Resource<GuestUdpSocket>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi_io::poll::subscribe(self.table, this)
    }

    async fn drop(&mut self, this: Resource<GuestUdpSocket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl udp::HostIncomingDatagramStream for PodSocketsView<'_> {
    async fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let stream = self.table.get(&this).map_err(trap)?;
        let max = usize::try_from(max_results).unwrap_or(usize::MAX);
        let received = stream
            .inbox
            .take(max)
            .into_iter()
            // A connected socket hears only its peer, as connect(2) makes it.
            .filter(|datagram| stream.peer.is_none_or(|peer| peer == datagram.source))
            .map(|datagram| IncomingDatagram {
                data: datagram.data.to_vec(),
                remote_address: from_socket_address(datagram.source, stream.family),
            })
            .collect();
        Ok(received)
    }

    async fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi_io::poll::subscribe(self.table, this)
    }

    async fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl udp::HostOutgoingDatagramStream for PodSocketsView<'_> {
    async fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        let stream = self.table.get_mut(&this).map_err(trap)?;
        stream.permits = SEND_PERMITS;
        Ok(SEND_PERMITS)
    }

    async fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let stream = self.table.get_mut(&this).map_err(trap)?;
        if datagrams.len() as u64 > stream.permits {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let mut sent = 0;
        for datagram in datagrams {
            let destination = match (datagram.remote_address.map(to_socket_address), stream.peer) {
                (Some(address), Some(peer)) if address != peer => {
                    return Err(ErrorCode::InvalidArgument.into());
                }
                (Some(address), _) => address,
                (None, Some(peer)) => peer,
                (None, None) => return Err(ErrorCode::InvalidArgument.into()),
            };
            if !family_matches(&destination, stream.family) || datagram.data.len() > MAX_DATAGRAM {
                return Err(ErrorCode::InvalidArgument.into());
            }
            deliver(&stream.pod, stream.source, destination, datagram.data);
            stream.permits -= 1;
            sent += 1;
        }
        Ok(sent)
    }

    async fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi_io::poll::subscribe(self.table, this)
    }

    async fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// Hands a datagram to the socket bound at `destination` in this pod or another pod of
/// the node; anything else is dropped, as an unroutable datagram is.
fn deliver(pod: &Arc<PodNetwork>, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
    let destination_ip = canonical(destination.ip());
    let source = if source.ip().is_unspecified() {
        let ip = if destination_ip.is_loopback() {
            destination_ip
        } else {
            IpAddr::V4(pod.ip)
        };
        SocketAddr::new(ip, source.port())
    } else {
        source
    };
    let receiver = match pod.scope_of(destination_ip) {
        Some(scope) => pod.udp_receiver(scope, destination.port()),
        None => match destination_ip {
            IpAddr::V4(ip) => pod
                .node()
                .and_then(|node| node.local_pod(ip))
                .and_then(|other| {
                    other.udp_receiver(crate::network::BindScope::PodIp, destination.port())
                }),
            IpAddr::V6(_) => None,
        },
    };
    if let Some(inbox) = receiver {
        inbox.push(Datagram {
            data: data.into(),
            source,
        });
    }
}
