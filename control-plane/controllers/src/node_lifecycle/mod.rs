//! Node lifecycle: noticing that a node has gone quiet and moving its pods elsewhere, as
//! kube-controller-manager's `node-lifecycle-controller` and `taint-eviction-controller`
//! do between them.
//!
//! - The node controller (`node_health`, component `node-controller`) watches Nodes and
//!   their Leases in `kube-node-lease`. A node whose last sign of life (lease renewal,
//!   Ready heartbeat, or its creation) is older than `--node-monitor-grace-period` gets its
//!   conditions set to Unknown, its pods marked not ready, and the
//!   `node.kubernetes.io/unreachable:NoExecute` taint; the NoSchedule taints follow the
//!   node's conditions. When the node reports Ready again, the taints go.
//! - The taint eviction controller (`taint_eviction`, component
//!   `taint-eviction-controller`) deletes the pods on a node with a NoExecute taint they do
//!   not tolerate, at once, or after the `tolerationSeconds` they tolerate it for.
//!
//! Both are level-triggered: the decisions come from the objects' timestamps (a lease's
//! `renewTime`, a taint's `timeAdded`) rather than from timers kept in memory, so a
//! restarted controller manager carries on where the old one stopped. A dead node sends no
//! events, so each reconcile asks to be run again at the moment its decision would change.

mod disruption;
mod health;
mod node_health;
mod node_taints;
mod taint_eviction;
mod tolerations;

use std::sync::Arc;

use kube::Client;

use crate::ControllerManagerOptions;

/// The namespace of the nodes' Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The taint of a node whose Ready condition is False.
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint of a node whose Ready condition is Unknown: its agent stopped reporting.
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";

/// Runs the node controller and the taint eviction controller until the controller
/// manager stops.
pub async fn run(client: Client, options: Arc<ControllerManagerOptions>) {
    tokio::join!(
        node_health::run(client.clone(), options),
        taint_eviction::run(client),
    );
}
