//! The `network` resource (the capability a guest passes to bind, connect and name
//! lookup), `instance-network`, and error codes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use wasmtime::component::Resource;

use super::bindings::instance_network;
use super::bindings::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
    Ipv6SocketAddress,
};
use super::{PodSocketsView, SocketError};
use crate::network::{BindError, ConnectError};

/// The pod's network, as a guest holds it.
pub struct NetworkCapability;

impl network::Host for PodSocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        error.downcast()
    }

    async fn network_error_code(
        &mut self,
        _error: Resource<wasmtime_wasi_io::bindings::wasi::io::error::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        // Stream errors of the virtual network carry no OS error to translate.
        Ok(None)
    }
}

impl network::HostNetwork for PodSocketsView<'_> {
    async fn drop(&mut self, this: Resource<NetworkCapability>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl instance_network::Host for PodSocketsView<'_> {
    async fn instance_network(&mut self) -> wasmtime::Result<Resource<NetworkCapability>> {
        Ok(self.table.push(NetworkCapability)?)
    }
}

impl From<ConnectError> for ErrorCode {
    fn from(error: ConnectError) -> ErrorCode {
        match error {
            ConnectError::Refused => ErrorCode::ConnectionRefused,
            ConnectError::Unreachable => ErrorCode::RemoteUnreachable,
            ConnectError::EgressDenied | ConnectError::Denied => ErrorCode::AccessDenied,
            ConnectError::TimedOut => ErrorCode::Timeout,
            ConnectError::InvalidAddress => ErrorCode::InvalidArgument,
        }
    }
}

impl From<BindError> for ErrorCode {
    fn from(error: BindError) -> ErrorCode {
        match error {
            BindError::AddressInUse | BindError::AddressInUseEphemeral => ErrorCode::AddressInUse,
            BindError::AddressNotBindable => ErrorCode::AddressNotBindable,
        }
    }
}

pub fn to_socket_address(address: IpSocketAddress) -> SocketAddr {
    match address {
        IpSocketAddress::Ipv4(v4) => {
            let (a, b, c, d) = v4.address;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), v4.port)
        }
        IpSocketAddress::Ipv6(v6) => {
            let (a, b, c, d, e, f, g, h) = v6.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(a, b, c, d, e, f, g, h),
                v6.port,
                v6.flow_info,
                v6.scope_id,
            ))
        }
    }
}

/// An address as the guest's socket family shows it: an IPv4 address seen by an IPv6
/// socket is IPv4-mapped.
pub fn from_socket_address(address: SocketAddr, family: IpAddressFamily) -> IpSocketAddress {
    match (address, family) {
        (SocketAddr::V4(v4), IpAddressFamily::Ipv4) => {
            let [a, b, c, d] = v4.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: v4.port(),
                address: (a, b, c, d),
            })
        }
        (SocketAddr::V6(v6), IpAddressFamily::Ipv4) => {
            let ip = v6.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
            from_socket_address(SocketAddr::new(IpAddr::V4(ip), v6.port()), family)
        }
        (address, IpAddressFamily::Ipv6) => {
            let ip = match address.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let [a, b, c, d, e, f, g, h] = ip.segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: address.port(),
                flow_info: 0,
                address: (a, b, c, d, e, f, g, h),
                scope_id: 0,
            })
        }
    }
}

pub fn to_ip_address(ip: IpAddr) -> IpAddress {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            IpAddress::Ipv4((a, b, c, d))
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, e, f, g, h] = v6.segments();
            IpAddress::Ipv6((a, b, c, d, e, f, g, h))
        }
    }
}

/// Whether `address` may be used by a socket of `family`, as wasi:sockets requires: an
/// IPv6 socket takes IPv4-mapped addresses, an IPv4 socket only IPv4 ones.
pub fn family_matches(address: &SocketAddr, family: IpAddressFamily) -> bool {
    matches!(
        (address, family),
        (SocketAddr::V4(_), IpAddressFamily::Ipv4) | (SocketAddr::V6(_), IpAddressFamily::Ipv6)
    )
}
