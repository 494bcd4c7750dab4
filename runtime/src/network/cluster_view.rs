//! What the node knows of the rest of the cluster to carry its pods' traffic: Services
//! and their ready endpoints (from EndpointSlices), other nodes' podCIDRs and tunnel
//! addresses, and who may reach the outside world. Watchers (`watch.rs`) rebuild an
//! immutable snapshot on every change; connections read the current snapshot without
//! waiting on the watchers.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;

use super::ConnectError;

/// The Service CIDR the API server allocates cluster IPs from.
pub const SERVICE_CIDR: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 96, 0, 0), 12);

/// The Service through which pods reach the API server.
pub const API_SERVER_SERVICE_NAMESPACE: &str = "default";
pub const API_SERVER_SERVICE_NAME: &str = "kubernetes";

/// One port of a Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortEntry {
    /// The port's name; endpoint ports are matched by it.
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub node_port: Option<u16>,
}

/// A pod behind a Service, as an EndpointSlice lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEntry {
    pub ip: Ipv4Addr,
    pub ready: bool,
    /// The pod's hostname when the Service names its subdomain (headless DNS).
    pub hostname: Option<String>,
    /// Target ports by Service port name.
    pub ports: HashMap<String, u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub namespace: String,
    pub name: String,
    /// None for a headless Service.
    pub cluster_ip: Option<Ipv4Addr>,
    pub ports: Vec<ServicePortEntry>,
    /// `sessionAffinity: ClientIP`, with its timeout.
    pub client_ip_affinity: Option<Duration>,
    pub endpoints: Vec<EndpointEntry>,
}

impl ServiceEntry {
    /// The ready endpoints' addresses for one Service port, in a stable order.
    pub fn ready_backends(&self, port_name: &str) -> Vec<SocketAddr> {
        let mut backends: Vec<SocketAddr> = self
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.ready)
            .filter_map(|endpoint| {
                let port = endpoint.ports.get(port_name)?;
                Some(SocketAddr::new(IpAddr::V4(endpoint.ip), *port))
            })
            .collect();
        backends.sort();
        backends.dedup();
        backends
    }
}

/// Another node, as far as the pod network cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRoute {
    pub name: String,
    pub pod_cidr: Ipv4Net,
    /// Where its tunnel listens; None until it has announced one.
    pub tunnel: Option<SocketAddr>,
}

/// Who may open connections to addresses outside the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// The server's `--allow-egress`: every pod may.
    pub cluster_allows: bool,
    /// Namespaces labelled to allow it.
    pub namespaces: HashSet<String>,
}

impl EgressPolicy {
    pub fn allows(&self, namespace: &str) -> bool {
        self.cluster_allows || self.namespaces.contains(namespace)
    }
}

/// An immutable picture of the cluster's network.
#[derive(Debug, Default)]
pub struct ClusterSnapshot {
    services_by_ip: HashMap<Ipv4Addr, Arc<ServiceEntry>>,
    /// Each TCP Service port's ready endpoints, listed once per snapshot rather than on
    /// every connection.
    backends: HashMap<ServicePortKey, Arc<[SocketAddr]>>,
    services_by_name: HashMap<(String, String), Arc<ServiceEntry>>,
    /// The cluster IP of the `kubernetes` Service in `default`, the only Service whose
    /// endpoints outside the pod network the node dials on the host.
    api_server_service_ip: Option<Ipv4Addr>,
    nodes: Vec<NodeRoute>,
    pub egress: EgressPolicy,
}

