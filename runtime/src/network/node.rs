//! The node's side of the pod network: pod IPs from the node's podCIDR, and where a
//! connection goes — a pod of this node (in memory), a Service (one of its endpoints), a
//! pod of another node (through that node's tunnel), the API server (the `kubernetes`
//! Service's endpoint, dialled by the node on the host), or the outside world (only where
//! egress is allowed).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use ipnet::Ipv4Net;

use super::cluster_view::ClusterView;
use super::pipe::VirtualStream;
use super::pod::{BindScope, PodNetwork, canonical};
use super::{ConnectError, PodIdentity, egress, tunnel};

/// What the node needs to know to carry its pods' traffic.
#[derive(Clone, Debug)]
pub struct NodeNetworkSettings {
    pub node_name: String,
    /// The node's address as other nodes and the host see it (its InternalIP): the
    /// source address of connections the node itself makes to pods.
    pub node_address: IpAddr,
    /// How the node dials other nodes' tunnels: their certificates checked against the
    /// cluster CA, the node's own client certificate presented.
    pub tunnel_client_tls: Arc<rustls::ClientConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("the node has no podCIDR yet")]
    NoPodCidr,
    #[error("every address of the node's podCIDR {0} is in use")]
    Exhausted(Ipv4Net),
}

pub(super) struct NodeNetworkShared {
    pub(super) settings: NodeNetworkSettings,
    pod_cidr: RwLock<Option<Ipv4Net>>,
    pods_by_ip: RwLock<HashMap<Ipv4Addr, Weak<PodNetwork>>>,
    allocated: Mutex<BTreeSet<Ipv4Addr>>,
    pub(super) cluster: ClusterView,
}

impl NodeNetworkShared {
    pub(super) fn node_address(&self) -> IpAddr {
        self.settings.node_address
    }

    fn allocated(&self) -> MutexGuard<'_, BTreeSet<Ipv4Addr>> {
        self.allocated
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn local_pod(&self, ip: Ipv4Addr) -> Option<Arc<PodNetwork>> {
        self.pods_by_ip
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&ip)
            .and_then(Weak::upgrade)
    }

    pub(super) fn pod_by_uid(&self, uid: &str) -> Option<Arc<PodNetwork>> {
        self.pods_by_ip
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .filter_map(Weak::upgrade)
            .find(|pod| pod.identity.uid == uid)
    }

    pub(super) fn pod_cidr(&self) -> Option<Ipv4Net> {
        *self
            .pod_cidr
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns a pod's IP to the pool: called when the last holder of its network (the
    /// pod worker, a container's socket, a probe) lets go of it.
    pub(super) fn release(&self, ip: Ipv4Addr) {
        let mut pods = self
            .pods_by_ip
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pods.get(&ip).is_some_and(|pod| pod.strong_count() == 0) {
            pods.remove(&ip);
        }
        self.allocated().remove(&ip);
    }
}

/// The node's pod network. Cheap to clone.
#[derive(Clone)]
pub struct NodeNetwork {
    pub(super) shared: Arc<NodeNetworkShared>,
}

impl NodeNetwork {
    pub fn new(settings: NodeNetworkSettings) -> NodeNetwork {
        NodeNetwork {
            shared: Arc::new(NodeNetworkShared {
                settings,
                pod_cidr: RwLock::new(None),
                pods_by_ip: RwLock::new(HashMap::new()),
                allocated: Mutex::new(BTreeSet::new()),
                cluster: ClusterView::default(),
            }),
        }
    }

    pub fn node_name(&self) -> &str {
        &self.shared.settings.node_name
    }

    pub fn node_address(&self) -> IpAddr {
        self.shared.settings.node_address
    }

    /// The node's podCIDR, once the node IPAM controller has given it one.
    pub fn set_pod_cidr(&self, cidr: Ipv4Net) {
        *self
            .shared
            .pod_cidr
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cidr);
    }

    pub fn pod_cidr(&self) -> Option<Ipv4Net> {
        self.shared.pod_cidr()
    }

    pub fn cluster(&self) -> &ClusterView {
        &self.shared.cluster
    }

    /// Gives a pod its network: the IP it already had (a pod adopted after an agent
    /// restart keeps its IP) or the lowest free one, skipping the network address and the
    /// first host address (the gateway's, by convention).
    pub fn attach_pod(
        &self,
        identity: PodIdentity,
        previous_ip: Option<Ipv4Addr>,
    ) -> Result<Arc<PodNetwork>, AttachError> {
        let cidr = self.shared.pod_cidr().ok_or(AttachError::NoPodCidr)?;
        let ip = {
            let mut allocated = self.shared.allocated();
            let reusable = previous_ip
                .filter(|ip| cidr.contains(ip) && !allocated.contains(ip) && usable(cidr, *ip));
            let ip = match reusable {
                Some(ip) => ip,
                None => cidr
                    .hosts()
                    .filter(|ip| usable(cidr, *ip))
                    .find(|ip| !allocated.contains(ip))
                    .ok_or(AttachError::Exhausted(cidr))?,
            };
            allocated.insert(ip);
            ip
        };
        let network = Arc::new(PodNetwork::new(identity, ip, Arc::downgrade(&self.shared)));
        self.shared
            .pods_by_ip
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(ip, Arc::downgrade(&network));
        Ok(network)
    }

    /// The network of this node's pod with this IP.
    pub fn pod(&self, ip: Ipv4Addr) -> Option<Arc<PodNetwork>> {
        self.shared.local_pod(ip)
    }

    /// A connection from the node itself (a NodePort, a tunnel) to `destination`, which
    /// may be a Service's cluster IP or any pod IP of the cluster.
    pub async fn connect_from_node(
        &self,
        destination: SocketAddr,
        source: SocketAddr,
    ) -> Result<VirtualStream, ConnectError> {
        connect(&self.shared, None, source, destination).await
    }
}

