//! The kind-specific parts of describe for the kinds people describe most.

use serde_json::Value;

use crate::describe::describe_timestamp;
use crate::describe_format::{DescribeWriter, describe_time, scalar_text, text_at};

/// Writes the body for `kind` and returns true, or returns false for kinds that use the
/// generic describer.
pub fn describe_kind_body(kind: &str, object: &Value, writer: &mut DescribeWriter) -> bool {
    match kind {
        "Pod" => describe_pod(object, writer),
        "Deployment" => describe_deployment(object, writer),
        "Service" => describe_service(object, writer),
        "Namespace" => describe_namespace(object, writer),
        "ConfigMap" => describe_config_map(object, writer),
        "Secret" => describe_secret(object, writer),
        "Node" => describe_node(object, writer),
        _ => return false,
    }
    true
}

fn array_at<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `app=web,tier=front` from a map of strings, sorted.
fn selector_text(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(key, value)| format!("{key}={}", scalar_text(value)))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs.join(",")
}

fn describe_pod(pod: &Value, writer: &mut DescribeWriter) {
    writer.field(
        0,
        "Service Account",
        &text_at(pod, "/spec/serviceAccountName"),
    );
    let node = text_at(pod, "/spec/nodeName");
    let host_ip = text_at(pod, "/status/hostIP");
    let node_text = if host_ip.is_empty() {
        node
    } else {
        format!("{node}/{host_ip}")
    };
    writer.field(0, "Node", &node_text);
    let start_time = text_at(pod, "/status/startTime");
    writer.field(
        0,
        "Start Time",
        &if start_time.is_empty() {
            start_time
        } else {
            describe_time(&start_time)
        },
    );
    writer.field(0, "Status", &text_at(pod, "/status/phase"));
    writer.field(0, "IP", &text_at(pod, "/status/podIP"));
    let statuses = array_at(pod, "/status/containerStatuses");
    describe_containers(
        writer,
        0,
        "Containers",
        array_at(pod, "/spec/containers"),
        statuses,
    );
    let conditions = array_at(pod, "/status/conditions");
    if conditions.is_empty() {
        return;
    }
    writer.line(0, "Conditions:");
    writer.line(1, "Type\tStatus");
    for condition in conditions {
        writer.line(
            1,
            &format!(
                "{}\t{}",
                text_at(condition, "/type"),
                text_at(condition, "/status")
            ),
        );
    }
}

/// The `Containers:` block shared by pods and pod templates.
fn describe_containers(
    writer: &mut DescribeWriter,
    level: usize,
    label: &str,
    containers: &[Value],
    statuses: &[Value],
) {
    writer.line(level, &format!("{label}:"));
    for container in containers {
        let name = text_at(container, "/name");
        writer.line(level + 1, &format!("{name}:"));
        let inner = level + 2;
        writer.field(inner, "Image", &text_at(container, "/image"));
        let ports: Vec<String> = array_at(container, "/ports")
            .iter()
            .map(|port| {
                let protocol = text_at(port, "/protocol");
                let protocol = if protocol.is_empty() {
                    "TCP".to_string()
                } else {
                    protocol
                };
                format!("{}/{protocol}", text_at(port, "/containerPort"))
            })
            .collect();
        writer.field(inner, "Port", &ports.join(", "));
        let command: Vec<String> = array_at(container, "/command")
            .iter()
            .map(scalar_text)
            .collect();
        if !command.is_empty() {
            writer.field(inner, "Command", &command.join(" "));
        }
        if let Some(status) = statuses
            .iter()
            .find(|status| text_at(status, "/name") == name)
        {
            describe_container_state(writer, inner, "State", status.get("state"));
            if let Some(last) = status
                .get("lastState")
                .filter(|state| state.as_object().is_some_and(|map| !map.is_empty()))
            {
                describe_container_state(writer, inner, "Last State", Some(last));
            }
            let ready = status
                .get("ready")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            writer.field(inner, "Ready", if ready { "True" } else { "False" });
            writer.field(inner, "Restart Count", &text_at(status, "/restartCount"));
        }
        let environment: Vec<String> = array_at(container, "/env")
            .iter()
            .map(|variable| {
                format!(
                    "{}:\t{}",
                    text_at(variable, "/name"),
                    text_at(variable, "/value")
                )
            })
            .collect();
        if environment.is_empty() {
            writer.field(inner, "Environment", "<none>");
        } else {
            writer.line(inner, "Environment:");
            for variable in environment {
                writer.line(inner + 1, &variable);
            }
        }
    }
}

