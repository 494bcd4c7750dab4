//! Node validation (`ValidateNode`, `ValidateNodeUpdate`), the parts about the spec: the
//! pod CIDRs must be valid, at most one per IP family, and once set they never change (the
//! node IPAM controller sets them once; the pod network relies on them); a provider ID
//! may likewise only go from empty to set.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::field_error::FieldError;

const INVALID_CIDR_MESSAGE: &str =
    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
const POD_CIDR_UPDATE_MESSAGE: &str =
    "node updates may not change podCIDR except from \"\" to valid";
const PROVIDER_ID_UPDATE_MESSAGE: &str =
    "node updates may not change providerID except from \"\" to valid";

pub fn validate_node(node: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let cidrs = pod_cidrs(node);
    let mut families = Vec::new();
    for (index, cidr) in cidrs.iter().enumerate() {
        match cidr_family(cidr) {
            Some(family) => families.push(family),
            None => errors.push(FieldError::invalid(
                format!("spec.podCIDRs[{index}]"),
                json!(cidr),
                INVALID_CIDR_MESSAGE,
            )),
        }
    }
    if cidrs.len() > 1 {
        let dual_stack = families.len() == 2 && families[0] != families[1];
        if !dual_stack || cidrs.len() > 2 {
            errors.push(FieldError::invalid(
                "spec.podCIDRs",
                json!(cidrs),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        for (index, cidr) in cidrs.iter().enumerate() {
            if cidrs[..index].contains(cidr) {
                errors.push(FieldError::duplicate(
                    format!("spec.podCIDRs[{index}]"),
                    json!(cidr),
                ));
            }
        }
    }
    if let Some(old) = old {
        errors.extend(validate_node_update(node, old, &cidrs));
    }
    errors
}

fn validate_node_update(node: &Value, old: &Value, cidrs: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let old_cidrs = pod_cidrs(old);
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != cidrs.len() {
            errors.push(FieldError::forbidden(
                "spec.podCIDRs",
                POD_CIDR_UPDATE_MESSAGE,
            ));
        } else {
            for (old_cidr, cidr) in old_cidrs.iter().zip(cidrs) {
                if old_cidr != cidr {
                    errors.push(FieldError::forbidden(
                        "spec.podCIDRs",
                        POD_CIDR_UPDATE_MESSAGE,
                    ));
                }
            }
        }
    }
    let provider_id = |node: &Value| {
        node.pointer("/spec/providerID")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let old_provider_id = provider_id(old);
    if !old_provider_id.is_empty() && old_provider_id != provider_id(node) {
        errors.push(FieldError::forbidden(
            "spec.providerID",
            PROVIDER_ID_UPDATE_MESSAGE,
        ));
    }
    errors
}

/// The node's pod CIDRs as the API holds them: `spec.podCIDRs`, or the older
/// `spec.podCIDR` alone when the list is empty (the v1 conversion's rule).
fn pod_cidrs(node: &Value) -> Vec<String> {
    let listed: Vec<String> = node
        .pointer("/spec/podCIDRs")
        .and_then(Value::as_array)
        .map(|cidrs| {
            cidrs
                .iter()
                .map(|cidr| cidr.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    node.pointer("/spec/podCIDR")
        .and_then(Value::as_str)
        .filter(|cidr| !cidr.is_empty())
        .map(|cidr| vec![cidr.to_owned()])
        .unwrap_or_default()
}

/// The family of a valid CIDR (an address, `/`, and a prefix length the address allows),
/// or `None` for anything else.
fn cidr_family(cidr: &str) -> Option<bool> {
    let (address, prefix_length) = cidr.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    if prefix_length.is_empty() || !prefix_length.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let prefix_length: u32 = prefix_length.parse().ok()?;
    let is_ipv6 = address.is_ipv6();
    let maximum = if is_ipv6 { 128 } else { 32 };
    (prefix_length <= maximum).then_some(is_ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    fn node(spec: Value) -> Value {
        json!({"metadata": {"name": "worker"}, "spec": spec})
    }

    #[test]
    fn pod_cidrs_must_be_valid_and_one_per_family() {
        assert!(
            validate_node(
                &node(json!({"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]})),
                None
            )
            .is_empty()
        );
        assert!(
            validate_node(
                &node(json!({"podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]})),
                None
            )
            .is_empty()
        );
        assert_eq!(
            messages(validate_node(
                &node(json!({"podCIDRs": ["10.244.1.0/33"]})),
                None
            )),
            vec![
                "spec.podCIDRs[0]: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            ]
        );
        assert_eq!(
            messages(validate_node(
                &node(json!({"podCIDRs": ["10.244.1.0/24", "10.244.1.0/24"]})),
                None
            )),
            vec![
                "spec.podCIDRs: Invalid value: []string{\"10.244.1.0/24\", \"10.244.1.0/24\"}: may specify no more than one CIDR for each IP family",
                "spec.podCIDRs[1]: Duplicate value: \"10.244.1.0/24\"",
            ]
        );
    }

    #[test]
    fn a_set_pod_cidr_never_changes() {
        let unset = node(json!({}));
        let set = node(json!({"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}));
        assert!(validate_node(&set, Some(&unset)).is_empty());
        assert!(validate_node(&set, Some(&set)).is_empty());
        let changed = node(json!({"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]}));
        let forbidden = vec![
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
        ];
        assert_eq!(messages(validate_node(&changed, Some(&set))), forbidden);
        assert_eq!(messages(validate_node(&unset, Some(&set))), forbidden);
        let only_the_old_field = node(json!({"podCIDR": "10.244.1.0/24"}));
        assert!(validate_node(&set, Some(&only_the_old_field)).is_empty());
    }

    #[test]
    fn a_set_provider_id_never_changes() {
        let set = node(json!({"providerID": "wasmkube://worker"}));
        assert!(validate_node(&set, Some(&node(json!({})))).is_empty());
        assert_eq!(
            messages(validate_node(
                &node(json!({"providerID": "other://worker"})),
                Some(&set)
            )),
            vec![
                "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid"
            ]
        );
    }
}
