//! The Pod printer: READY, STATUS and RESTARTS as kubectl shows them, computed the way
//! Kubernetes' `printPod` does from the container statuses.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column, wide_column};
use crate::descriptions::{
    POD_SPEC_NODE_NAME, POD_SPEC_READINESS_GATES, POD_STATUS_NOMINATED_NODE_NAME, POD_STATUS_POD_IP,
};
use crate::object_fields::{
    array_at, bool_at, integer_at, is_being_deleted, object_name, optional_bool_at, string_at,
    value_at,
};
use crate::time_formatting::{age_cell, time_since, timestamp_at};

/// The pod status reason the node lifecycle controller sets when a node stops responding.
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

pub(crate) fn columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        column(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        age_column(),
        wide_column("IP", "string", POD_STATUS_POD_IP),
        wide_column("Node", "string", POD_SPEC_NODE_NAME),
        wide_column("Nominated Node", "string", POD_STATUS_NOMINATED_NODE_NAME),
        wide_column("Readiness Gates", "string", POD_SPEC_READINESS_GATES),
    ]
}

/// A sidecar: an init container with `restartPolicy: Always` keeps running next to the
/// app containers, so it counts towards READY and RESTARTS like them.
fn is_restartable_init_container(pod: &Value, container_name: &str) -> bool {
    array_at(pod, &["spec", "initContainers"])
        .iter()
        .find(|container| string_at(container, &["name"]) == container_name)
        .is_some_and(|container| string_at(container, &["restartPolicy"]) == "Always")
}

fn has_condition(pod: &Value, condition_type: &str) -> bool {
    array_at(pod, &["status", "conditions"])
        .iter()
        .any(|condition| {
            string_at(condition, &["type"]) == condition_type
                && string_at(condition, &["status"]) == "True"
        })
}

/// When the container last finished before its current run, if it ever did.
fn last_termination_time(container_status: &Value) -> Option<Timestamp> {
    timestamp_at(container_status, &["lastState", "terminated", "finishedAt"])
}

/// Keeps the later of two optional times, as `lastRestartDate.Before(...)` does in Go.
fn later(current: Option<Timestamp>, candidate: Option<Timestamp>) -> Option<Timestamp> {
    match (current, candidate) {
        (Some(current), Some(candidate)) => Some(current.max(candidate)),
        (current, candidate) => current.or(candidate),
    }
}

/// The reason an exited container gives when it has no reason string.
fn exit_description(terminated: &Value) -> String {
    let signal = integer_at(terminated, &["signal"]);
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", integer_at(terminated, &["exitCode"]))
    }
}

