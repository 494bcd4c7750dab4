//! Printers for Services and their endpoints: Service, Endpoints and EndpointSlice.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column, wide_column};
use crate::descriptions::{
    ENDPOINT_SLICE_ADDRESS_TYPE, ENDPOINT_SLICE_ENDPOINTS, ENDPOINT_SLICE_PORTS, ENDPOINTS_SUBSETS,
    SERVICE_SPEC_CLUSTER_IP, SERVICE_SPEC_EXTERNAL_IPS, SERVICE_SPEC_PORTS, SERVICE_SPEC_SELECTOR,
    SERVICE_SPEC_TYPE,
};
use crate::labels::format_labels;
use crate::object_fields::{
    array_at, integer_at, object_name, optional_integer_at, optional_string_at, string_at, value_at,
};
use crate::time_formatting::age_cell;

/// Lists show at most this many entries, then "+ N more...".
const MAXIMUM_LISTED: usize = 3;

pub(crate) fn service_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Type", "string", SERVICE_SPEC_TYPE),
        column("Cluster-IP", "string", SERVICE_SPEC_CLUSTER_IP),
        column("External-IP", "string", SERVICE_SPEC_EXTERNAL_IPS),
        column("Port(s)", "string", SERVICE_SPEC_PORTS),
        age_column(),
        wide_column("Selector", "string", SERVICE_SPEC_SELECTOR),
    ]
}

fn strings_at<'object>(object: &'object Value, path: &[&str]) -> Vec<&'object str> {
    array_at(object, path)
        .iter()
        .map(|value| value.as_str().unwrap_or_default())
        .collect()
}

/// The load balancer's ingress IPs (or hostnames), sorted and de-duplicated. The server
/// always renders wide rows, so the list is never shortened.
fn load_balancer_addresses(service: &Value) -> Vec<&str> {
    let mut addresses: Vec<&str> = array_at(service, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|ingress| {
            let ip = string_at(ingress, &["ip"]);
            let hostname = string_at(ingress, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !hostname.is_empty() {
                Some(hostname)
            } else {
                None
            }
        })
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

fn service_external_ip(service: &Value, service_type: &str) -> String {
    let external_ips = strings_at(service, &["spec", "externalIPs"]);
    match service_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let mut addresses = load_balancer_addresses(service);
            if !external_ips.is_empty() {
                addresses.extend(external_ips);
                return addresses.join(",");
            }
            if addresses.is_empty() {
                "<pending>".to_string()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => string_at(service, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// "80/TCP" per port, "80:30080/TCP" when a node port is allocated, joined by commas.
fn service_ports(service: &Value) -> String {
    let ports: Vec<String> = array_at(service, &["spec", "ports"])
        .iter()
        .map(|port| {
            let number = integer_at(port, &["port"]);
            let protocol = string_at(port, &["protocol"]);
            let node_port = integer_at(port, &["nodePort"]);
            if node_port > 0 {
                format!("{number}:{node_port}/{protocol}")
            } else {
                format!("{number}/{protocol}")
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    }
}

pub(crate) fn service_cells(service: &Value, now: Timestamp) -> Vec<Value> {
    let service_type = string_at(service, &["spec", "type"]);
    // Objects written before dual-stack may only carry `clusterIP`; the API server fills
    // `clusterIPs` from it, so it is used when `clusterIPs` is missing.
    let cluster_ip = match strings_at(service, &["spec", "clusterIPs"]).first() {
        Some(first) => first,
        None => Some(string_at(service, &["spec", "clusterIP"]))
            .filter(|ip| !ip.is_empty())
            .unwrap_or("<none>"),
    };
    vec![
        Value::from(object_name(service)),
        Value::from(service_type),
        Value::from(cluster_ip),
        Value::from(service_external_ip(service, service_type)),
        Value::from(service_ports(service)),
        age_cell(service, now),
        Value::from(format_labels(value_at(service, &["spec", "selector"]))),
    ]
}

pub(crate) fn endpoints_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Endpoints", "string", ENDPOINTS_SUBSETS),
        age_column(),
    ]
}

/// Joins a host and a port, bracketing IPv6 addresses like Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// "ip:port" for every address and port of every subset, at most three, then "+ N more...".
fn format_endpoints(endpoints: &Value) -> String {
    let subsets = array_at(endpoints, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut listed = Vec::new();
    let mut more = false;
    let mut count = 0;
    for subset in subsets {
        let addresses = array_at(subset, &["addresses"]);
        let ports = array_at(subset, &["ports"]);
        // A headless service may have no ports; its endpoints are bare addresses.
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports
                .iter()
                .map(|port| Some(integer_at(port, &["port"])))
                .collect()
        };
        for port in port_numbers {
            count += addresses.len();
            for address in addresses {
                if listed.len() == MAXIMUM_LISTED {
                    more = true;
                    break;
                }
                let ip = string_at(address, &["ip"]);
                listed.push(port.map_or_else(|| ip.to_string(), |port| join_host_port(ip, port)));
            }
        }
    }
    let joined = listed.join(",");
    if more {
        format!("{joined} + {} more...", count - MAXIMUM_LISTED)
    } else {
        joined
    }
}

pub(crate) fn endpoints_cells(endpoints: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(endpoints)),
        Value::from(format_endpoints(endpoints)),
        age_cell(endpoints, now),
    ]
}

pub(crate) fn endpoint_slice_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("AddressType", "string", ENDPOINT_SLICE_ADDRESS_TYPE),
        column("Ports", "string", ENDPOINT_SLICE_PORTS),
        column("Endpoints", "string", ENDPOINT_SLICE_ENDPOINTS),
        age_column(),
    ]
}

/// The first three entries joined by commas, then "+ N more...", or "<unset>" if empty.
fn list_with_more(entries: Vec<String>) -> String {
    let count = entries.len();
    if count > MAXIMUM_LISTED {
        let shown = entries.get(..MAXIMUM_LISTED).unwrap_or_default().join(",");
        return format!("{shown} + {} more...", count - MAXIMUM_LISTED);
    }
    if entries.is_empty() {
        "<unset>".to_string()
    } else {
        entries.join(",")
    }
}

pub(crate) fn endpoint_slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports = array_at(slice, &["ports"])
        .iter()
        .map(|port| match optional_integer_at(port, &["port"]) {
            Some(number) => number.to_string(),
            None => optional_string_at(port, &["name"])
                .unwrap_or("*")
                .to_string(),
        })
        .collect();
    let addresses = array_at(slice, &["endpoints"])
        .iter()
        .flat_map(|endpoint| array_at(endpoint, &["addresses"]))
        .map(|address| address.as_str().unwrap_or_default().to_string())
        .collect();
    vec![
        Value::from(object_name(slice)),
        Value::from(string_at(slice, &["addressType"])),
        Value::from(list_with_more(ports)),
        Value::from(list_with_more(addresses)),
        age_cell(slice, now),
    ]
}

#[cfg(test)]
#[path = "networking_tests.rs"]
mod tests;