fn describe_container_state(
    writer: &mut DescribeWriter,
    level: usize,
    label: &str,
    state: Option<&Value>,
) {
    let Some((phase, details)) = state
        .and_then(Value::as_object)
        .and_then(|map| map.iter().next())
    else {
        writer.field(level, label, "Waiting");
        return;
    };
    let title = match phase.as_str() {
        "running" => "Running",
        "terminated" => "Terminated",
        _ => "Waiting",
    };
    writer.field(level, label, title);
    let reason = text_at(details, "/reason");
    if !reason.is_empty() {
        writer.field(level + 1, "Reason", &reason);
    }
    if phase == "terminated" {
        writer.field(level + 1, "Exit Code", &text_at(details, "/exitCode"));
    }
    for (field, pointer) in [("Started", "/startedAt"), ("Finished", "/finishedAt")] {
        let time = text_at(details, pointer);
        if !time.is_empty() {
            writer.field(level + 1, field, &describe_time(&time));
        }
    }
}

fn describe_deployment(deployment: &Value, writer: &mut DescribeWriter) {
    describe_timestamp(
        writer,
        "CreationTimestamp",
        deployment,
        "/metadata/creationTimestamp",
    );
    writer.field(
        0,
        "Selector",
        &selector_text(deployment.pointer("/spec/selector/matchLabels")),
    );
    let count = |pointer: &str| {
        deployment
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let desired = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    writer.field(
        0,
        "Replicas",
        &format!(
            "{desired} desired | {} updated | {} total | {} available | {} unavailable",
            count("/status/updatedReplicas"),
            count("/status/replicas"),
            count("/status/availableReplicas"),
            count("/status/unavailableReplicas")
        ),
    );
    let strategy = text_at(deployment, "/spec/strategy/type");
    writer.field(0, "StrategyType", &strategy);
    writer.field(
        0,
        "MinReadySeconds",
        &count("/spec/minReadySeconds").to_string(),
    );
    if strategy == "RollingUpdate" {
        let unavailable = text_at(deployment, "/spec/strategy/rollingUpdate/maxUnavailable");
        let surge = text_at(deployment, "/spec/strategy/rollingUpdate/maxSurge");
        writer.field(
            0,
            "RollingUpdateStrategy",
            &format!("{unavailable} max unavailable, {surge} max surge"),
        );
    }
    writer.line(0, "Pod Template:");
    writer.string_map(
        1,
        "Labels",
        deployment.pointer("/spec/template/metadata/labels"),
    );
    describe_containers(
        writer,
        1,
        "Containers",
        array_at(deployment, "/spec/template/spec/containers"),
        &[],
    );
    let conditions = array_at(deployment, "/status/conditions");
    if !conditions.is_empty() {
        writer.line(0, "Conditions:");
        writer.line(1, "Type\tStatus\tReason");
        writer.line(1, "----\t------\t------");
        for condition in conditions {
            writer.line(
                1,
                &format!(
                    "{}\t{}\t{}",
                    text_at(condition, "/type"),
                    text_at(condition, "/status"),
                    text_at(condition, "/reason")
                ),
            );
        }
    }
}

fn describe_service(service: &Value, writer: &mut DescribeWriter) {
    writer.field(
        0,
        "Selector",
        &selector_text(service.pointer("/spec/selector")),
    );
    writer.field(0, "Type", &text_at(service, "/spec/type"));
    writer.field(0, "IP", &text_at(service, "/spec/clusterIP"));
    for port in array_at(service, "/spec/ports") {
        let name = text_at(port, "/name");
        let name = if name.is_empty() {
            "<unset>".to_string()
        } else {
            name
        };
        let protocol = text_at(port, "/protocol");
        let protocol = if protocol.is_empty() {
            "TCP".to_string()
        } else {
            protocol
        };
        writer.field(
            0,
            "Port",
            &format!("{name}  {}/{protocol}", text_at(port, "/port")),
        );
        let target = text_at(port, "/targetPort");
        let target = if target.is_empty() {
            text_at(port, "/port")
        } else {
            target
        };
        writer.field(0, "TargetPort", &format!("{target}/{protocol}"));
        let node_port = text_at(port, "/nodePort");
        if !node_port.is_empty() {
            writer.field(0, "NodePort", &format!("{name}  {node_port}/{protocol}"));
        }
    }
    let affinity = text_at(service, "/spec/sessionAffinity");
    writer.field(
        0,
        "Session Affinity",
        if affinity.is_empty() {
            "None"
        } else {
            &affinity
        },
    );
}

fn describe_namespace(namespace: &Value, writer: &mut DescribeWriter) {
    writer.field(0, "Status", &text_at(namespace, "/status/phase"));
    writer.blank();
    writer.line(0, "No resource quota.");
    writer.blank();
    writer.line(0, "No LimitRange resource.");
}

fn describe_config_map(config_map: &Value, writer: &mut DescribeWriter) {
    writer.blank();
    writer.line(0, "Data");
    writer.line(0, "====");
    if let Some(data) = config_map.get("data").and_then(Value::as_object) {
        for (key, value) in data {
            writer.line(0, &format!("{key}:"));
            writer.line(0, "----");
            writer.line(0, &scalar_text(value));
            writer.blank();
        }
    }
    writer.blank();
    writer.line(0, "BinaryData");
    writer.line(0, "====");
    if let Some(binary) = config_map.get("binaryData").and_then(Value::as_object) {
        for (key, value) in binary {
            writer.field(
                0,
                key,
                &format!("{} bytes", decoded_length(&scalar_text(value))),
            );
        }
    }
    writer.blank();
}

/// Secrets show sizes, never values: the decoded length of each base64 entry.
fn describe_secret(secret: &Value, writer: &mut DescribeWriter) {
    writer.blank();
    writer.field(0, "Type", &text_at(secret, "/type"));
    writer.blank();
    writer.line(0, "Data");
    writer.line(0, "====");
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for (key, value) in data {
            writer.field(
                0,
                key,
                &format!("{} bytes", decoded_length(&scalar_text(value))),
            );
        }
    }
}

