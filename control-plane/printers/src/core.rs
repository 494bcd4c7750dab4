//! Printers for the cluster-level and configuration kinds of the core group: Namespace,
//! Node, ConfigMap, Secret and ServiceAccount.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column, wide_column};
use crate::descriptions::{
    CONFIG_MAP_DATA, NODE_STATUS_ADDRESSES, NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION,
    NODE_SYSTEM_INFO_KERNEL_VERSION, NODE_SYSTEM_INFO_KUBELET_VERSION, NODE_SYSTEM_INFO_OS_IMAGE,
    SECRET_DATA, SECRET_TYPE, SERVICE_ACCOUNT_SECRETS,
};
use crate::object_fields::{array_at, bool_at, map_length_at, object_name, string_at, value_at};
use crate::time_formatting::age_cell;

/// Label prefix that marks a node role, as in `node-role.kubernetes.io/control-plane`.
const NODE_ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
/// Older label whose value names the node's role.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

pub(crate) fn namespace_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Status", "string", "The status of the namespace"),
        age_column(),
    ]
}

pub(crate) fn namespace_cells(namespace: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(namespace)),
        Value::from(string_at(namespace, &["status", "phase"])),
        age_cell(namespace, now),
    ]
}

pub(crate) fn node_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Status", "string", "The status of the node"),
        column("Roles", "string", "The roles of the node"),
        age_column(),
        column("Version", "string", NODE_SYSTEM_INFO_KUBELET_VERSION),
        wide_column("Internal-IP", "string", NODE_STATUS_ADDRESSES),
        wide_column("External-IP", "string", NODE_STATUS_ADDRESSES),
        wide_column("OS-Image", "string", NODE_SYSTEM_INFO_OS_IMAGE),
        wide_column("Kernel-Version", "string", NODE_SYSTEM_INFO_KERNEL_VERSION),
        wide_column(
            "Container-Runtime",
            "string",
            NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION,
        ),
    ]
}

/// "Ready", "NotReady" or "Unknown", then ",SchedulingDisabled" for a cordoned node.
fn node_status(node: &Value) -> String {
    // Like Kubernetes, the last Ready condition wins if the list repeats it.
    let ready_condition = array_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|condition| string_at(condition, &["type"]) == "Ready");
    let mut status = vec![match ready_condition {
        Some(condition) if string_at(condition, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// The roles from the node's role labels, sorted and de-duplicated, or "<none>".
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = value_at(node, &["metadata", "labels"])
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| {
                    if let Some(role) = key.strip_prefix(NODE_ROLE_LABEL_PREFIX) {
                        Some(role).filter(|role| !role.is_empty())
                    } else if key == NODE_ROLE_LABEL {
                        value.as_str().filter(|role| !role.is_empty())
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    }
}

/// The first address of the given type, or "<none>".
fn node_address(node: &Value, address_type: &str) -> String {
    array_at(node, &["status", "addresses"])
        .iter()
        .find(|address| string_at(address, &["type"]) == address_type)
        .map_or_else(
            || "<none>".to_string(),
            |address| string_at(address, &["address"]).to_string(),
        )
}

fn node_info_or_unknown(node: &Value, field: &str) -> String {
    let value = string_at(node, &["status", "nodeInfo", field]);
    if value.is_empty() {
        "<unknown>".to_string()
    } else {
        value.to_string()
    }
}

pub(crate) fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(node)),
        Value::from(node_status(node)),
        Value::from(node_roles(node)),
        age_cell(node, now),
        Value::from(string_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        Value::from(node_address(node, "InternalIP")),
        Value::from(node_address(node, "ExternalIP")),
        Value::from(node_info_or_unknown(node, "osImage")),
        Value::from(node_info_or_unknown(node, "kernelVersion")),
        Value::from(node_info_or_unknown(node, "containerRuntimeVersion")),
    ]
}

pub(crate) fn config_map_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Data", "string", CONFIG_MAP_DATA),
        age_column(),
    ]
}

pub(crate) fn config_map_cells(config_map: &Value, now: Timestamp) -> Vec<Value> {
    let keys = map_length_at(config_map, &["data"]) + map_length_at(config_map, &["binaryData"]);
    vec![
        Value::from(object_name(config_map)),
        Value::from(keys),
        age_cell(config_map, now),
    ]
}

pub(crate) fn secret_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Type", "string", SECRET_TYPE),
        column("Data", "string", SECRET_DATA),
        age_column(),
    ]
}

/// The number of data keys. Kubernetes merges `stringData` into `data` when it reads a
/// Secret, so keys only present in `stringData` count too.
fn secret_key_count(secret: &Value) -> usize {
    let data = value_at(secret, &["data"]).and_then(Value::as_object);
    let string_only_keys = value_at(secret, &["stringData"])
        .and_then(Value::as_object)
        .map_or(0, |string_data| {
            string_data
                .keys()
                .filter(|key| !data.is_some_and(|data| data.contains_key(*key)))
                .count()
        });
    data.map_or(0, serde_json::Map::len) + string_only_keys
}

pub(crate) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(secret)),
        Value::from(string_at(secret, &["type"])),
        Value::from(secret_key_count(secret)),
        age_cell(secret, now),
    ]
}

pub(crate) fn service_account_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Secrets", "string", SERVICE_ACCOUNT_SECRETS),
        age_column(),
    ]
}

pub(crate) fn service_account_cells(service_account: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(service_account)),
        Value::from(array_at(service_account, &["secrets"]).len()),
        age_cell(service_account, now),
    ]
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
