//! Printers for the apps group: Deployment, ReplicaSet, DaemonSet and StatefulSet.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{
    age_column, column, containers_column, images_column, name_column, wide_column,
};
use crate::descriptions::{
    DAEMON_SET_SPEC_SELECTOR, DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED,
    DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED, DAEMON_SET_STATUS_NUMBER_AVAILABLE,
    DAEMON_SET_STATUS_NUMBER_READY, DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED,
    DEPLOYMENT_SPEC_SELECTOR, DEPLOYMENT_STATUS_AVAILABLE_REPLICAS,
    DEPLOYMENT_STATUS_UPDATED_REPLICAS, POD_SPEC_NODE_SELECTOR, REPLICA_SET_SPEC_REPLICAS,
    REPLICA_SET_SPEC_SELECTOR, REPLICA_SET_STATUS_READY_REPLICAS, REPLICA_SET_STATUS_REPLICAS,
};
use crate::labels::{format_label_selector, format_labels, label_selector_string};
use crate::object_fields::{
    array_at, container_names_and_images, integer_at, object_name, value_at,
};
use crate::time_formatting::age_cell;

/// `spec.replicas`. The API server defaults it to 1 before storing, so it is only missing
/// from objects that skipped defaulting; those print Go's zero value, 0.
fn desired_replicas(object: &Value) -> i64 {
    integer_at(object, &["spec", "replicas"])
}

/// The wide "Containers" and "Images" cells from `spec.template.spec.containers`.
fn template_container_cells(object: &Value) -> [Value; 2] {
    let (names, images) = container_names_and_images(array_at(
        object,
        &["spec", "template", "spec", "containers"],
    ));
    [Value::from(names), Value::from(images)]
}

pub(crate) fn deployment_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Ready", "string", "Number of the pod with ready state"),
        column("Up-to-date", "string", DEPLOYMENT_STATUS_UPDATED_REPLICAS),
        column("Available", "string", DEPLOYMENT_STATUS_AVAILABLE_REPLICAS),
        age_column(),
        containers_column(),
        images_column(),
        wide_column("Selector", "string", DEPLOYMENT_SPEC_SELECTOR),
    ]
}

pub(crate) fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let ready = integer_at(deployment, &["status", "readyReplicas"]);
    // The Deployment printer shows an empty selector as "" and a bad one as "<invalid>",
    // unlike the other workloads' "<none>" and "<error>".
    let selector = label_selector_string(value_at(deployment, &["spec", "selector"]))
        .unwrap_or_else(|_| "<invalid>".to_string());
    let [containers, images] = template_container_cells(deployment);
    vec![
        Value::from(object_name(deployment)),
        Value::from(format!("{ready}/{}", desired_replicas(deployment))),
        Value::from(integer_at(deployment, &["status", "updatedReplicas"])),
        Value::from(integer_at(deployment, &["status", "availableReplicas"])),
        age_cell(deployment, now),
        containers,
        images,
        Value::from(selector),
    ]
}

pub(crate) fn replica_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Desired", "integer", REPLICA_SET_SPEC_REPLICAS),
        column("Current", "integer", REPLICA_SET_STATUS_REPLICAS),
        column("Ready", "integer", REPLICA_SET_STATUS_READY_REPLICAS),
        age_column(),
        containers_column(),
        images_column(),
        wide_column("Selector", "string", REPLICA_SET_SPEC_SELECTOR),
    ]
}

pub(crate) fn replica_set_cells(replica_set: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_container_cells(replica_set);
    vec![
        Value::from(object_name(replica_set)),
        Value::from(desired_replicas(replica_set)),
        Value::from(integer_at(replica_set, &["status", "replicas"])),
        Value::from(integer_at(replica_set, &["status", "readyReplicas"])),
        age_cell(replica_set, now),
        containers,
        images,
        Value::from(format_label_selector(value_at(
            replica_set,
            &["spec", "selector"],
        ))),
    ]
}

pub(crate) fn daemon_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column(
            "Desired",
            "integer",
            DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED,
        ),
        column(
            "Current",
            "integer",
            DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED,
        ),
        column("Ready", "integer", DAEMON_SET_STATUS_NUMBER_READY),
        column(
            "Up-to-date",
            "integer",
            DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED,
        ),
        column("Available", "integer", DAEMON_SET_STATUS_NUMBER_AVAILABLE),
        column("Node Selector", "string", POD_SPEC_NODE_SELECTOR),
        age_column(),
        containers_column(),
        images_column(),
        wide_column("Selector", "string", DAEMON_SET_SPEC_SELECTOR),
    ]
}

pub(crate) fn daemon_set_cells(daemon_set: &Value, now: Timestamp) -> Vec<Value> {
    let status = |field: &str| Value::from(integer_at(daemon_set, &["status", field]));
    let [containers, images] = template_container_cells(daemon_set);
    vec![
        Value::from(object_name(daemon_set)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        Value::from(format_labels(value_at(
            daemon_set,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age_cell(daemon_set, now),
        containers,
        images,
        Value::from(format_label_selector(value_at(
            daemon_set,
            &["spec", "selector"],
        ))),
    ]
}

pub(crate) fn stateful_set_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Ready", "string", "Number of the pod with ready state"),
        age_column(),
        containers_column(),
        images_column(),
    ]
}

pub(crate) fn stateful_set_cells(stateful_set: &Value, now: Timestamp) -> Vec<Value> {
    let ready = integer_at(stateful_set, &["status", "readyReplicas"]);
    let [containers, images] = template_container_cells(stateful_set);
    vec![
        Value::from(object_name(stateful_set)),
        Value::from(format!("{ready}/{}", desired_replicas(stateful_set))),
        age_cell(stateful_set, now),
        containers,
        images,
    ]
}

#[cfg(test)]
#[path = "apps_tests.rs"]
mod tests;