impl ClusterSnapshot {
    pub fn new(services: Vec<ServiceEntry>, nodes: Vec<NodeRoute>, egress: EgressPolicy) -> Self {
        let mut snapshot = ClusterSnapshot {
            nodes,
            egress,
            ..ClusterSnapshot::default()
        };
        for service in services {
            let service = Arc::new(service);
            if let Some(ip) = service.cluster_ip {
                for port in service.ports.iter().filter(|port| port.protocol == "TCP") {
                    snapshot
                        .backends
                        .insert((ip, port.port), service.ready_backends(&port.name).into());
                }
                snapshot.services_by_ip.insert(ip, Arc::clone(&service));
                if service.namespace == API_SERVER_SERVICE_NAMESPACE
                    && service.name == API_SERVER_SERVICE_NAME
                {
                    snapshot.api_server_service_ip = Some(ip);
                }
            }
            snapshot
                .services_by_name
                .insert((service.namespace.clone(), service.name.clone()), service);
        }
        snapshot
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Arc<ServiceEntry>> {
        self.services_by_name
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    pub fn services(&self) -> impl Iterator<Item = &Arc<ServiceEntry>> {
        self.services_by_name.values()
    }

    /// Whether `ip` belongs to the cluster: a pod IP of some node, or the Service CIDR.
    pub fn is_cluster_address(&self, ip: Ipv4Addr) -> bool {
        SERVICE_CIDR.contains(&ip) || self.nodes.iter().any(|node| node.pod_cidr.contains(&ip))
    }

    /// Whether a connection to the Service at `service_ip` whose endpoint is `backend`
    /// leaves the pod network for a host connection made by the node: only the API
    /// server's endpoints (the `kubernetes` Service's), and only those that are no pod's
    /// address. Such a connection is allowed whatever the egress policy, as in Kubernetes
    /// every pod may reach the API server; the API server still authenticates it. Other
    /// Services' endpoints outside the pod network are not reached: a Service and its
    /// EndpointSlice, which any namespace's editor may write, are no way around egress
    /// control.
    pub fn is_api_server_host_endpoint(&self, service_ip: Ipv4Addr, backend: SocketAddr) -> bool {
        let IpAddr::V4(backend_ip) = backend.ip() else {
            return false;
        };
        self.api_server_service_ip == Some(service_ip)
            && !self
                .nodes
                .iter()
                .any(|node| node.pod_cidr.contains(&backend_ip))
    }

    /// The tunnel of the node whose podCIDR holds `ip`.
    pub fn tunnel_for(&self, ip: Ipv4Addr) -> Option<SocketAddr> {
        self.nodes
            .iter()
            .find(|node| node.pod_cidr.contains(&ip))
            .and_then(|node| node.tunnel)
    }

    /// When `ip:port` is a Service's, the endpoint this connection goes to (round robin
    /// over ready endpoints, or the client's previous one under ClientIP affinity). A
    /// Service with no ready endpoint refuses, as kube-proxy's REJECT rule does.
    pub fn pick_endpoint(
        &self,
        ip: Ipv4Addr,
        port: u16,
        client: IpAddr,
        view: &ClusterView,
    ) -> Result<Option<SocketAddr>, ConnectError> {
        let Some(service) = self.services_by_ip.get(&ip) else {
            if SERVICE_CIDR.contains(&ip) {
                return Err(ConnectError::Refused);
            }
            return Ok(None);
        };
        let key = (ip, port);
        let backends = self.backends.get(&key).ok_or(ConnectError::Refused)?;
        if backends.is_empty() {
            return Err(ConnectError::Refused);
        }
        if let Some(timeout) = service.client_ip_affinity {
            if let Some(chosen) = view.affinity(key, client, timeout, backends) {
                return Ok(Some(chosen));
            }
            let chosen = backends[view.next_index(key) % backends.len()];
            view.remember_affinity(key, client, chosen);
            return Ok(Some(chosen));
        }
        Ok(Some(backends[view.next_index(key) % backends.len()]))
    }
}

type ServicePortKey = (Ipv4Addr, u16);

/// The current snapshot, and the load balancer's state that outlives snapshots.
#[derive(Default)]
pub struct ClusterView {
    snapshot: RwLock<Arc<ClusterSnapshot>>,
    round_robin: Mutex<HashMap<ServicePortKey, Arc<AtomicUsize>>>,
    affinities: Mutex<HashMap<(ServicePortKey, IpAddr), (SocketAddr, Instant)>>,
}

impl ClusterView {
    pub fn snapshot(&self) -> Arc<ClusterSnapshot> {
        Arc::clone(
            &self
                .snapshot
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub fn replace(&self, snapshot: ClusterSnapshot) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(snapshot);
    }

    fn next_index(&self, key: ServicePortKey) -> usize {
        let counter = Arc::clone(
            self.round_robin
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(key)
                .or_default(),
        );
        counter.fetch_add(1, Ordering::Relaxed)
    }

    fn affinity(
        &self,
        key: ServicePortKey,
        client: IpAddr,
        timeout: Duration,
        backends: &[SocketAddr],
    ) -> Option<SocketAddr> {
        let mut affinities = self
            .affinities
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (backend, last_used) = affinities.get_mut(&(key, client))?;
        if last_used.elapsed() > timeout || !backends.contains(backend) {
            affinities.remove(&(key, client));
            return None;
        }
        *last_used = Instant::now();
        Some(*backend)
    }

    fn remember_affinity(&self, key: ServicePortKey, client: IpAddr, backend: SocketAddr) {
        self.affinities
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((key, client), (backend, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(affinity: Option<Duration>, ready: &[(u8, bool)]) -> ServiceEntry {
        ServiceEntry {
            namespace: "shop".to_owned(),
            name: "echo".to_owned(),
            cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 20)),
            ports: vec![ServicePortEntry {
                name: "web".to_owned(),
                port: 80,
                protocol: "TCP".to_owned(),
                node_port: None,
            }],
            client_ip_affinity: affinity,
            endpoints: ready
                .iter()
                .map(|(last, ready)| EndpointEntry {
                    ip: Ipv4Addr::new(10, 244, 0, *last),
                    ready: *ready,
                    hostname: None,
                    ports: HashMap::from([("web".to_owned(), 8080)]),
                })
                .collect(),
        }
    }

    fn view_with(service: ServiceEntry) -> ClusterView {
        let view = ClusterView::default();
        view.replace(ClusterSnapshot::new(
            vec![service],
            Vec::new(),
            EgressPolicy::default(),
        ));
        view
    }

    fn pick(
        view: &ClusterView,
        client: [u8; 4],
        port: u16,
    ) -> Result<Option<SocketAddr>, ConnectError> {
        view.snapshot().pick_endpoint(
            Ipv4Addr::new(10, 96, 0, 20),
            port,
            IpAddr::from(client),
            view,
        )
    }

    #[test]
    fn connections_to_a_service_go_round_robin_over_ready_endpoints_only() {
        let view = view_with(service(None, &[(5, true), (6, false), (7, true)]));
        let picked: Vec<SocketAddr> = (0..4)
            .map(|_| {
                pick(&view, [10, 244, 0, 9], 80)
                    .expect("a pick")
                    .expect("a service")
            })
            .collect();
        let expected: Vec<SocketAddr> = [
            "10.244.0.5:8080",
            "10.244.0.7:8080",
            "10.244.0.5:8080",
            "10.244.0.7:8080",
        ]
        .iter()
        .map(|address| address.parse().expect("an address"))
        .collect();
        assert_eq!(picked, expected);
        assert_eq!(
            pick(&view, [10, 244, 0, 9], 81),
            Err(ConnectError::Refused),
            "no such service port"
        );
    }

    #[test]
    fn client_ip_affinity_keeps_a_client_on_one_endpoint() {
        let view = view_with(service(
            Some(Duration::from_secs(60)),
            &[(5, true), (6, true), (7, true)],
        ));
        let first = pick(&view, [10, 244, 1, 2], 80).expect("a pick");
        for _ in 0..5 {
            assert_eq!(pick(&view, [10, 244, 1, 2], 80).expect("a pick"), first);
        }
        let others: std::collections::HashSet<_> = (3..9)
            .map(|last| pick(&view, [10, 244, 1, last], 80).expect("a pick"))
            .collect();
        assert!(others.len() > 1, "other clients are spread: {others:?}");
    }

    #[test]
    fn a_service_without_ready_endpoints_refuses_and_other_addresses_are_not_services() {
        let view = view_with(service(None, &[(5, false)]));
        assert_eq!(pick(&view, [10, 244, 0, 9], 80), Err(ConnectError::Refused));
        let snapshot = view.snapshot();
        assert_eq!(
            snapshot.pick_endpoint(
                Ipv4Addr::new(10, 96, 0, 99),
                80,
                IpAddr::from([10, 244, 0, 9]),
                &view
            ),
            Err(ConnectError::Refused),
            "an unallocated cluster IP refuses"
        );
        assert_eq!(
            snapshot.pick_endpoint(
                Ipv4Addr::new(192, 0, 2, 1),
                80,
                IpAddr::from([10, 244, 0, 9]),
                &view
            ),
            Ok(None)
        );
    }

    #[test]
    fn only_the_api_servers_endpoints_outside_the_pod_network_are_dialled_on_the_host() {
        let api_server = ServiceEntry {
            namespace: "default".to_owned(),
            name: "kubernetes".to_owned(),
            cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 1)),
            ports: vec![ServicePortEntry {
                name: "https".to_owned(),
                port: 443,
                protocol: "TCP".to_owned(),
                node_port: None,
            }],
            client_ip_affinity: None,
            endpoints: vec![EndpointEntry {
                ip: Ipv4Addr::LOCALHOST,
                ready: true,
                hostname: None,
                ports: HashMap::from([("https".to_owned(), 6443)]),
            }],
        };
        let mut elsewhere = service(None, &[]);
        elsewhere.endpoints = api_server.endpoints.clone();
        elsewhere.ports = api_server.ports.clone();
        let snapshot = ClusterSnapshot::new(
            vec![api_server, elsewhere],
            vec![NodeRoute {
                name: "node".to_owned(),
                pod_cidr: "10.244.0.0/24".parse().expect("a CIDR"),
                tunnel: None,
            }],
            EgressPolicy::default(),
        );
        let view = ClusterView::default();
        let api_server_backend = snapshot
            .pick_endpoint(
                Ipv4Addr::new(10, 96, 0, 1),
                443,
                IpAddr::from([10, 244, 0, 9]),
                &view,
            )
            .expect("a pick");
        assert_eq!(
            api_server_backend,
            Some("127.0.0.1:6443".parse().expect("an address"))
        );
        assert!(snapshot.is_api_server_host_endpoint(
            Ipv4Addr::new(10, 96, 0, 1),
            "127.0.0.1:6443".parse().expect("an address")
        ));
        assert!(
            !snapshot.is_api_server_host_endpoint(
                Ipv4Addr::new(10, 96, 0, 20),
                "127.0.0.1:6443".parse().expect("an address")
            ),
            "another Service naming a host address is no way out"
        );
        assert!(
            !snapshot.is_api_server_host_endpoint(
                Ipv4Addr::new(10, 96, 0, 1),
                "10.244.0.5:6443".parse().expect("an address")
            ),
            "a pod endpoint is reached over the pod network"
        );
    }
}