fn usable(cidr: Ipv4Net, ip: Ipv4Addr) -> bool {
    let first = u32::from(cidr.network());
    let offset = u32::from(ip).wrapping_sub(first);
    offset >= 2 && ip != cidr.broadcast()
}

/// Connects `source` (a socket of pod `from`, or the node when `from` is None) to
/// `destination`.
pub(super) async fn connect(
    node: &Arc<NodeNetworkShared>,
    from: Option<&Arc<PodNetwork>>,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<VirtualStream, ConnectError> {
    let destination = SocketAddr::new(canonical(destination.ip()), destination.port());
    if destination.ip().is_unspecified() || destination.port() == 0 {
        return Err(ConnectError::InvalidAddress);
    }
    if let Some(pod) = from
        && let Some(scope) = pod.scope_of(destination.ip())
    {
        return pod.deliver(scope, destination.port(), source);
    }
    if destination.ip().is_loopback() {
        // The node's own loopback is not the pod's: a node-side caller never dials it.
        return Err(ConnectError::Refused);
    }
    let IpAddr::V4(destination_ip) = destination.ip() else {
        return egress::connect(node, from, destination).await;
    };
    let cluster = node.cluster.snapshot();
    if let Some(backend) = cluster.pick_endpoint(
        destination_ip,
        destination.port(),
        source.ip(),
        &node.cluster,
    )? {
        if cluster.is_api_server_host_endpoint(destination_ip, backend) {
            return egress::dial_host(backend).await;
        }
        return Box::pin(connect_to_pod_ip(node, source, backend)).await;
    }
    if cluster.is_cluster_address(destination_ip) || node_owns(node, destination_ip) {
        return connect_to_pod_ip(node, source, destination).await;
    }
    egress::connect(node, from, destination).await
}

fn node_owns(node: &NodeNetworkShared, ip: Ipv4Addr) -> bool {
    node.pod_cidr().is_some_and(|cidr| cidr.contains(&ip))
}

/// Connects to a pod IP: in memory when the pod is this node's, else through the tunnel
/// of the node whose podCIDR holds it.
async fn connect_to_pod_ip(
    node: &Arc<NodeNetworkShared>,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<VirtualStream, ConnectError> {
    let IpAddr::V4(ip) = destination.ip() else {
        return Err(ConnectError::Unreachable);
    };
    if node_owns(node, ip) {
        return match node.local_pod(ip) {
            Some(pod) => pod.deliver(BindScope::PodIp, destination.port(), source),
            None => Err(ConnectError::Unreachable),
        };
    }
    let Some(tunnel_address) = node.cluster.snapshot().tunnel_for(ip) else {
        return Err(ConnectError::Unreachable);
    };
    tunnel::connect(
        tunnel_address,
        &node.settings.tunnel_client_tls,
        source,
        destination,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> PodIdentity {
        PodIdentity {
            namespace: "default".to_owned(),
            name: name.to_owned(),
            uid: name.to_owned(),
        }
    }

    #[test]
    fn a_pods_ip_returns_to_the_pool_only_when_its_last_holder_lets_go() {
        // This node never dials a tunnel: settings that trust no one do.
        let tunnel_client_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS settings")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let network = NodeNetwork::new(NodeNetworkSettings {
            node_name: "node".to_owned(),
            node_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tunnel_client_tls: Arc::new(tunnel_client_tls),
        });
        network.set_pod_cidr("10.244.0.0/24".parse().expect("a CIDR"));
        let first = network.attach_pod(identity("first"), None).expect("an IP");
        assert_eq!(
            first.ip,
            Ipv4Addr::new(10, 244, 0, 2),
            "the network and gateway addresses are skipped"
        );
        // A socket of the pod still holds its network after the worker let go.
        let held_by_a_socket = Arc::clone(&first);
        drop(first);
        let second = network.attach_pod(identity("second"), None).expect("an IP");
        assert_eq!(
            second.ip,
            Ipv4Addr::new(10, 244, 0, 3),
            "the held IP is not given again"
        );
        assert!(network.pod(Ipv4Addr::new(10, 244, 0, 2)).is_some());
        drop(held_by_a_socket);
        assert!(network.pod(Ipv4Addr::new(10, 244, 0, 2)).is_none());
        let third = network.attach_pod(identity("third"), None).expect("an IP");
        assert_eq!(
            third.ip,
            Ipv4Addr::new(10, 244, 0, 2),
            "the released IP is free again"
        );
        let adopted = network
            .attach_pod(identity("adopted"), Some(Ipv4Addr::new(10, 244, 0, 9)))
            .expect("an IP");
        assert_eq!(
            adopted.ip,
            Ipv4Addr::new(10, 244, 0, 9),
            "an adopted pod keeps its IP"
        );
    }
}
