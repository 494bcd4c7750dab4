//! Events, as `kubectl describe` shows them: core/v1 Events about an object, from a named
//! component. A repeat of the same event (same object, type, reason and message) bumps the
//! first one's count and lastTimestamp instead of writing another, as client-go's event
//! correlator does, so a controller that retries does not flood the namespace.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};

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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    namespace: String,
    object_uid: String,
    event_type: EventType,
    reason: String,
    message: String,
}

struct Recorded {
    name: String,
    count: i32,
}

/// Writes events for one component (`deployment-controller`, `job-controller`, …).
/// Failures to write are logged, never returned: an event is a courtesy to the user, and
/// a reconcile must not fail for it.
pub struct EventRecorder {
    client: Client,
    component: &'static str,
    recorded: Mutex<HashMap<EventKey, Recorded>>,
}

/// At most this many distinct events are remembered for correlation; beyond it the
/// memory starts again, which only means one more Event object for a repeat.
const MAXIMUM_REMEMBERED_EVENTS: usize = 4096;

impl EventRecorder {
    pub fn new(client: Client, component: &'static str) -> EventRecorder {
        EventRecorder {
            client,
            component,
            recorded: Mutex::new(HashMap::new()),
        }
    }

    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let message = message.into();
        let namespace = object.namespace().unwrap_or_else(|| "default".to_owned());
        let key = EventKey {
            namespace: namespace.clone(),
            object_uid: object.uid().unwrap_or_else(|| object.name_any()),
            event_type,
            reason: reason.to_owned(),
            message: message.clone(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let repeat = {
            let mut recorded = self.lock();
            recorded.get_mut(&key).map(|recorded| {
                recorded.count += 1;
                (recorded.name.clone(), recorded.count)
            })
        };
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "count": count,
                "lastTimestamp": Time(Timestamp::now()),
            });
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
        let event = self.event(object, &namespace, event_type, reason, message);
        let name = event.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                let mut recorded = self.lock();
                if recorded.len() >= MAXIMUM_REMEMBERED_EVENTS {
                    recorded.clear();
                }
                recorded.insert(key, Recorded { name, count: 1 });
            }
            Err(error) => {
                tracing::warn!(%error, reason, component = self.component, "cannot write an event");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventKey, Recorded>> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        namespace: &str,
        event_type: EventType,
        reason: &str,
        message: String,
    ) -> Event {
        let now = Time(Timestamp::now());
        Event {
            metadata: ObjectMeta {
                // Kubernetes' recorder names events after the object and the time.
                name: Some(format!(
                    "{}.{:x}",
                    object.name_any(),
                    Timestamp::now().as_nanosecond()
                )),
                namespace: Some(namespace.to_owned()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(object.name_any()),
                namespace: object.namespace(),
                uid: object.uid(),
                resource_version: object.resource_version(),
                ..Default::default()
            },
            type_: Some(event_type.as_str().to_owned()),
            reason: Some(reason.to_owned()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(self.component.to_owned()),
                host: None,
            }),
            reporting_component: Some(self.component.to_owned()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            ..Default::default()
        }
    }
}
