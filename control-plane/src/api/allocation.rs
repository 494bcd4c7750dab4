//! Service address allocation: a cluster IP from the service CIDR (10.96.0.0/12) and node
//! ports from 30000-32767, each unique in the cluster.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{Value, json};
use wasmkube_admission::{FieldError, FieldErrorReason};

use super::ApiState;
use crate::store::ListRequest;

pub const SERVICE_CIDR_BASE: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 0);
const SERVICE_CIDR_SIZE: u32 = 1 << 20;
/// 10.96.0.1 belongs to the `kubernetes` Service, as in every Kubernetes cluster.
pub const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn field_error(reason: FieldErrorReason, field: &str, value: Value, detail: &str) -> FieldError {
    FieldError {
        reason,
        field: field.to_owned(),
        detail: detail.to_owned(),
        bad_value: Some(value),
    }
}

fn in_service_cidr(address: Ipv4Addr) -> bool {
    let offset = u32::from(address).wrapping_sub(u32::from(SERVICE_CIDR_BASE));
    offset > 0 && offset < SERVICE_CIDR_SIZE - 1
}

struct Taken {
    addresses: HashSet<Ipv4Addr>,
    node_ports: HashSet<i64>,
}

fn taken(state: &ApiState, skip_uid: Option<&str>) -> Result<Taken, Vec<FieldError>> {
    let page = state
        .storage
        .list(&ListRequest {
            prefix: "services/".to_owned(),
            ..Default::default()
        })
        .map_err(|error| {
            vec![field_error(
                FieldErrorReason::Invalid,
                "spec.clusterIP",
                Value::Null,
                &format!("failed to read allocations: {error}"),
            )]
        })?;
    let mut result = Taken {
        addresses: HashSet::new(),
        node_ports: HashSet::new(),
    };
    for (_, stored) in page.items {
        let service = &stored.object;
        if skip_uid.is_some()
            && service.pointer("/metadata/uid").and_then(Value::as_str) == skip_uid
        {
            continue;
        }
        if let Some(address) = service
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|text| text.parse().ok())
        {
            result.addresses.insert(address);
        }
        for port in service
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64) {
                result.node_ports.insert(node_port);
            }
        }
    }
    Ok(result)
}

/// Fills `spec.clusterIP(s)` and node ports of a Service being created or updated, and
/// refuses addresses that are taken or out of range.
pub fn allocate_service_addresses(
    state: &ApiState,
    service: &mut Value,
    old: Option<&Value>,
) -> Result<(), Vec<FieldError>> {
    let uid = service
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut taken = taken(state, uid.as_deref())?;
    let service_type = service
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    let old_ip = old
        .and_then(|old| old.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let requested_ip = service
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut errors = Vec::new();
    if service_type != "ExternalName" {
        let address = match (requested_ip.as_str(), old_ip) {
            ("None", _) => None,
            ("", Some(old_ip)) => Some(old_ip),
            ("", None) => {
                let free = (2..SERVICE_CIDR_SIZE - 1)
                    .map(|offset| Ipv4Addr::from(u32::from(SERVICE_CIDR_BASE) + offset))
                    .find(|address| !taken.addresses.contains(address));
                match free {
                    Some(address) => Some(address.to_string()),
                    None => {
                        errors.push(field_error(
                            FieldErrorReason::Invalid,
                            "spec.clusterIPs",
                            json!([]),
                            "failed to allocate IP: range is full",
                        ));
                        None
                    }
                }
            }
            (requested, Some(old_ip)) if requested != old_ip => {
                errors.push(field_error(
                    FieldErrorReason::Invalid,
                    "spec.clusterIPs[0]",
                    json!(requested),
                    "may not change once set",
                ));
                None
            }
            (requested, _) => {
                match requested.parse::<Ipv4Addr>() {
                    Ok(address)
                        if old.is_some()
                            || (in_service_cidr(address)
                                && !taken.addresses.contains(&address)) =>
                    {
                        Some(requested.to_owned())
                    }
                    Ok(address) if !in_service_cidr(address) => {
                        errors.push(field_error(FieldErrorReason::Invalid, "spec.clusterIPs", json!([requested]), &format!("failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is 10.96.0.0/12")));
                        None
                    }
                    Ok(_) => {
                        errors.push(field_error(FieldErrorReason::Invalid, "spec.clusterIPs", json!([requested]), &format!("failed to allocate IP {requested}: provided IP is already allocated")));
                        None
                    }
                    Err(_) => {
                        errors.push(field_error(
                            FieldErrorReason::Invalid,
                            "spec.clusterIP",
                            json!(requested),
                            "must be a valid IP address",
                        ));
                        None
                    }
                }
            }
        };
        if let Some(address) = address {
            service["spec"]["clusterIP"] = json!(address);
            service["spec"]["clusterIPs"] = json!([address]);
            service["spec"]["ipFamilies"] = json!(["IPv4"]);
            service["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        } else if requested_ip == "None" {
            service["spec"]["clusterIPs"] = json!(["None"]);
        }
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        allocate_node_ports(service, old, &mut taken, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn allocate_node_ports(
    service: &mut Value,
    old: Option<&Value>,
    taken: &mut Taken,
    errors: &mut Vec<FieldError>,
) {
    let old_ports: Vec<Value> = old
        .and_then(|old| old.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(ports) = service
        .pointer_mut("/spec/ports")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for (index, port) in ports.iter_mut().enumerate() {
        let requested = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        let kept = old_ports
            .iter()
            .find(|old_port| {
                old_port.get("port") == port.get("port")
                    && old_port.get("protocol") == port.get("protocol")
            })
            .and_then(|old_port| old_port.get("nodePort"))
            .and_then(Value::as_i64);
        let node_port = match (requested, kept) {
            (0, Some(kept)) => kept,
            (0, None) => match NODE_PORTS
                .clone()
                .find(|candidate| !taken.node_ports.contains(candidate))
            {
                Some(free) => free,
                None => {
                    errors.push(field_error(
                        FieldErrorReason::Invalid,
                        &format!("spec.ports[{index}].nodePort"),
                        json!(0),
                        "failed to allocate a nodePort: range is full",
                    ));
                    continue;
                }
            },
            (requested, _) if !NODE_PORTS.contains(&requested) => {
                errors.push(field_error(FieldErrorReason::Invalid, &format!("spec.ports[{index}].nodePort"), json!(requested), "provided port is not in the valid range. The range of valid ports is 30000-32767"));
                continue;
            }
            (requested, kept)
                if kept != Some(requested) && taken.node_ports.contains(&requested) =>
            {
                errors.push(field_error(
                    FieldErrorReason::Invalid,
                    &format!("spec.ports[{index}].nodePort"),
                    json!(requested),
                    "provided port is already allocated",
                ));
                continue;
            }
            (requested, _) => requested,
        };
        taken.node_ports.insert(node_port);
        port["nodePort"] = json!(node_port);
    }
}
