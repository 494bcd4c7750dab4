//! What the scheduler tells users, in order, from a task of its own so that API calls never
//! hold up decisions: an unschedulable pod's `PodScheduled=False` condition and its
//! FailedScheduling event (repeats counted on the same event, as Kubernetes' event
//! recorder does), and a bound pod's Scheduled event.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use super::{SCHEDULER_NAME, needs_scheduling};

/// `v1.PodReasonUnschedulable`: no node can take the pod.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// `v1.PodReasonSchedulerError`: scheduling the pod failed for some other reason.
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";

#[derive(Debug)]
pub enum Report {
    /// The pod was not scheduled; `reason` is its condition's reason.
    Failed {
        pod: Arc<Pod>,
        reason: &'static str,
        message: String,
    },
    Scheduled {
        pod: Arc<Pod>,
        node: String,
    },
    /// The pod is gone; its FailedScheduling event will not be repeated.
    Forget {
        uid: String,
    },
}

/// Hands reports to the reporting task.
#[derive(Clone, Debug)]
pub struct Reporter {
    reports: mpsc::UnboundedSender<Report>,
}

impl Reporter {
    pub fn start(client: Client) -> Reporter {
        let (reports, mut received) = mpsc::unbounded_channel();
        let mut task = ReportingTask {
            client,
            last_failures: HashMap::new(),
            concurrent_event_writes: Arc::new(Semaphore::new(CONCURRENT_EVENT_WRITES)),
        };
        tokio::spawn(async move {
            while let Some(report) = received.recv().await {
                task.handle(report).await;
            }
        });
        Reporter { reports }
    }

    pub fn send(&self, report: Report) {
        // The task only stops with the runtime, and then nothing is left to tell.
        let _ = self.reports.send(report);
    }
}

/// The last FailedScheduling event of a pod, which a repeat of the same message counts on.
struct RecordedFailure {
    event_name: String,
    message: String,
    count: i32,
}

struct ReportingTask {
    client: Client,
    /// By pod uid.
    last_failures: HashMap<String, RecordedFailure>,
    concurrent_event_writes: Arc<Semaphore>,
}

/// Creates the event without decoding the created object the API server answers with,
/// which no one reads.
async fn create_without_reading_back(client: &Client, event: &Event) -> Result<(), kube::Error> {
    let namespace = event.metadata.namespace.as_deref().unwrap_or_default();
    let body = serde_json::to_vec(event).map_err(kube::Error::SerdeError)?;
    let request = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/events"))
        .create(&PostParams::default(), body)
        .map_err(kube::Error::BuildRequest)?;
    client.request::<IgnoredAny>(request).await.map(drop)
}

/// How many Scheduled events may be on their way to the API server at once.
const CONCURRENT_EVENT_WRITES: usize = 256;

fn now() -> Time {
    Time(Timestamp::now())
}

/// A v1 Event about the pod from the scheduler, named as Kubernetes' recorder names events.
fn event(pod: &Pod, kind: &str, reason: &str, action: &str, message: String) -> Event {
    let name = format!("{}.{:x}", pod.name_any(), Timestamp::now().as_nanosecond());
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: pod.namespace(),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Pod".to_owned()),
            name: Some(pod.name_any()),
            namespace: pod.namespace(),
            uid: pod.uid(),
            resource_version: pod.resource_version(),
            ..Default::default()
        },
        type_: Some(kind.to_owned()),
        reason: Some(reason.to_owned()),
        action: Some(action.to_owned()),
        message: Some(message),
        source: Some(EventSource {
            component: Some(SCHEDULER_NAME.to_owned()),
            host: None,
        }),
        reporting_component: Some(SCHEDULER_NAME.to_owned()),
        first_timestamp: Some(now()),
        last_timestamp: Some(now()),
        count: Some(1),
        ..Default::default()
    }
}

fn pod_scheduled_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "PodScheduled")
        })
}

/// How many times the condition is written to a pod that keeps changing under it.
const CONDITION_ATTEMPTS: usize = 3;

/// The strategic merge patch that sets the pod's `PodScheduled=False` condition, with the
/// pod's resourceVersion as its precondition; nothing if the pod no longer waits for a node
/// or already says the same. The transition time stays while the condition stays False.
fn unscheduled_condition_patch(
    pod: &Pod,
    reason: &str,
    message: &str,
) -> Option<serde_json::Value> {
    if !needs_scheduling(pod) {
        return None;
    }
    let current = pod_scheduled_condition(pod).filter(|condition| condition.status == "False");
    if current.is_some_and(|condition| {
        condition.reason.as_deref() == Some(reason) && condition.message.as_deref() == Some(message)
    }) {
        return None;
    }
    let transition = match current {
        Some(condition) => condition.last_transition_time.clone(),
        None => Some(now()),
    };
    Some(json!({
        "metadata": {"resourceVersion": pod.resource_version()},
        "status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": transition,
        }]},
    }))
}

impl ReportingTask {
    async fn handle(&mut self, report: Report) {
        let outcome = match report {
            Report::Failed {
                pod,
                reason,
                message,
            } => self.failed(&pod, reason, message).await,
            Report::Scheduled { pod, node } => {
                self.scheduled(pod, node);
                Ok(())
            }
            Report::Forget { uid } => {
                self.last_failures.remove(&uid);
                Ok(())
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, "the scheduler could not report on a pod");
        }
    }

