//! A Service's Endpoints subsets from its pods: one address per pod with an IP of the
//! Service's family, ready or not, for each Service port the pod has; then packed into
//! Kubernetes' canonical layout (`RepackSubsets`), where addresses that offer the same
//! ports share a subset, so that two computations of the same state compare equal.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, Service,
};
use kube::ResourceExt;

use super::service_pods::{
    IpFamily, endpoint_hostname, find_port, is_headless_without_ports, pod_ips,
    publishes_not_ready_addresses, service_ip_families, service_port_protocol, service_ports,
    should_pod_be_in_endpoints,
};
use crate::pods::is_pod_ready;

/// At most this many addresses are kept in one Endpoints object (`maxCapacity`); more are
/// truncated and the object is annotated as over capacity.
pub(super) const MAXIMUM_CAPACITY: usize = 1000;

/// The subsets for `service` from its selected `pods`, packed and sorted.
pub(super) fn desired_subsets(service: &Service, pods: &[Pod]) -> Vec<EndpointSubset> {
    let publish_not_ready = publishes_not_ready_addresses(service);
    let family = service_ip_families(service)[0];
    let mut subsets = Vec::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(mut address) = endpoint_address(pod, family) else {
            continue;
        };
        address.hostname = endpoint_hostname(pod, service);
        let ready = publish_not_ready || is_pod_ready(pod);
        if is_headless_without_ports(service) {
            subsets.push(subset_of(address.clone(), None, ready));
            continue;
        }
        for service_port in service_ports(service) {
            let Some(port) = find_port(pod, service_port) else {
                continue;
            };
            let endpoint_port = EndpointPort {
                name: service_port.name.clone(),
                port,
                protocol: Some(service_port_protocol(service_port).to_owned()),
                app_protocol: service_port.app_protocol.clone(),
            };
            subsets.push(subset_of(address.clone(), Some(endpoint_port), ready));
        }
    }
    repack_subsets(&subsets)
}

/// The pod's address for the Service's primary IP family, with its pod reference.
fn endpoint_address(pod: &Pod, family: IpFamily) -> Option<EndpointAddress> {
    let ip = pod_ips(pod)
        .into_iter()
        .find(|ip| IpFamily::of(ip) == family)?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: None,
        node_name: pod.spec.as_ref().and_then(|spec| spec.node_name.clone()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
    })
}

fn subset_of(address: EndpointAddress, port: Option<EndpointPort>, ready: bool) -> EndpointSubset {
    let (addresses, not_ready_addresses) = if ready {
        (Some(vec![address]), None)
    } else {
        (None, Some(vec![address]))
    };
    EndpointSubset {
        addresses,
        not_ready_addresses,
        ports: port.map(|port| vec![port]),
    }
}

/// An EndpointPort as an ordered key; `None` stands for a subset without ports.
type PortKey = Option<(Option<String>, i32, Option<String>, Option<String>)>;

fn port_key(port: &EndpointPort) -> PortKey {
    Some((
        port.name.clone(),
        port.port,
        port.protocol.clone(),
        port.app_protocol.clone(),
    ))
}

/// An address's identity: IP and pod uid (`addressKey`).
type AddressKey = (String, String);

/// Addresses with their readiness for one port, in address order.
type AddressSet = Vec<(AddressKey, bool)>;

/// Addresses are the same endpoint when IP and pod uid are.
fn address_key(address: &EndpointAddress) -> AddressKey {
    let uid = address
        .target_ref
        .as_ref()
        .and_then(|reference| reference.uid.clone())
        .unwrap_or_default();
    (address.ip.clone(), uid)
}

