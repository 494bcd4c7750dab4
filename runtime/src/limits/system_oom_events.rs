//! The node's `SystemOOM` events: each kill by the node's OOM killer is recorded on the
//! Node, as the kubelet's OOM watcher records the kernel's (a Warning with reason
//! `SystemOOM`, in the `default` namespace since a Node has none, from the component
//! `kubelet` on this host). A repeat of the same message bumps the first event's count,
//! as client-go's correlator does. Failures to write are logged: an event is a courtesy.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

use super::node_memory::SystemOomKill;

const COMPONENT: &str = "kubelet";
const REASON: &str = "SystemOOM";
/// Events about cluster-scoped objects go to this namespace, as client-go's recorder
/// puts them.
const EVENT_NAMESPACE: &str = "default";
/// At most this many distinct messages are remembered for correlation.
const MAXIMUM_REMEMBERED_EVENTS: usize = 256;

/// The kubelet's message (`System OOM encountered, victim process: NAME, pid: PID`)
/// with the container's pod in place of a pid, which a WebAssembly guest does not have.
pub fn system_oom_message(kill: &SystemOomKill) -> String {
    match &kill.victim {
        Some(victim) => format!(
            "System OOM encountered, victim process: {}, pod: {}/{}",
            victim.container, victim.namespace, victim.pod
        ),
        None => "System OOM encountered".to_owned(),
    }
}

/// Records an event on the Node for every kill until the pool is gone.
pub async fn record_system_ooms(
    client: kube::Client,
    node_name: String,
    mut kills: mpsc::UnboundedReceiver<SystemOomKill>,
) {
    let api: Api<Event> = Api::namespaced(client, EVENT_NAMESPACE);
    let mut recorded: HashMap<String, (String, i32)> = HashMap::new();
    while let Some(kill) = kills.recv().await {
        let message = system_oom_message(&kill);
        if let Some((name, count)) = recorded.get_mut(&message) {
            *count += 1;
            let patch =
                serde_json::json!({"count": *count, "lastTimestamp": Time(Timestamp::now())});
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => continue,
                Err(error) => {
                    tracing::debug!(%error, event = %name, "the event to update is gone; writing a new one");
                }
            }
        }
        let event = node_event(&node_name, &message);
        let name = event.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                if recorded.len() >= MAXIMUM_REMEMBERED_EVENTS {
                    recorded.clear();
                }
                recorded.insert(message, (name, 1));
            }
            Err(error) => tracing::warn!(%error, "cannot record the SystemOOM event"),
        }
    }
}

fn node_event(node_name: &str, message: &str) -> Event {
    let now = Timestamp::now();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{node_name}.{:x}", now.as_nanosecond())),
            namespace: Some(EVENT_NAMESPACE.to_owned()),
            ..Default::default()
        },
        // The kubelet's reference to its Node carries the node's name as its uid.
        involved_object: ObjectReference {
            kind: Some("Node".to_owned()),
            name: Some(node_name.to_owned()),
            uid: Some(node_name.to_owned()),
            ..Default::default()
        },
        type_: Some("Warning".to_owned()),
        reason: Some(REASON.to_owned()),
        message: Some(message.to_owned()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_owned()),
            host: Some(node_name.to_owned()),
        }),
        reporting_component: Some(COMPONENT.to_owned()),
        reporting_instance: Some(node_name.to_owned()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Default::default()
    }
}
