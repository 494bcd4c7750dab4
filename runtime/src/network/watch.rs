//! Keeps the node's picture of the cluster network current, as kube-proxy does: reflectors
//! over Services, EndpointSlices, Nodes and Namespaces, and the pod network's settings
//! (`kube-system/wasmkube-pod-network`, a ConfigMap with the egress policy). Every change
//! rebuilds the snapshot, then the NodePort listeners follow it.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio::sync::Notify;

use super::NodeNetwork;
use super::cluster_view::{
    ClusterSnapshot, EgressPolicy, EndpointEntry, NodeRoute, ServiceEntry, ServicePortEntry,
};
use super::egress::{EGRESS_ALLOWED, EGRESS_NAMESPACE_LABEL};
use super::node_ports::NodePorts;

/// The namespace and name of the pod network's ConfigMap.
pub const SETTINGS_NAMESPACE: &str = "kube-system";
pub const SETTINGS_NAME: &str = "wasmkube-pod-network";
/// The ConfigMap key holding the server's egress policy: `allow` or `deny`.
pub const EGRESS_KEY: &str = "egress";
/// The Node annotation where a node announces its tunnel's address.
pub const TUNNEL_ANNOTATION: &str = "wasmkube.dev/pod-network-tunnel";

/// The default `sessionAffinityConfig.clientIP.timeoutSeconds` (three hours).
const DEFAULT_AFFINITY_TIMEOUT: Duration = Duration::from_secs(10_800);

struct Stores {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
    namespaces: Store<Namespace>,
    config_maps: Store<ConfigMap>,
}

/// Runs until the node agent stops.
pub async fn run(client: Client, network: NodeNetwork) {
    let changed = Arc::new(Notify::new());
    let settings = watcher::Config::default().fields(&format!("metadata.name={SETTINGS_NAME}"));
    let stores = Stores {
        services: reflect(
            Api::all(client.clone()),
            watcher::Config::default(),
            &changed,
        ),
        slices: reflect(
            Api::all(client.clone()),
            watcher::Config::default(),
            &changed,
        ),
        nodes: reflect(
            Api::all(client.clone()),
            watcher::Config::default(),
            &changed,
        ),
        namespaces: reflect(
            Api::all(client.clone()),
            watcher::Config::default(),
            &changed,
        ),
        config_maps: reflect(
            Api::namespaced(client, SETTINGS_NAMESPACE),
            settings,
            &changed,
        ),
    };
    let mut node_ports = NodePorts::new(network.clone());
    loop {
        changed.notified().await;
        apply(&stores, &network);
        node_ports.reconcile(&network.cluster().snapshot()).await;
    }
}

/// Starts a reflector whose every event wakes the rebuild loop.
fn reflect<K>(api: Api<K>, config: watcher::Config, changed: &Arc<Notify>) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let changed = Arc::clone(changed);
    let stream = reflector::reflector(writer, watcher::watcher(api, config).default_backoff());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if event.is_ok() {
                changed.notify_one();
            }
        }
    });
    reader
}

fn apply(stores: &Stores, network: &NodeNetwork) {
    let nodes = stores.nodes.state();
    if let Some(own_cidr) = nodes
        .iter()
        .find(|node| node.metadata.name.as_deref() == Some(network.node_name()))
        .and_then(|node| pod_cidr(node))
        && network.pod_cidr() != Some(own_cidr)
    {
        network.set_pod_cidr(own_cidr);
    }
    let routes = nodes
        .iter()
        .filter_map(|node| {
            Some(NodeRoute {
                name: node.metadata.name.clone()?,
                pod_cidr: pod_cidr(node)?,
                tunnel: node
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|annotations| annotations.get(TUNNEL_ANNOTATION))
                    .and_then(|address| address.parse().ok()),
            })
        })
        .collect();
    let egress = EgressPolicy {
        cluster_allows: stores.config_maps.state().first().is_some_and(|config| {
            config
                .data
                .as_ref()
                .and_then(|data| data.get(EGRESS_KEY))
                .is_some_and(|value| value == "allow")
        }),
        namespaces: stores
            .namespaces
            .state()
            .iter()
            .filter(|namespace| {
                namespace
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get(EGRESS_NAMESPACE_LABEL))
                    .is_some_and(|value| value == EGRESS_ALLOWED)
            })
            .filter_map(|namespace| namespace.metadata.name.clone())
            .collect(),
    };
    let slices = stores.slices.state();
    let mut slices_by_service: HashMap<(String, String), Vec<&EndpointSlice>> = HashMap::new();
    for slice in &slices {
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get("kubernetes.io/service-name"));
        if let (Some(namespace), Some(service)) = (&slice.metadata.namespace, service) {
            slices_by_service
                .entry((namespace.clone(), service.clone()))
                .or_default()
                .push(slice);
        }
    }
    let services = stores
        .services
        .state()
        .iter()
        .filter_map(|service| {
            let namespace = service.metadata.namespace.clone()?;
            let name = service.metadata.name.clone()?;
            let slices = slices_by_service
                .get(&(namespace.clone(), name.clone()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            Some(service_entry(service, namespace, name, slices))
        })
        .collect();
    network
        .cluster()
        .replace(ClusterSnapshot::new(services, routes, egress));
}

fn pod_cidr(node: &Node) -> Option<ipnet::Ipv4Net> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

fn service_entry(
    service: &Service,
    namespace: String,
    name: String,
    slices: &[&EndpointSlice],
) -> ServiceEntry {
    let spec = service.spec.clone().unwrap_or_default();
    let cluster_ip = spec
        .cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
    let ports = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|port| {
            Some(ServicePortEntry {
                name: port.name.unwrap_or_default(),
                port: u16::try_from(port.port).ok()?,
                protocol: port.protocol.unwrap_or_else(|| "TCP".to_owned()),
                node_port: port
                    .node_port
                    .and_then(|node_port| u16::try_from(node_port).ok()),
            })
        })
        .collect();
    let client_ip_affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .and_then(|config| config.client_ip?.timeout_seconds)
            .and_then(|seconds| u64::try_from(seconds).ok())
            .map_or(DEFAULT_AFFINITY_TIMEOUT, Duration::from_secs)
    });
    let endpoints = slices
        .iter()
        .flat_map(|slice| {
            let ports: HashMap<String, u16> = slice
                .ports
                .iter()
                .flatten()
                .filter_map(|port| {
                    Some((
                        port.name.clone().unwrap_or_default(),
                        u16::try_from(port.port?).ok()?,
                    ))
                })
                .collect();
            slice.endpoints.iter().flat_map(move |endpoint| {
                let ready = endpoint
                    .conditions
                    .as_ref()
                    .and_then(|conditions| conditions.ready)
                    .unwrap_or(true);
                let hostname = endpoint.hostname.clone();
                let ports = ports.clone();
                endpoint.addresses.iter().filter_map(move |address| {
                    Some(EndpointEntry {
                        ip: address.parse().ok()?,
                        ready,
                        hostname: hostname.clone(),
                        ports: ports.clone(),
                    })
                })
            })
        })
        .collect();
    ServiceEntry {
        namespace,
        name,
        cluster_ip,
        ports,
        client_ip_affinity,
        endpoints,
    }
}