/// Kubernetes' `RepackSubsets`: every (address, port) pair is expanded, an address that is
/// not ready for a port stays not ready for it, and addresses offering the same set of
/// ports with the same readiness are gathered into one subset. Addresses are sorted by IP
/// and pod uid as Kubernetes sorts them; ports and subsets, which Kubernetes orders by a
/// hash of their contents, are ordered by their contents here, equally deterministic.
pub(super) fn repack_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut all_addresses: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    let mut ports_by_key: BTreeMap<PortKey, Option<EndpointPort>> = BTreeMap::new();
    let mut readiness_by_port: BTreeMap<PortKey, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for subset in subsets {
        let ports: Vec<Option<&EndpointPort>> = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports.iter().map(Some).collect(),
            _ => vec![None],
        };
        let ready = subset
            .addresses
            .iter()
            .flatten()
            .map(|address| (address, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|address| (address, false));
        let addresses: Vec<(&EndpointAddress, bool)> = ready.chain(not_ready).collect();
        for port in ports {
            let key = port.and_then(port_key);
            ports_by_key.insert(key.clone(), port.cloned());
            let readiness = readiness_by_port.entry(key).or_default();
            for (address, is_ready) in &addresses {
                let address_key = address_key(address);
                all_addresses
                    .entry(address_key.clone())
                    .or_insert_with(|| (*address).clone());
                let entry = readiness.entry(address_key).or_insert(*is_ready);
                *entry = *entry && *is_ready;
            }
        }
    }
    let mut ports_by_address_set: BTreeMap<AddressSet, Vec<EndpointPort>> = BTreeMap::new();
    for (key, readiness) in readiness_by_port {
        let address_set: AddressSet = readiness.into_iter().collect();
        let ports = ports_by_address_set.entry(address_set).or_default();
        if let Some(Some(port)) = ports_by_key.get(&key) {
            ports.push(port.clone());
        }
    }
    let mut packed: Vec<EndpointSubset> = ports_by_address_set
        .into_iter()
        .map(|(address_set, ports)| {
            let mut ready = Vec::new();
            let mut not_ready = Vec::new();
            for (key, is_ready) in address_set {
                let Some(address) = all_addresses.get(&key) else {
                    continue;
                };
                if is_ready {
                    ready.push(address.clone());
                } else {
                    not_ready.push(address.clone());
                }
            }
            EndpointSubset {
                addresses: non_empty(ready),
                not_ready_addresses: non_empty(not_ready),
                ports: non_empty(ports),
            }
        })
        .collect();
    packed.sort_by_cached_key(|subset| serde_json::to_string(subset).unwrap_or_default());
    packed
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// The subsets as compared: empty lists are no lists, and a pod reference's
/// resourceVersion does not count (`endpointSubsetsEqualIgnoreResourceVersion`), so that
/// a pod update that changes nothing here writes nothing.
pub(super) fn comparable_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let comparable_addresses = |addresses: &Option<Vec<EndpointAddress>>| {
        non_empty(
            addresses
                .iter()
                .flatten()
                .map(|address| {
                    let mut address = address.clone();
                    if let Some(reference) = address.target_ref.as_mut() {
                        reference.resource_version = None;
                    }
                    address
                })
                .collect(),
        )
    };
    subsets
        .iter()
        .map(|subset| EndpointSubset {
            addresses: comparable_addresses(&subset.addresses),
            not_ready_addresses: comparable_addresses(&subset.not_ready_addresses),
            ports: subset.ports.clone().and_then(non_empty),
        })
        .collect()
}

