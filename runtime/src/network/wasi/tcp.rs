//! wasi:sockets/tcp and tcp-create-socket over the pod network: a socket's life as
//! wasi:sockets defines it (unbound → bound → listening, or → connecting → connected),
//! with every address checked against the pod's own and every connection routed by the
//! node.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::mpsc;
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::bindings::network::{ErrorCode, IpAddressFamily, IpSocketAddress};
use super::bindings::tcp::{self, ShutdownType};
use super::bindings::tcp_create_socket;
use super::network::{NetworkCapability, family_matches, from_socket_address, to_socket_address};
use super::streams::{SocketInputStream, SocketOutputStream};
use super::{PodSocketsView, SocketError, SocketResult};
use crate::network::node::connect;
use crate::network::pipe::{PipeReader, PipeWriter, VirtualStream};
use crate::network::{ConnectError, IncomingConnection, PodNetwork, TcpPortLease};

/// Linux's default `somaxconn`, what a listen without a backlog size gets.
const DEFAULT_BACKLOG: usize = 128;

type PendingConnect = Pin<Box<dyn Future<Output = Result<VirtualStream, ConnectError>> + Send>>;

enum TcpState {
    Unbound,
    BindStarted(TcpPortLease),
    Bound(TcpPortLease),
    ListenStarted(Listener),
    Listening(Listener),
    Connecting(Connecting),
    Connected(Connection),
    /// A connect failed: the socket can only be dropped.
    Closed,
}

struct Listener {
    lease: TcpPortLease,
    incoming: mpsc::Receiver<IncomingConnection>,
    /// A connection already taken off the queue while waiting for readiness.
    waiting: Option<IncomingConnection>,
}

struct Connecting {
    local: SocketAddr,
    remote: SocketAddr,
    lease: TcpPortLease,
    pending: PendingConnect,
    outcome: Option<Result<VirtualStream, ConnectError>>,
}

struct Connection {
    local: SocketAddr,
    remote: SocketAddr,
    /// The source port of an outgoing connection; an accepted one uses its listener's.
    _lease: Option<TcpPortLease>,
    reader: Arc<PipeReader>,
    writer: Arc<PipeWriter>,
}

/// Options a guest may set and read back. The virtual network has no keep-alive probes,
/// TTLs or kernel buffers, so they are recorded, validated and reported, not applied.
struct SocketOptions {
    keep_alive_enabled: bool,
    keep_alive_idle_time: u64,
    keep_alive_interval: u64,
    keep_alive_count: u32,
    hop_limit: u8,
    receive_buffer_size: u64,
    send_buffer_size: u64,
    listen_backlog: usize,
}

impl Default for SocketOptions {
    fn default() -> Self {
        const SECOND: u64 = 1_000_000_000;
        SocketOptions {
            keep_alive_enabled: false,
            keep_alive_idle_time: 7200 * SECOND,
            keep_alive_interval: 75 * SECOND,
            keep_alive_count: 9,
            hop_limit: 64,
            receive_buffer_size: crate::network::pipe::PIPE_CAPACITY as u64,
            send_buffer_size: crate::network::pipe::PIPE_CAPACITY as u64,
            listen_backlog: DEFAULT_BACKLOG,
        }
    }
}

pub struct GuestTcpSocket {
    pod: Arc<PodNetwork>,
    family: IpAddressFamily,
    state: TcpState,
    options: SocketOptions,
}

impl GuestTcpSocket {
    fn new(pod: Arc<PodNetwork>, family: IpAddressFamily) -> Self {
        GuestTcpSocket {
            pod,
            family,
            state: TcpState::Unbound,
            options: SocketOptions::default(),
        }
    }

    fn accepted(
        pod: Arc<PodNetwork>,
        family: IpAddressFamily,
        incoming: IncomingConnection,
    ) -> Self {
        let VirtualStream { reader, writer } = incoming.stream;
        GuestTcpSocket {
            pod,
            family,
            state: TcpState::Connected(Connection {
                local: incoming.local,
                remote: incoming.remote,
                _lease: None,
                reader: Arc::new(reader),
                writer: Arc::new(writer),
            }),
            options: SocketOptions::default(),
        }
    }

