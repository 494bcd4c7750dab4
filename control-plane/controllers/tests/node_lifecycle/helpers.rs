//! What the node lifecycle tests share: short grace periods, pods bound straight to a
//! node, and waiting for conditions, taints, deletions and events.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Taint};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use wasmkube_controllers::ControllerManagerOptions;

use crate::support::{TestControlPlane, eventually};

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const GRACE_PERIOD: Duration = Duration::from_secs(2);
/// Long enough for the grace period, a reconcile and a few writes.
pub const NOTICED_WITHIN: Duration = Duration::from_secs(10);

pub fn quick_to_notice() -> ControllerManagerOptions {
    ControllerManagerOptions {
        node_monitor_grace_period: GRACE_PERIOD,
        ..ControllerManagerOptions::default()
    }
}

pub async fn start() -> TestControlPlane {
    TestControlPlane::start_with(quick_to_notice()).await
}

/// A pod bound to `node` directly, tolerating what `tolerations` says.
pub async fn create_pod_on(client: &Client, name: &str, node: &str, tolerations: Value) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "hollow/run"}],
            "tolerations": tolerations,
        },
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created")
}

pub fn unreachable_toleration(seconds: Option<i64>) -> Value {
    let mut toleration = json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"});
    if let Some(seconds) = seconds {
        toleration["tolerationSeconds"] = json!(seconds);
    }
    toleration
}

pub async fn wait_until_running(client: &Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("{name} to be Ready"), NOTICED_WITHIN, || async {
        let pod = pods.get(name).await.map_err(|error| error.to_string())?;
        if wasmkube_controllers::pods::is_pod_ready(&pod) {
            Ok(())
        } else {
            Err(format!("{:?}", pod.status))
        }
    })
    .await;
}

pub fn taints_of(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default()
}

pub fn has_taint(node: &Node, key: &str, effect: &str) -> bool {
    taints_of(node)
        .iter()
        .any(|taint| taint.key == key && taint.effect == effect)
}

pub fn owned(status: &str, reason: &str, message: &str) -> Option<(String, String, String)> {
    Some((status.to_owned(), reason.to_owned(), message.to_owned()))
}

/// The status, reason and message of a Node's or a Pod's condition of this type.
pub fn condition_of(
    object: &impl serde::Serialize,
    condition_type: &str,
) -> Option<(String, String, String)> {
    let object = serde_json::to_value(object).ok()?;
    let condition = object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == condition_type)?;
    let text = |field: &str| condition[field].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("reason"), text("message")))
}

/// Waits for the node's `key:NoExecute` taint and answers when it was added.
pub async fn wait_for_no_execute_taint(client: &Client, node: &str, key: &str) -> Timestamp {
    let nodes: Api<Node> = Api::all(client.clone());
    eventually(
        &format!("{key}:NoExecute on {node}"),
        NOTICED_WITHIN,
        || async {
            let seen = nodes.get(node).await.map_err(|error| error.to_string())?;
            taints_of(&seen)
                .into_iter()
                .find(|taint| taint.key == key && taint.effect == "NoExecute")
                .and_then(|taint| taint.time_added)
                .map(|time| time.0)
                .ok_or_else(|| format!("taints {:?}", taints_of(&seen)))
        },
    )
    .await
}

pub async fn wait_until_marked_for_deletion(client: &Client, name: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(
        &format!("{name} to be marked for deletion"),
        NOTICED_WITHIN,
        || async {
            let pod = pods.get(name).await.map_err(|error| error.to_string())?;
            if pod.metadata.deletion_timestamp.is_some() {
                Ok(pod)
            } else {
                Err(format!("{:?}", pod.status))
            }
        },
    )
    .await
}

/// Waits for an event about the object `name` with this reason and message, and answers
/// its source component.
pub async fn wait_for_event(client: &Client, name: &str, reason: &str, message: &str) -> String {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually(
        &format!("the {reason} event of {name}"),
        NOTICED_WITHIN,
        || async {
            let listed = events
                .list(&ListParams::default())
                .await
                .map_err(|error| error.to_string())?;
            listed
                .items
                .iter()
                .find(|event| {
                    event.involved_object.name.as_deref() == Some(name)
                        && event.reason.as_deref() == Some(reason)
                        && event.message.as_deref() == Some(message)
                })
                .and_then(|event| event.source.as_ref()?.component.clone())
                .ok_or_else(|| {
                    let seen: Vec<_> = listed
                        .items
                        .iter()
                        .map(|event| (event.reason.clone(), event.message.clone()))
                        .collect();
                    format!("{seen:?}")
                })
        },
    )
    .await
}

/// The names of the ReplicaSet's two pods when both are ready on `node` and not being
/// deleted.
pub async fn two_ready_on(pods: &Api<Pod>, node: &str) -> Result<Vec<String>, String> {
    let listed = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .map_err(|error| error.to_string())?;
    let ready: Vec<String> = listed
        .items
        .iter()
        .filter(|pod| {
            pod.metadata.deletion_timestamp.is_none()
                && pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()) == Some(node)
                && wasmkube_controllers::pods::is_pod_ready(pod)
        })
        .map(ResourceExt::name_any)
        .collect();
    if ready.len() == 2 {
        Ok(ready)
    } else {
        Err(format!(
            "{} pods, ready on {node}: {ready:?}",
            listed.items.len()
        ))
    }
}