fn address_count(subsets: &[EndpointSubset]) -> usize {
    subsets
        .iter()
        .map(|subset| {
            subset.addresses.as_ref().map_or(0, Vec::len)
                + subset.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

/// Cuts the subsets down to `MAXIMUM_CAPACITY` addresses, ready ones first, each subset
/// keeping its share (rounded up) of what is kept (`truncateEndpoints`). Returns whether
/// anything was cut.
pub(super) fn truncate_subsets(subsets: &mut [EndpointSubset]) -> bool {
    let total_ready: usize = subsets
        .iter()
        .map(|subset| subset.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let total_not_ready = address_count(subsets) - total_ready;
    if total_ready + total_not_ready <= MAXIMUM_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAXIMUM_CAPACITY;
    let (maximum, total) = if truncate_ready {
        (MAXIMUM_CAPACITY, total_ready)
    } else {
        (MAXIMUM_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = maximum;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            subset.addresses.as_ref().map_or(0, Vec::len)
        } else {
            subset.not_ready_addresses.as_ref().map_or(0, Vec::len)
        };
        let share = (in_subset * maximum)
            .div_ceil(total.max(1))
            .min(can_be_added);
        if truncate_ready {
            if let Some(addresses) = subset.addresses.as_mut() {
                addresses.truncate(share);
                can_be_added -= addresses.len();
            }
            subset.not_ready_addresses = None;
        } else if let Some(addresses) = subset.not_ready_addresses.as_mut() {
            addresses.truncate(share);
            can_be_added -= addresses.len();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subset(value: serde_json::Value) -> EndpointSubset {
        serde_json::from_value(value).expect("a subset")
    }

    fn address(ip: &str) -> serde_json::Value {
        json!({"ip": ip, "targetRef": {"kind": "Pod", "name": ip, "uid": ip}})
    }

    #[test]
    fn addresses_with_the_same_ports_are_packed_into_one_subset() {
        let http = json!({"name": "http", "port": 8080, "protocol": "TCP"});
        let metrics = json!({"name": "metrics", "port": 9090, "protocol": "TCP"});
        let packed = repack_subsets(&[
            subset(json!({"addresses": [address("10.0.0.2")], "ports": [http]})),
            subset(json!({"addresses": [address("10.0.0.2")], "ports": [metrics]})),
            subset(json!({"addresses": [address("10.0.0.1")], "ports": [http]})),
            subset(json!({"notReadyAddresses": [address("10.0.0.3")], "ports": [http]})),
        ]);
        let expected = vec![
            subset(json!({
                "addresses": [address("10.0.0.1"), address("10.0.0.2")],
                "notReadyAddresses": [address("10.0.0.3")],
                "ports": [http],
            })),
            subset(json!({"addresses": [address("10.0.0.2")], "ports": [metrics]})),
        ];
        assert_eq!(packed, expected);
    }

    #[test]
    fn subsets_without_ports_keep_their_addresses() {
        let packed = repack_subsets(&[
            subset(json!({"addresses": [address("10.0.0.2")]})),
            subset(json!({"notReadyAddresses": [address("10.0.0.1")]})),
        ]);
        assert_eq!(
            packed,
            vec![subset(
                json!({"addresses": [address("10.0.0.2")], "notReadyAddresses": [address("10.0.0.1")]})
            )]
        );
    }

    #[test]
    fn over_capacity_subsets_keep_ready_addresses_first_in_proportion() {
        let addresses = |count: usize, offset: usize| -> Vec<serde_json::Value> {
            (0..count)
                .map(|index| {
                    address(&format!(
                        "10.0.{}.{}",
                        (index + offset) / 250,
                        (index + offset) % 250
                    ))
                })
                .collect()
        };
        let mut subsets = vec![
            subset(
                json!({"addresses": addresses(600, 0), "notReadyAddresses": addresses(300, 600), "ports": [{"port": 80}]}),
            ),
            subset(
                json!({"addresses": addresses(300, 900), "notReadyAddresses": addresses(100, 1200), "ports": [{"port": 81}]}),
            ),
        ];
        assert!(truncate_subsets(&mut subsets));
        assert_eq!(subsets[0].addresses.as_ref().map(Vec::len), Some(600));
        assert_eq!(subsets[1].addresses.as_ref().map(Vec::len), Some(300));
        assert_eq!(
            subsets[0].not_ready_addresses.as_ref().map(Vec::len),
            Some(75)
        );
        assert_eq!(
            subsets[1].not_ready_addresses.as_ref().map(Vec::len),
            Some(25)
        );
    }
}
