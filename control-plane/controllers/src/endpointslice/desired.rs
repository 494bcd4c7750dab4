//! The endpoints a Service's pods call for, grouped by the ports each pod offers
//! (`podToEndpoint`, `getEndpointPorts` and the grouping of `reconcileByAddressType`).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use kube::ResourceExt;

use crate::endpoints::service_pods::{
    IpFamily, endpoint_hostname, find_port, is_headless_without_ports, pod_ips,
    publishes_not_ready_addresses, service_port_protocol, service_ports,
    should_pod_be_in_endpoints,
};
use crate::pods::is_pod_ready;

/// The node label whose value is the node's zone, copied to its endpoints.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A set of endpoint ports as an ordered key (Kubernetes' `PortMapKey`): the same ports in
/// any order are the same key.
pub(super) type PortKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

pub(super) fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|port| {
            (
                port.name.clone(),
                port.port,
                port.protocol.clone(),
                port.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

/// What makes two endpoints the same one (Kubernetes' `endpointHash`): addresses,
/// hostname and pod. Conditions, node and zone may change in place.
pub(super) type EndpointKey = (BTreeSet<String>, String, String, String);

pub(super) fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let reference = endpoint.target_ref.as_ref();
    (
        endpoint.addresses.iter().cloned().collect(),
        endpoint.hostname.clone().unwrap_or_default(),
        reference
            .and_then(|reference| reference.namespace.clone())
            .unwrap_or_default(),
        reference
            .and_then(|reference| reference.name.clone())
            .unwrap_or_default(),
    )
}

/// Whether two endpoints with the same key differ in what is not in the key
/// (`EndpointsEqualBeyondHash`): node, zone, conditions, and the pod reference apart from
/// its resourceVersion.
pub(super) fn equal_beyond_key(a: &Endpoint, b: &Endpoint) -> bool {
    let comparable_reference = |endpoint: &Endpoint| {
        endpoint.target_ref.clone().map(|mut reference| {
            reference.resource_version = None;
            reference
        })
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && a.conditions
            .as_ref()
            .map(|c| (c.ready, c.serving, c.terminating))
            == b.conditions
                .as_ref()
                .map(|c| (c.ready, c.serving, c.terminating))
        && comparable_reference(a) == comparable_reference(b)
}

/// The endpoints wanted for one address type, grouped by their ports.
#[derive(Debug, Default)]
pub(super) struct DesiredEndpoints {
    pub(super) by_ports: BTreeMap<PortKey, PortGroup>,
    /// Pods left out because their node does not exist (`skipping Pod ...`), which makes
    /// the sync report an error and be tried again.
    pub(super) skipped: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct PortGroup {
    pub(super) ports: Vec<EndpointPort>,
    pub(super) endpoints: BTreeMap<EndpointKey, Endpoint>,
}

/// The endpoints of `pods` (the Service's selected pods; terminating ones stay, marked) for
/// the address type of `family`. `nodes` holds the nodes the pods name that exist.
pub(super) fn desired_endpoints(
    service: &Service,
    pods: &[Pod],
    nodes: &BTreeMap<String, Node>,
    family: IpFamily,
) -> DesiredEndpoints {
    let mut desired = DesiredEndpoints::default();
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(service, pod);
        let group = desired.by_ports.entry(port_key(&ports)).or_default();
        if group.ports.is_empty() {
            group.ports = ports;
        }
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.clone())
            .filter(|node_name| !node_name.is_empty());
        let node = node_name
            .as_ref()
            .and_then(|node_name| nodes.get(node_name));
        if node.is_none() && !publishes_not_ready_addresses(service) {
            // Kept out until the node exists, unless the Service wants every address
            // published anyway.
            desired.skipped.push(format!(
                "skipping Pod {} for Service {namespace}/{name}: Node {} Not Found",
                pod.name_any(),
                node_name.unwrap_or_default()
            ));
            continue;
        }
        let endpoint = pod_to_endpoint(pod, node, service, family);
        if !endpoint.addresses.is_empty() {
            group.endpoints.insert(endpoint_key(&endpoint), endpoint);
        }
    }
    desired
}

/// The pod's ports for the Service's ports, named as the Service names them; a pod
/// without a named target port is left out for that port. A headless Service without
/// ports has endpoints without ports.
fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    if is_headless_without_ports(service) {
        return Vec::new();
    }
    service_ports(service)
        .iter()
        .filter_map(|service_port| {
            let port = find_port(pod, service_port)?;
            Some(EndpointPort {
                name: Some(service_port.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(service_port_protocol(service_port).to_owned()),
                app_protocol: service_port.app_protocol.clone(),
            })
        })
        .collect()
}

/// `podToEndpoint`: the pod's addresses of the family, its conditions (ready only when
/// serving and not terminating, unless the Service publishes not-ready addresses), node,
/// zone, pod reference and hostname.
fn pod_to_endpoint(
    pod: &Pod,
    node: Option<&Node>,
    service: &Service,
    family: IpFamily,
) -> Endpoint {
    let serving = is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = publishes_not_ready_addresses(service) || (serving && !terminating);
    let addresses = pod_ips(pod)
        .into_iter()
        .filter(|ip| IpFamily::of(ip) == family)
        .map(|ip| ip.to_string())
        .collect();
    let zone = node
        .and_then(|node| node.labels().get(ZONE_LABEL))
        .filter(|zone| !zone.is_empty())
        .cloned();
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.clone())
            .filter(|node_name| !node_name.is_empty()),
        zone,
        hostname: endpoint_hostname(pod, service),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
        deprecated_topology: None,
        hints: None,
    }
}