/// The number of bytes a base64 text decodes to.
pub fn decoded_length(encoded: &str) -> usize {
    let trimmed = encoded.trim();
    let padding = trimmed
        .chars()
        .rev()
        .take_while(|character| *character == '=')
        .count();
    (trimmed.len() / 4 * 3
        + match trimmed.len() % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        })
    .saturating_sub(padding)
}

fn describe_node(node: &Value, writer: &mut DescribeWriter) {
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .keys()
                .filter_map(|key| {
                    key.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    writer.field(0, "Roles", &roles.join(","));
    describe_timestamp(
        writer,
        "CreationTimestamp",
        node,
        "/metadata/creationTimestamp",
    );
    let unschedulable = node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    writer.field(0, "Unschedulable", &unschedulable.to_string());
    writer.line(0, "Conditions:");
    writer.line(1, "Type\tStatus\tLastHeartbeatTime\tReason\tMessage");
    writer.line(1, "----\t------\t-----------------\t------\t-------");
    for condition in array_at(node, "/status/conditions") {
        writer.line(
            1,
            &format!(
                "{}\t{}\t{}\t{}\t{}",
                text_at(condition, "/type"),
                text_at(condition, "/status"),
                describe_time(&text_at(condition, "/lastHeartbeatTime")),
                text_at(condition, "/reason"),
                text_at(condition, "/message")
            ),
        );
    }
    writer.line(0, "Addresses:");
    for address in array_at(node, "/status/addresses") {
        writer.field(1, &text_at(address, "/type"), &text_at(address, "/address"));
    }
    for (label, pointer) in [
        ("Capacity", "/status/capacity"),
        ("Allocatable", "/status/allocatable"),
    ] {
        writer.line(0, &format!("{label}:"));
        if let Some(resources) = node.pointer(pointer).and_then(Value::as_object) {
            for (name, quantity) in resources {
                writer.field(1, name, &scalar_text(quantity));
            }
        }
    }
    writer.line(0, "System Info:");
    for (label, field) in [
        ("Machine ID", "machineID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
    ] {
        writer.field(
            1,
            label,
            &text_at(node, &format!("/status/nodeInfo/{field}")),
        );
    }
}