/// The tallies that the READY, STATUS and RESTARTS cells are made of.
struct PodSummary {
    reason: String,
    ready_containers: usize,
    total_containers: usize,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn summarize(pod: &Value) -> PodSummary {
    let phase = string_at(pod, &["status", "phase"]);
    let status_reason = string_at(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };
    let scheduling_gated = array_at(pod, &["status", "conditions"])
        .iter()
        .any(|condition| {
            string_at(condition, &["type"]) == "PodScheduled"
                && string_at(condition, &["reason"]) == "SchedulingGated"
        });
    if scheduling_gated {
        reason = "SchedulingGated".to_string();
    }

    let init_containers = array_at(pod, &["spec", "initContainers"]);
    let sidecar_count = init_containers
        .iter()
        .filter(|container| string_at(container, &["restartPolicy"]) == "Always")
        .count();
    let mut summary = PodSummary {
        reason,
        ready_containers: 0,
        total_containers: array_at(pod, &["spec", "containers"]).len() + sidecar_count,
        restarts: 0,
        last_restart: None,
    };
    let mut sidecar_restarts = 0;
    let mut last_sidecar_restart = None;

    let mut initializing = false;
    for (index, status) in array_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let restart_count = integer_at(status, &["restartCount"]);
        summary.restarts += restart_count;
        summary.last_restart = later(summary.last_restart, last_termination_time(status));
        let is_sidecar = is_restartable_init_container(pod, string_at(status, &["name"]));
        if is_sidecar {
            sidecar_restarts += restart_count;
            last_sidecar_restart = later(last_sidecar_restart, last_termination_time(status));
        }
        let terminated =
            value_at(status, &["state", "terminated"]).filter(|value| value.is_object());
        let waiting_reason = string_at(status, &["state", "waiting", "reason"]);
        // An init container that finished successfully is done; move on to the next one.
        if terminated.is_some_and(|terminated| integer_at(terminated, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && optional_bool_at(status, &["started"]) == Some(true) {
            if bool_at(status, &["ready"]) {
                summary.ready_containers += 1;
            }
            continue;
        }
        if let Some(terminated) = terminated {
            let terminated_reason = string_at(terminated, &["reason"]);
            summary.reason = if terminated_reason.is_empty() {
                format!("Init:{}", exit_description(terminated))
            } else {
                format!("Init:{terminated_reason}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            summary.reason = format!("Init:{waiting_reason}");
        } else {
            summary.reason = format!("Init:{index}/{}", init_containers.len());
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(pod, "Initialized") {
        summary.restarts = sidecar_restarts;
        summary.last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Kubernetes walks the statuses backwards, so the first container's reason wins.
        for status in array_at(pod, &["status", "containerStatuses"]).iter().rev() {
            summary.restarts += integer_at(status, &["restartCount"]);
            summary.last_restart = later(summary.last_restart, last_termination_time(status));
            let waiting_reason = string_at(status, &["state", "waiting", "reason"]);
            let terminated =
                value_at(status, &["state", "terminated"]).filter(|value| value.is_object());
            let running = value_at(status, &["state", "running"]).is_some_and(Value::is_object);
            if !waiting_reason.is_empty() {
                summary.reason = waiting_reason.to_string();
            } else if let Some(terminated) = terminated {
                let terminated_reason = string_at(terminated, &["reason"]);
                summary.reason = if terminated_reason.is_empty() {
                    exit_description(terminated)
                } else {
                    terminated_reason.to_string()
                };
            } else if bool_at(status, &["ready"]) && running {
                has_running = true;
                summary.ready_containers += 1;
            }
        }
        // A pod whose finished containers say "Completed" is still running while any
        // container runs.
        if summary.reason == "Completed" && has_running {
            summary.reason = if has_condition(pod, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if is_being_deleted(pod) && status_reason == NODE_UNREACHABLE_POD_REASON {
        summary.reason = "Unknown".to_string();
    } else if is_being_deleted(pod) && phase != "Succeeded" && phase != "Failed" {
        summary.reason = "Terminating".to_string();
    }
    summary
}

/// "1/1" style count of readiness gates whose condition is True, or "<none>".
fn readiness_gates(pod: &Value) -> String {
    let gates = array_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = array_at(pod, &["status", "conditions"]);
    let true_conditions = gates
        .iter()
        .filter(|gate| {
            let condition_type = string_at(gate, &["conditionType"]);
            conditions
                .iter()
                .find(|condition| string_at(condition, &["type"]) == condition_type)
                .is_some_and(|condition| string_at(condition, &["status"]) == "True")
        })
        .count();
    format!("{true_conditions}/{}", gates.len())
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text.to_string()
    }
}

pub(crate) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = summarize(pod);
    let restarts = match summary.last_restart {
        Some(last_restart) if summary.restarts != 0 => {
            format!(
                "{} ({} ago)",
                summary.restarts,
                time_since(Some(last_restart), now)
            )
        }
        _ => summary.restarts.to_string(),
    };
    // Older objects may only carry `podIP`; Kubernetes' conversion fills `podIPs` from it.
    let pod_ip = array_at(pod, &["status", "podIPs"]).first().map_or_else(
        || string_at(pod, &["status", "podIP"]),
        |first| string_at(first, &["ip"]),
    );
    vec![
        Value::from(object_name(pod)),
        Value::from(format!(
            "{}/{}",
            summary.ready_containers, summary.total_containers
        )),
        Value::from(summary.reason),
        Value::from(restarts),
        age_cell(pod, now),
        Value::from(or_none(pod_ip)),
        Value::from(or_none(string_at(pod, &["spec", "nodeName"]))),
        Value::from(or_none(string_at(pod, &["status", "nominatedNodeName"]))),
        Value::from(readiness_gates(pod)),
    ]
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
