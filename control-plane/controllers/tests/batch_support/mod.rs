//! What the Job and CronJob tests share: Jobs and pod templates for the hollow node,
//! waiting for a Job's condition or an event, and reading pods and events.

#![allow(dead_code)]

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use crate::support::{FINISH_AFTER_ANNOTATION, eventually};

pub fn job(name: &str, spec: Value) -> Job {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("a job")
}

/// A pod template on the hollow node: `image` decides what the pod does.
pub fn template(image: &str, finish_after_ms: u64) -> Value {
    json!({
        "metadata": {"annotations": {(FINISH_AFTER_ANNOTATION): finish_after_ms.to_string()}},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": image},
            {"name": "sidecar", "image": image},
        ]},
    })
}

pub async fn create_job(client: &Client, job: &Job) -> Job {
    Api::<Job>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), job)
        .await
        .expect("the job is created")
}

pub fn condition<'a>(job: &'a Job, condition_type: &str) -> Option<&'a JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == condition_type && condition.status == "True")
}

/// Waits until the Job has the condition (True) and returns the Job.
pub async fn wait_for_condition(
    client: &Client,
    name: &str,
    condition_type: &str,
    timeout: Duration,
) -> Job {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    eventually(
        &format!("{name} to be {condition_type}"),
        timeout,
        || async {
            let job = jobs.get(name).await.map_err(|error| error.to_string())?;
            if condition(&job, condition_type).is_some() {
                Ok(job)
            } else {
                Err(format!("{:?}", job.status))
            }
        },
    )
    .await
}

pub async fn pods_of(client: &Client, job_name: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job_name}")))
        .await
        .expect("the pods are listed")
        .items
}

/// The (reason, message) of the events about `object_name`, oldest first.
pub async fn events_about(client: &Client, object_name: &str) -> Vec<(String, String)> {
    let mut events: Vec<Event> = Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("the events are listed")
        .items
        .into_iter()
        .filter(|event| event.involved_object.name.as_deref() == Some(object_name))
        .collect();
    events.sort_by_key(|event| event.first_timestamp.clone().map(|time| time.0));
    events
        .into_iter()
        .map(|event| {
            (
                event.reason.unwrap_or_default(),
                event.message.unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits for an event about `object_name` with this reason and message: events are
/// written just after the status they report.
pub async fn wait_for_event(client: &Client, object_name: &str, reason: &str, message: &str) {
    let wanted = (reason.to_owned(), message.to_owned());
    eventually(
        &format!("the {reason} event"),
        Duration::from_secs(10),
        || async {
            let events = events_about(client, object_name).await;
            if events.contains(&wanted) {
                Ok(())
            } else {
                Err(format!("{events:?}"))
            }
        },
    )
    .await;
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

pub fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase(pod), "Succeeded" | "Failed")
}
