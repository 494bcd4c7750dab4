//! The node controller (component `node-controller`): one reconcile per Node, run when the
//! Node or its Lease changes and again at the moment the node would become overdue.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use super::NODE_LEASE_NAMESPACE;
use super::disruption::every_zone_fully_disrupted;
use super::health::{READY, last_heartbeat, mark_status_unknown, ready_status, trusted_until};
use super::node_taints::{NoExecute, no_execute_for, reconciled_taints};
use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::retry::RetryBackoff;

/// How often an overdue node is looked at again (`--node-monitor-period`, 5 s): its pods
/// and the other nodes may change while it says nothing.
const NODE_MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// The longest a healthy node waits for its next look; a grace period too long to count
/// in must not overflow the timer.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);
/// Woken this much after the moment a node becomes overdue, so that the reconcile finds
/// it overdue rather than a hair early.
const WAKE_UP_MARGIN: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum NodeHealthError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

struct Context {
    client: Client,
    options: Arc<ControllerManagerOptions>,
    recorder: EventRecorder,
    backoff: RetryBackoff,
}

pub async fn run(client: Client, options: Arc<ControllerManagerOptions>) {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), "node-controller"),
        client,
        options,
        backoff: RetryBackoff::default(),
    });
    Controller::new(nodes, watcher::Config::default())
        .watches(leases, watcher::Config::default(), |lease: Lease| {
            Some(ObjectRef::<Node>::new(&lease.name_any()))
        })
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "node controller reconcile failed");
            }
        })
        .await;
}

fn error_policy(node: Arc<Node>, error: &NodeHealthError, context: Arc<Context>) -> Action {
    tracing::warn!(node = %node.name_any(), %error, "cannot update the node's health");
    context.backoff.requeue_after_failure(node.as_ref())
}

async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, NodeHealthError> {
    let action = update_node_health(&node.name_any(), &context).await?;
    context.backoff.succeeded(node.as_ref());
    Ok(action)
}

fn until(moment: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(moment.duration_since(now))
        .unwrap_or(Duration::ZERO)
        .min(LONGEST_WAIT)
}

async fn update_node_health(name: &str, context: &Context) -> Result<Action, NodeHealthError> {
    let nodes: Api<Node> = Api::all(context.client.clone());
    let leases: Api<Lease> = Api::namespaced(context.client.clone(), NODE_LEASE_NAMESPACE);
    let Some(mut node) = nodes.get_opt(name).await? else {
        return Ok(Action::await_change());
    };
    let lease = leases.get_opt(name).await?;
    let grace_period = context.options.node_monitor_grace_period;
    let now = Timestamp::now();
    let trusted_until = trusted_until(last_heartbeat(&node, lease.as_ref()), grace_period);
    let overdue = now > trusted_until;
    if overdue {
        let was_ready = ready_status(&node) == Some("True");
        if mark_status_unknown(&mut node, now) {
            tracing::info!(node = name, "the node stopped posting its status");
            node = nodes
                .replace_status(name, &PostParams::default(), &node)
                .await?;
            if was_ready {
                context
                    .recorder
                    .publish(
                        &node,
                        EventType::Normal,
                        "NodeNotReady",
                        format!("Node {name} status is now: NodeNotReady"),
                    )
                    .await;
            }
        }
        mark_pods_not_ready(name, context).await?;
    }
    let ready = ready_status(&node);
    let mut no_execute = no_execute_for(ready, false);
    if matches!(no_execute, NoExecute::Taint(_))
        && evictions_held(context, grace_period, now).await?
    {
        no_execute = no_execute_for(ready, true);
    }
    if let Some(taints) = reconciled_taints(&node, no_execute, now) {
        node.spec.get_or_insert_with(Default::default).taints = Some(taints);
        nodes.replace(name, &PostParams::default(), &node).await?;
    }
    Ok(if overdue {
        Action::requeue(NODE_MONITOR_PERIOD)
    } else {
        Action::requeue(until(trusted_until, now) + WAKE_UP_MARGIN)
    })
}

/// Whether every zone is fully disrupted, counting as ready only the nodes whose Ready
/// condition is True and whose last sign of life is within the grace period.
async fn evictions_held(
    context: &Context,
    grace_period: Duration,
    now: Timestamp,
) -> Result<bool, NodeHealthError> {
    let nodes: Api<Node> = Api::all(context.client.clone());
    let leases: Api<Lease> = Api::namespaced(context.client.clone(), NODE_LEASE_NAMESPACE);
    let nodes = nodes.list(&ListParams::default()).await?.items;
    let leases = leases.list(&ListParams::default()).await?.items;
    let readiness = nodes.iter().map(|node| {
        let lease = leases
            .iter()
            .find(|lease| lease.metadata.name == node.metadata.name);
        let fresh = now <= trusted_until(last_heartbeat(node, lease), grace_period);
        (node, fresh && ready_status(node) == Some("True"))
    });
    let held = every_zone_fully_disrupted(readiness);
    if held {
        tracing::info!("no node is ready: evictions are held back");
    }
    Ok(held)
}

/// Sets the Ready condition of the node's pods to False (`MarkPodsNotReady`): their node
/// cannot vouch for them any more, so Services stop sending them traffic. A pod already
/// marked is not written again, so this runs on every look at an overdue node.
async fn mark_pods_not_ready(node_name: &str, context: &Context) -> Result<(), NodeHealthError> {
    let pods: Api<Pod> = Api::all(context.client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node_name}"));
    for mut pod in pods.list(&on_node).await?.items {
        let Some(ready) = pod
            .status
            .as_mut()
            .and_then(|status| status.conditions.as_mut())
            .and_then(|conditions| {
                conditions
                    .iter_mut()
                    .find(|condition| condition.type_ == READY)
            })
        else {
            continue;
        };
        if ready.status == "False" {
            continue;
        }
        ready.status = "False".to_owned();
        ready.last_transition_time = Some(Time(Timestamp::now()));
        let namespace = pod.namespace().unwrap_or_default();
        let namespaced: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
        match namespaced
            .replace_status(&pod.name_any(), &PostParams::default(), &pod)
            .await
        {
            Ok(updated) => {
                context
                    .recorder
                    .publish(
                        &updated,
                        EventType::Warning,
                        "NodeNotReady",
                        "Node is not ready",
                    )
                    .await;
            }
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
