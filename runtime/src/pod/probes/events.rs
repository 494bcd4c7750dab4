//! The node's events about pods and their containers, as the kubelet records them:
//! core/v1 Events about the pod (with the container's field path when they are about
//! one), from the component `kubelet` on this host. A repeat (same object, type, reason
//! and message) bumps the first event's count, as client-go's correlator does, so a
//! probe failing every period does not flood the namespace.
//!
//! Recording never waits for the API server: each pod's events go into a queue that a
//! task of their own writes in order, as client-go's broadcaster does, so events cost
//! the pod's start-up nothing. Failures to write are logged, never returned: an event
//! is a courtesy.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

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

/// The pod, or the container of a pod, an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerReference {
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: String,
    /// Empty when the event is about the pod as a whole.
    pub container_name: String,
    /// Whether the container is one of the pod's init containers (sidecars included).
    pub init: bool,
}

impl ContainerReference {
    /// An app container (`init` false) or an init container (`init` true) of `pod`.
    pub fn of(pod: &Pod, container_name: &str, init: bool) -> ContainerReference {
        ContainerReference {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            pod_name: pod.metadata.name.clone().unwrap_or_default(),
            pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
            container_name: container_name.to_owned(),
            init,
        }
    }

    /// The pod itself, for events about no container in particular (`FailedMount`).
    pub fn pod(pod: &Pod) -> ContainerReference {
        ContainerReference::of(pod, "", false)
    }

    /// `spec.containers{NAME}` or `spec.initContainers{NAME}`, as the kubelet's
    /// `GenerateContainerRef` names the container; none for the pod itself.
    fn field_path(&self) -> Option<String> {
        if self.container_name.is_empty() {
            return None;
        }
        let list = if self.init {
            "initContainers"
        } else {
            "containers"
        };
        Some(format!("spec.{list}{{{}}}", self.container_name))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    container: ContainerReference,
    event_type: EventType,
    reason: String,
    message: String,
}

/// An event waiting to be written, with the time it happened.
struct PendingEvent {
    key: EventKey,
    at: Timestamp,
}

/// Records one pod's events; the writing happens on a task of its own, which ends once
/// this is dropped and the queue is written out.
pub struct KubeletEvents {
    queue: mpsc::UnboundedSender<PendingEvent>,
}

impl KubeletEvents {
    /// Starts the pod's event writer; must be called within a tokio runtime.
    pub fn new(client: kube::Client, node_name: String) -> KubeletEvents {
        let (queue, pending) = mpsc::unbounded_channel();
        let writer = EventWriter {
            client,
            node_name,
            recorded: HashMap::new(),
            last_name_nanoseconds: 0,
        };
        tokio::spawn(writer.run(pending));
        KubeletEvents { queue }
    }

    /// Queues an event; it is written shortly, in the order recorded.
    pub fn record(
        &self,
        container: &ContainerReference,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let pending = PendingEvent {
            key: EventKey {
                container: container.clone(),
                event_type,
                reason: reason.to_owned(),
                message,
            },
            at: Timestamp::now(),
        };
        // The writer ends only after every sender is gone, so the send cannot fail while
        // this value exists; a runtime shutting down may have stopped it, which loses
        // nothing but a courtesy.
        let _ = self.queue.send(pending);
    }
}

/// Writes one pod's events in order, correlating repeats.
struct EventWriter {
    client: kube::Client,
    node_name: String,
    recorded: HashMap<EventKey, (String, i32)>,
    /// The time in the last event's name, so that two events recorded within the same
    /// nanosecond still get distinct names.
    last_name_nanoseconds: i128,
}

impl EventWriter {
    async fn run(mut self, mut pending: mpsc::UnboundedReceiver<PendingEvent>) {
        while let Some(event) = pending.recv().await {
            self.write(event).await;
        }
    }

    async fn write(&mut self, pending: PendingEvent) {
        let PendingEvent { key, at } = pending;
        let api: Api<Event> = Api::namespaced(self.client.clone(), &key.container.namespace);
        let repeat = self.recorded.get_mut(&key).map(|(name, count)| {
            *count += 1;
            (name.clone(), *count)
        });
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({"count": count, "lastTimestamp": Time(at)});
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
        let event = self.event(&key, at);
        let name = event.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                if self.recorded.len() >= MAXIMUM_REMEMBERED_EVENTS {
                    self.recorded.clear();
                }
                self.recorded.insert(key, (name, 1));
            }
            Err(error) => {
                tracing::warn!(%error, reason = %key.reason, pod = %key.container.pod_name, "cannot write an event");
            }
        }
    }

    fn event(&mut self, key: &EventKey, at: Timestamp) -> Event {
        let container = &key.container;
        let nanoseconds = at.as_nanosecond().max(self.last_name_nanoseconds + 1);
        self.last_name_nanoseconds = nanoseconds;
        Event {
            metadata: ObjectMeta {
                // Kubernetes' recorder names events after the object and the time.
                name: Some(format!("{}.{nanoseconds:x}", container.pod_name)),
                namespace: Some(container.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(container.pod_name.clone()),
                namespace: Some(container.namespace.clone()),
                uid: Some(container.pod_uid.clone()),
                field_path: container.field_path(),
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
            first_timestamp: Some(Time(at)),
            last_timestamp: Some(Time(at)),
            count: Some(1),
            ..Default::default()
        }
    }
}
