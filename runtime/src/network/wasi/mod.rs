//! wasi:sockets, implemented by the runtime over the pod's virtual network and linked in
//! place of wasmtime-wasi's host-network implementation. The rest of WASI (clocks,
//! filesystem, cli, random, io) stays wasmtime-wasi's; these bindings share its wasi:io
//! resource types, so a socket's streams are ordinary wasi:io streams to the guest.

mod name_lookup;
mod network;
mod streams;
mod tcp;
mod udp;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::TrappableError;

pub use name_lookup::ResolveAddressStream;
pub use network::NetworkCapability;
pub use tcp::GuestTcpSocket;
pub use udp::{GuestUdpSocket, IncomingDatagramStream, OutgoingDatagramStream};

use super::PodNetwork;

/// wasi:sockets' `error-code`, or a trap.
pub type SocketError = TrappableError<generated::wasi::sockets::network::ErrorCode>;
type SocketResult<T> = Result<T, SocketError>;

mod generated {
    use super::SocketError;

    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:sockets/imports",
        imports: { default: async | trappable },
        trappable_error_type: {
            "wasi:sockets/network.error-code" => SocketError,
        },
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:sockets/network.network": super::network::NetworkCapability,
            "wasi:sockets/tcp.tcp-socket": super::tcp::GuestTcpSocket,
            "wasi:sockets/udp.udp-socket": super::udp::GuestUdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": super::udp::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": super::udp::OutgoingDatagramStream,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": super::name_lookup::ResolveAddressStream,
        },
        require_store_data_send: true,
    });
}

use generated::wasi::sockets as bindings;
use generated::wasi::sockets::network::ErrorCode;

/// What the socket host functions see of a container's store: its resource table and
/// its pod's network (None for a container that has none, whose sockets are refused).
pub struct PodSocketsView<'a> {
    pub table: &'a mut ResourceTable,
    pub pod: Option<&'a Arc<PodNetwork>>,
}

impl PodSocketsView<'_> {
    fn pod(&self) -> SocketResult<Arc<PodNetwork>> {
        self.pod
            .cloned()
            .ok_or_else(|| ErrorCode::AccessDenied.into())
    }
}

/// A store whose guests may use the pod network.
pub trait PodSocketsState: Send + 'static {
    fn pod_sockets(&mut self) -> PodSocketsView<'_>;
}

struct PodSockets;

impl HasData for PodSockets {
    type Data<'a> = PodSocketsView<'a>;
}

fn view<T: PodSocketsState>(state: &mut T) -> PodSocketsView<'_> {
    state.pod_sockets()
}

/// Adds the wasi:sockets interfaces to a linker that has the rest of WASI.
pub fn add_to_linker<T: PodSocketsState>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::network::add_to_linker::<T, PodSockets>(linker, &Default::default(), view::<T>)?;
    bindings::instance_network::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    bindings::tcp::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    bindings::tcp_create_socket::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    bindings::udp::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    bindings::udp_create_socket::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    bindings::ip_name_lookup::add_to_linker::<T, PodSockets>(linker, view::<T>)?;
    Ok(())
}
