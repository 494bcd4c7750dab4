//! The node's events about containers, as the kubelet records them: core/v1 Events about
//! the pod with the container's field path, from the component `kubelet` on this host. A
//! repeat (same container, type, reason and message) bumps the first event's count, as
//! client-go's correlator does, so a probe failing every period does not flood the
//! namespace. Failures to write are logged, never returned: an event is a courtesy.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

const COMPONENT: &str = "kubelet";
/// At most this many distinct events are remembered for correlation per pod; beyond it
/// the memory starts again, which only means one more Event object for a repeat.
const MAXIMUM_REMEMBERED_EVENTS: usize = 256;

/// Normal or Warning, the two event types Kubernetes has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The container an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerReference {
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: String,
    pub container_name: String,
}

impl ContainerReference {
    /// An app container of `pod`.
    pub fn new(pod: &Pod, container_name: &str) -> ContainerReference {
        ContainerReference {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            pod_name: pod.metadata.name.clone().unwrap_or_default(),
            pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
            container_name: container_name.to_owned(),
        }
    }

    fn field_path(&self) -> String {
        format!("spec.containers{{{}}}", self.container_name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    container: ContainerReference,
    event_type: EventType,
    reason: String,
    message: String,
}

/// Writes one pod's container events.
pub struct KubeletEvents {
    client: kube::Client,
    node_name: String,
    recorded: Mutex<HashMap<EventKey, (String, i32)>>,
}

impl KubeletEvents {
    pub fn new(client: kube::Client, node_name: String) -> KubeletEvents {
        KubeletEvents {
            client,
            node_name,
            recorded: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventKey, (String, i32)>> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub async fn record(
        &self,
        container: &ContainerReference,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let key = EventKey {
            container: container.clone(),
            event_type,
            reason: reason.to_owned(),
            message,
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &container.namespace);
        let repeat = self.lock().get_mut(&key).map(|(name, count)| {
            *count += 1;
            (name.clone(), *count)
        });
        if let Some((name, count)) = repeat {
            let patch =
                serde_json::json!({"count": count, "lastTimestamp": Time(Timestamp::now())});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return,
                Err(error) => {
                    tracing::debug!(%error, event = %name, "the event to update is gone; writing a new one");
                }
            }
        }
        let event = self.event(&key);
        let name = event.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                let mut recorded = self.lock();
                if recorded.len() >= MAXIMUM_REMEMBERED_EVENTS {
                    recorded.clear();
                }
                recorded.insert(key, (name, 1));
            }
            Err(error) => {
                tracing::warn!(%error, reason, pod = %container.pod_name, "cannot write an event");
            }
        }
    }

    fn event(&self, key: &EventKey) -> Event {
        let now = Timestamp::now();
        let container = &key.container;
        Event {
            metadata: ObjectMeta {
                // Kubernetes' recorder names events after the object and the time.
                name: Some(format!("{}.{:x}", container.pod_name, now.as_nanosecond())),
                namespace: Some(container.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(container.pod_name.clone()),
                namespace: Some(container.namespace.clone()),
                uid: Some(container.pod_uid.clone()),
                field_path: Some(container.field_path()),
                ..Default::default()
            },
            type_: Some(key.event_type.as_str().to_owned()),
            reason: Some(key.reason.clone()),
            message: Some(key.message.clone()),
            source: Some(EventSource {
                component: Some(COMPONENT.to_owned()),
                host: Some(self.node_name.clone()),
            }),
            reporting_component: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.node_name.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Default::default()
        }
    }
}