    fn local_address(&self) -> SocketResult<SocketAddr> {
        let lease = match &self.state {
            TcpState::Bound(lease) | TcpState::BindStarted(lease) => lease,
            TcpState::ListenStarted(listener) | TcpState::Listening(listener) => &listener.lease,
            TcpState::Connecting(connecting) => return Ok(connecting.local),
            TcpState::Connected(connection) => return Ok(connection.local),
            TcpState::Unbound | TcpState::Closed => return Err(ErrorCode::InvalidState.into()),
        };
        Ok(SocketAddr::new(lease.ip, lease.port))
    }

    /// Drives a pending connect as far as it goes without waiting.
    fn poll_connect_now(connecting: &mut Connecting) {
        if connecting.outcome.is_none()
            && let Some(outcome) = connecting.pending.as_mut().now_or_never()
        {
            connecting.outcome = Some(outcome);
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for GuestTcpSocket {
    async fn ready(&mut self) {
        match &mut self.state {
            TcpState::Connecting(connecting) if connecting.outcome.is_none() => {
                let outcome = connecting.pending.as_mut().await;
                connecting.outcome = Some(outcome);
            }
            TcpState::Listening(listener) if listener.waiting.is_none() => {
                listener.waiting = listener.incoming.recv().await;
            }
            _ => {}
        }
    }
}

fn trap(error: wasmtime::component::ResourceTableError) -> SocketError {
    SocketError::trap(error)
}

impl PodSocketsView<'_> {
    fn socket(&mut self, this: &Resource<GuestTcpSocket>) -> SocketResult<&mut GuestTcpSocket> {
        self.table.get_mut(this).map_err(trap)
    }
}

impl tcp_create_socket::Host for PodSocketsView<'_> {
    async fn create_tcp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> SocketResult<Resource<GuestTcpSocket>> {
        let pod = self.pod()?;
        self.table
            .push(GuestTcpSocket::new(pod, family))
            .map_err(trap)
    }
}

impl tcp::Host for PodSocketsView<'_> {}

impl tcp::HostTcpSocket for PodSocketsView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<GuestTcpSocket>,
        network: Resource<NetworkCapability>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network).map_err(trap)?;
        let address = to_socket_address(local_address);
        let socket = self.socket(&this)?;
        if !matches!(socket.state, TcpState::Unbound) {
            return Err(ErrorCode::InvalidState.into());
        }
        if !family_matches(&address, socket.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let lease = socket
            .pod
            .bind_tcp(address.ip(), address.port())
            .map_err(ErrorCode::from)?;
        socket.state = TcpState::BindStarted(lease);
        Ok(())
    }

    async fn finish_bind(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<()> {
        let socket = self.socket(&this)?;
        match std::mem::replace(&mut socket.state, TcpState::Closed) {
            TcpState::BindStarted(lease) => {
                socket.state = TcpState::Bound(lease);
                Ok(())
            }
            other => {
                socket.state = other;
                Err(ErrorCode::NotInProgress.into())
            }
        }
    }

    async fn start_connect(
        &mut self,
        this: Resource<GuestTcpSocket>,
        network: Resource<NetworkCapability>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.table.get(&network).map_err(trap)?;
        let remote = to_socket_address(remote_address);
        let socket = self.socket(&this)?;
        if !family_matches(&remote, socket.family) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let remote = SocketAddr::new(crate::network::pod::canonical(remote.ip()), remote.port());
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let lease = match std::mem::replace(&mut socket.state, TcpState::Closed) {
            TcpState::Unbound => {
                let source_ip = if remote.ip().is_loopback() {
                    remote.ip()
                } else {
                    IpAddr::V4(socket.pod.ip)
                };
                socket
                    .pod
                    .ephemeral_tcp_port(source_ip)
                    .map_err(ErrorCode::from)?
            }
            TcpState::Bound(lease) => lease,
            other => {
                socket.state = other;
                return Err(ErrorCode::InvalidState.into());
            }
        };
        let local_ip = if lease.ip.is_unspecified() {
            if remote.ip().is_loopback() {
                remote.ip()
            } else {
                IpAddr::V4(socket.pod.ip)
            }
        } else {
            lease.ip
        };
        let local = SocketAddr::new(local_ip, lease.port);
        let pod = Arc::clone(&socket.pod);
        let pending: PendingConnect = Box::pin(async move {
            let node = pod.node().ok_or(ConnectError::Unreachable)?;
            connect(&node, Some(&pod), local, remote).await
        });
        let mut connecting = Connecting {
            local,
            remote,
            lease,
            pending,
            outcome: None,
        };
        GuestTcpSocket::poll_connect_now(&mut connecting);
        socket.state = TcpState::Connecting(connecting);
        Ok(())
    }

    async fn finish_connect(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let socket = self.socket(&this)?;
        let TcpState::Connecting(connecting) = &mut socket.state else {
            return Err(ErrorCode::NotInProgress.into());
        };
        GuestTcpSocket::poll_connect_now(connecting);
        let Some(outcome) = connecting.outcome.take() else {
            return Err(ErrorCode::WouldBlock.into());
        };
        let TcpState::Connecting(connecting) =
            std::mem::replace(&mut socket.state, TcpState::Closed)
        else {
            return Err(ErrorCode::InvalidState.into());
        };
        let VirtualStream { reader, writer } = outcome.map_err(ErrorCode::from)?;
        let reader = Arc::new(reader);
        let writer = Arc::new(writer);
        socket.state = TcpState::Connected(Connection {
            local: connecting.local,
            remote: connecting.remote,
            _lease: Some(connecting.lease),
            reader: Arc::clone(&reader),
            writer: Arc::clone(&writer),
        });
        let input: DynInputStream = Box::new(SocketInputStream { reader });
        let output: DynOutputStream = Box::new(SocketOutputStream { writer });
        let input = self.table.push_child(input, &this).map_err(trap)?;
        let output = self.table.push_child(output, &this).map_err(trap)?;
        Ok((input, output))
    }

    async fn start_listen(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<()> {
        let socket = self.socket(&this)?;
        match std::mem::replace(&mut socket.state, TcpState::Closed) {
            TcpState::Bound(lease) => {
                let incoming = socket.pod.listen_tcp(&lease, socket.options.listen_backlog);
                socket.state = TcpState::ListenStarted(Listener {
                    lease,
                    incoming,
                    waiting: None,
                });
                Ok(())
            }
            other => {
                socket.state = other;
                Err(ErrorCode::InvalidState.into())
            }
        }
    }

    async fn finish_listen(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<()> {
        let socket = self.socket(&this)?;
        match std::mem::replace(&mut socket.state, TcpState::Closed) {
            TcpState::ListenStarted(listener) => {
                socket.state = TcpState::Listening(listener);
                Ok(())
            }
            other => {
                socket.state = other;
                Err(ErrorCode::NotInProgress.into())
            }
        }
    }

    async fn accept(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> SocketResult<(
        Resource<GuestTcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        let socket = self.socket(&this)?;
        let family = socket.family;
        let pod = Arc::clone(&socket.pod);
        let TcpState::Listening(listener) = &mut socket.state else {
            return Err(ErrorCode::InvalidState.into());
        };
        let incoming = match listener.waiting.take() {
            Some(incoming) => incoming,
            None => listener
                .incoming
                .try_recv()
                .map_err(|_| ErrorCode::WouldBlock)?,
        };
        let accepted = GuestTcpSocket::accepted(pod, family, incoming);
        let TcpState::Connected(connection) = &accepted.state else {
            return Err(ErrorCode::InvalidState.into());
        };
        let input: DynInputStream = Box::new(SocketInputStream {
            reader: Arc::clone(&connection.reader),
        });
        let output: DynOutputStream = Box::new(SocketOutputStream {
            writer: Arc::clone(&connection.writer),
        });
        let accepted = self.table.push(accepted).map_err(trap)?;
        let input = self.table.push_child(input, &accepted).map_err(trap)?;
        let output = self.table.push_child(output, &accepted).map_err(trap)?;
        Ok((accepted, input, output))
    }

    async fn local_address(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        let socket = self.socket(&this)?;
        Ok(from_socket_address(socket.local_address()?, socket.family))
    }

    async fn remote_address(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> SocketResult<IpSocketAddress> {
        let socket = self.socket(&this)?;
        match &socket.state {
            TcpState::Connected(connection) => {
                Ok(from_socket_address(connection.remote, socket.family))
            }
            _ => Err(ErrorCode::InvalidState.into()),
        }
    }

    async fn is_listening(&mut self, this: Resource<GuestTcpSocket>) -> wasmtime::Result<bool> {
        let socket = self.table.get(&this)?;
        Ok(matches!(socket.state, TcpState::Listening(_)))
    }

    async fn address_family(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family)
    }

    async fn set_listen_backlog_size(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        let socket = self.socket(&this)?;
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        if matches!(
            socket.state,
            TcpState::Connecting(_) | TcpState::Connected(_)
        ) {
            return Err(ErrorCode::InvalidState.into());
        }
        // Like Linux, the backlog is capped rather than refused.
        socket.options.listen_backlog = usize::try_from(value).unwrap_or(4096).min(4096);
        Ok(())
    }

    async fn keep_alive_enabled(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<bool> {
        Ok(self.socket(&this)?.options.keep_alive_enabled)
    }

    async fn set_keep_alive_enabled(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        self.socket(&this)?.options.keep_alive_enabled = value;
        Ok(())
    }

    async fn keep_alive_idle_time(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u64> {
        Ok(self.socket(&this)?.options.keep_alive_idle_time)
    }

    async fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        positive(value)?;
        self.socket(&this)?.options.keep_alive_idle_time = value;
        Ok(())
    }

    async fn keep_alive_interval(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u64> {
        Ok(self.socket(&this)?.options.keep_alive_interval)
    }

    async fn set_keep_alive_interval(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        positive(value)?;
        self.socket(&this)?.options.keep_alive_interval = value;
        Ok(())
    }

    async fn keep_alive_count(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u32> {
        Ok(self.socket(&this)?.options.keep_alive_count)
    }

    async fn set_keep_alive_count(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u32,
    ) -> SocketResult<()> {
        positive(u64::from(value))?;
        self.socket(&this)?.options.keep_alive_count = value;
        Ok(())
    }

    async fn hop_limit(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u8> {
        Ok(self.socket(&this)?.options.hop_limit)
    }

    async fn set_hop_limit(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u8,
    ) -> SocketResult<()> {
        positive(u64::from(value))?;
        self.socket(&this)?.options.hop_limit = value;
        Ok(())
    }

    async fn receive_buffer_size(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u64> {
        Ok(self.socket(&this)?.options.receive_buffer_size)
    }

    async fn set_receive_buffer_size(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        positive(value)?;
        self.socket(&this)?.options.receive_buffer_size = value;
        Ok(())
    }

    async fn send_buffer_size(&mut self, this: Resource<GuestTcpSocket>) -> SocketResult<u64> {
        Ok(self.socket(&this)?.options.send_buffer_size)
    }

    async fn set_send_buffer_size(
        &mut self,
        this: Resource<GuestTcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        positive(value)?;
        self.socket(&this)?.options.send_buffer_size = value;
        Ok(())
    }

    async fn subscribe(
        &mut self,
        this: Resource<GuestTcpSocket>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi_io::poll::subscribe(self.table, this)
    }

    async fn shutdown(
        &mut self,
        this: Resource<GuestTcpSocket>,
        shutdown_type: ShutdownType,
    ) -> SocketResult<()> {
        let socket = self.socket(&this)?;
        let TcpState::Connected(connection) = &socket.state else {
            return Err(ErrorCode::InvalidState.into());
        };
        if matches!(shutdown_type, ShutdownType::Send | ShutdownType::Both) {
            connection.writer.close();
        }
        Ok(())
    }

    async fn drop(&mut self, this: Resource<GuestTcpSocket>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

fn positive(value: u64) -> SocketResult<()> {
    if value == 0 {
        Err(ErrorCode::InvalidArgument.into())
    } else {
        Ok(())
    }
}