    /// Sets `PodScheduled=False` unless the pod already says the same, as kube-scheduler's
    /// `updatePod` does. Each patch names the resourceVersion it was computed from, so it
    /// never lands on a pod that was bound meanwhile; when the pod has changed, it is read
    /// again and, if it still waits for a node, patched again.
    async fn set_unscheduled_condition(
        &self,
        pod: &Pod,
        reason: &str,
        message: &str,
    ) -> Result<(), kube::Error> {
        let pods: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let mut latest = pod.clone();
        for _ in 0..CONDITION_ATTEMPTS {
            let Some(patch) = unscheduled_condition_patch(&latest, reason, message) else {
                return Ok(());
            };
            match pods
                .patch_status(
                    &latest.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(patch),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    match pods.get_opt(&latest.name_any()).await? {
                        Some(changed) => latest = changed,
                        None => return Ok(()),
                    }
                }
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        // The pod keeps changing; its next scheduling attempt reports again.
        Ok(())
    }

    async fn failed(
        &mut self,
        pod: &Pod,
        reason: &str,
        message: String,
    ) -> Result<(), kube::Error> {
        self.set_unscheduled_condition(pod, reason, &message)
            .await?;
        let uid = pod.uid().unwrap_or_default();
        let events: Api<Event> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        if let Some(recorded) = self
            .last_failures
            .get_mut(&uid)
            .filter(|recorded| recorded.message == message)
        {
            let repeated = json!({"count": recorded.count + 1, "lastTimestamp": now()});
            match events
                .patch(
                    &recorded.event_name,
                    &PatchParams::default(),
                    &Patch::Merge(repeated),
                )
                .await
            {
                Ok(_) => {
                    recorded.count += 1;
                    return Ok(());
                }
                // The event expired or was deleted: record the failure afresh.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        let created = events
            .create(
                &PostParams::default(),
                &event(
                    pod,
                    "Warning",
                    "FailedScheduling",
                    "Scheduling",
                    message.clone(),
                ),
            )
            .await?;
        self.last_failures.insert(
            uid,
            RecordedFailure {
                event_name: created.name_any(),
                message,
                count: 1,
            },
        );
        Ok(())
    }

    /// Records the Scheduled event. Bindings come thousands a second when many pods wait,
    /// so these events are written side by side (the store commits concurrent writes
    /// together) rather than one after another; their order does not matter.
    fn scheduled(&mut self, pod: Arc<Pod>, node: String) {
        if let Some(uid) = pod.uid() {
            self.last_failures.remove(&uid);
        }
        let client = self.client.clone();
        let writers = Arc::clone(&self.concurrent_event_writes);
        tokio::spawn(async move {
            // The semaphore is never closed.
            let Ok(_permit) = writers.acquire_owned().await else {
                return;
            };
            let message = format!(
                "Successfully assigned {}/{} to {node}",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            );
            let scheduled = event(&pod, "Normal", "Scheduled", "Binding", message);
            if let Err(error) = create_without_reading_back(&client, &scheduled).await {
                tracing::warn!(%error, "the scheduler could not record a Scheduled event");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: Option<&str>, condition: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
            "spec": {"nodeName": node, "containers": [{"name": "app"}]},
            "status": {"conditions": [condition]},
        }))
        .expect("a pod")
    }

    fn unscheduled(message: &str) -> serde_json::Value {
        json!({
            "type": "PodScheduled", "status": "False", "reason": REASON_UNSCHEDULABLE,
            "message": message, "lastTransitionTime": "2024-01-01T00:00:00Z",
        })
    }

    #[test]
    fn the_condition_is_written_only_when_it_says_something_new() {
        let waiting = pod(
            None,
            unscheduled("0/1 nodes are available: 1 Too many pods."),
        );
        assert_eq!(
            unscheduled_condition_patch(
                &waiting,
                REASON_UNSCHEDULABLE,
                "0/1 nodes are available: 1 Too many pods."
            ),
            None
        );
        let patch = unscheduled_condition_patch(
            &waiting,
            REASON_UNSCHEDULABLE,
            "no nodes available to schedule pods",
        )
        .expect("a new message");
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        let condition = &patch["status"]["conditions"][0];
        assert_eq!(condition["message"], "no nodes available to schedule pods");
        assert_eq!(condition["reason"], "Unschedulable");
        assert_eq!(
            condition["lastTransitionTime"], "2024-01-01T00:00:00Z",
            "still False: the transition time stays"
        );
        let fresh = pod(None, json!({"type": "Initialized", "status": "True"}));
        let patch = unscheduled_condition_patch(
            &fresh,
            REASON_UNSCHEDULABLE,
            "no nodes available to schedule pods",
        )
        .expect("a first condition");
        assert_ne!(
            patch["status"]["conditions"][0]["lastTransitionTime"],
            "2024-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_bound_pod_is_never_marked_unschedulable() {
        let bound = pod(
            Some("n1"),
            json!({"type": "PodScheduled", "status": "True"}),
        );
        assert_eq!(
            unscheduled_condition_patch(
                &bound,
                REASON_UNSCHEDULABLE,
                "no nodes available to schedule pods"
            ),
            None
        );
    }
}
