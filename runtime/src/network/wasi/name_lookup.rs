//! wasi:sockets/ip-name-lookup: cluster DNS answered in the node (`network/dns.rs`); a
//! name outside the cluster is looked up with the host's resolver only where the pod
//! may reach the outside world.

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use futures::FutureExt;
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable};

use super::bindings::ip_name_lookup;
use super::bindings::network::{ErrorCode, IpAddress};
use super::network::{NetworkCapability, to_ip_address};
use super::{PodSocketsView, SocketError, SocketResult};
use crate::network::dns::{self, Asker, Resolution};

type PendingLookup = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, ErrorCode>> + Send>>;

pub enum ResolveAddressStream {
    Pending(PendingLookup),
    Done(Result<VecDeque<IpAddr>, ErrorCode>),
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        if let ResolveAddressStream::Pending(pending) = self {
            let outcome = pending.as_mut().await;
            *self = ResolveAddressStream::Done(outcome.map(VecDeque::from));
        }
    }
}

fn trap(error: wasmtime::component::ResourceTableError) -> SocketError {
    SocketError::trap(error)
}

/// Whether `name` could be a host name at all (RFC 1123 labels, or an IP literal).
fn valid_name(name: &str) -> bool {
    if name.parse::<IpAddr>().is_ok() {
        return true;
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

impl ip_name_lookup::Host for PodSocketsView<'_> {
    async fn resolve_addresses(
        &mut self,
        network: Resource<NetworkCapability>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        self.table.get(&network).map_err(trap)?;
        let pod = self.pod()?;
        if !valid_name(&name) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let node = pod.node().ok_or(ErrorCode::PermanentResolverFailure)?;
        let cluster = node.cluster.snapshot();
        let asker = Asker {
            namespace: &pod.identity.namespace,
            pod_name: &pod.identity.name,
            pod_ip: pod.ip,
        };
        let stream = match dns::resolve(&name, &asker, &cluster) {
            Resolution::Addresses(addresses) => {
                ResolveAddressStream::Done(Ok(VecDeque::from(addresses)))
            }
            Resolution::NotFound => ResolveAddressStream::Done(Err(ErrorCode::NameUnresolvable)),
            Resolution::External(_) if !cluster.egress.allows(&pod.identity.namespace) => {
                tracing::debug!(
                    pod = %format!("{}/{}", pod.identity.namespace, pod.identity.name),
                    "not resolving {name}: egress is not allowed for the pod's namespace"
                );
                ResolveAddressStream::Done(Err(ErrorCode::NameUnresolvable))
            }
            Resolution::External(name) => {
                let mut pending: PendingLookup = Box::pin(async move {
                    let addresses = tokio::net::lookup_host((name.as_str(), 0))
                        .await
                        .map_err(|_| ErrorCode::NameUnresolvable)?;
                    Ok(addresses.map(|address| address.ip()).collect())
                });
                match pending.as_mut().now_or_never() {
                    Some(outcome) => ResolveAddressStream::Done(outcome.map(VecDeque::from)),
                    None => ResolveAddressStream::Pending(pending),
                }
            }
        };
        self.table.push(stream).map_err(trap)
    }
}

impl ip_name_lookup::HostResolveAddressStream for PodSocketsView<'_> {
    async fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let stream = self.table.get_mut(&this).map_err(trap)?;
        match stream {
            ResolveAddressStream::Pending(_) => Err(ErrorCode::WouldBlock.into()),
            ResolveAddressStream::Done(Err(error)) => Err((*error).into()),
            ResolveAddressStream::Done(Ok(addresses)) => {
                Ok(addresses.pop_front().map(to_ip_address))
            }
        }
    }

    async fn subscribe(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi_io::poll::subscribe(self.table, this)
    }

    async fn drop(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
