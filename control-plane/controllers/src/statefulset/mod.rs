//! The StatefulSet controller (kube-controller-manager's `statefulset-controller`): pods
//! with stable names `<set>-<ordinal>`, hostnames and index labels, created in order and
//! each only once its predecessors are Running and Ready (`OrderedReady`) or all at once
//! (`Parallel`), removed from the highest ordinal down, re-created under the same name when
//! they fail or are deleted, and rolled from the highest ordinal down to the partition.
//!
//! Two Kubernetes resources are not served by this API server, and the controller says so:
//! ControllerRevisions (a revision is the name `<set>-<template hash>` in the
//! `controller-revision-hash` label and in the status; see `template_history`) and
//! PersistentVolumeClaims (a StatefulSet with `volumeClaimTemplates` gets a Warning event
//! and no pods).

mod identity;
mod plan;
mod template_history;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Client, ResourceExt};

use self::identity::{member_ordinal, new_stateful_pod, pod_name, update_identity};
use self::plan::{
    Revision, Revisions, Step, compute_status, min_ready_seconds, plan_update, replicas,
    start_ordinal,
};
use self::template_history::TemplateHistory;
use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::owners::{self, ClaimError};
use crate::retry::RetryBackoff;
use crate::template_hash::pod_template_hash;

const COMPONENT: &str = "statefulset-controller";

#[derive(Debug, thiserror::Error)]
pub enum StatefulSetError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot claim the stateful set's pods: {0}")]
    Claim(#[from] ClaimError),
    #[error("cannot hash the pod template: {0}")]
    TemplateHash(#[from] serde_json::Error),
}

struct Context {
    client: Client,
    recorder: EventRecorder,
    retry: RetryBackoff,
    history: TemplateHistory,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        retry: RetryBackoff::default(),
        history: TemplateHistory::default(),
    });
    Controller::new(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Pod>::all(client), watcher::Config::default())
    .run(reconcile, error_policy, context)
    .for_each(|outcome| async move {
        if let Err(error) = outcome {
            tracing::debug!(%error, "stateful set reconcile failed");
        }
    })
    .await;
}

fn error_policy(set: Arc<StatefulSet>, error: &StatefulSetError, context: Arc<Context>) -> Action {
    tracing::debug!(stateful_set = %set.name_any(), %error, "retrying the stateful set");
    context.retry.requeue_after_failure(set.as_ref())
}

async fn reconcile(
    cached: Arc<StatefulSet>,
    context: Arc<Context>,
) -> Result<Action, StatefulSetError> {
    let namespace = cached.namespace().unwrap_or_default();
    let sets: Api<StatefulSet> = Api::namespaced(context.client.clone(), &namespace);
    let action = match sets.get_opt(&cached.name_any()).await? {
        Some(set) => sync(&context, &sets, &set).await?,
        None => {
            context.history.forget(&cached.uid().unwrap_or_default());
            Action::await_change()
        }
    };
    context.retry.succeeded(cached.as_ref());
    Ok(action)
}

/// The StatefulSet controller's `sync`: claim the member pods, take the steps
/// `updateStatefulSet` would, and record the status.
async fn sync(
    context: &Context,
    sets: &Api<StatefulSet>,
    set: &StatefulSet,
) -> Result<Action, StatefulSetError> {
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let set_uid = set.uid().unwrap_or_default();
    // Kubernetes always hashes a StatefulSet's revision with its collision count, 0 when
    // there has been no collision (the status then records that 0).
    let collision_count = set
        .status
        .as_ref()
        .and_then(|status| status.collision_count)
        .unwrap_or(0);
    let update_revision = format!(
        "{}-{}",
        set.name_any(),
        pod_template_hash(&spec.template, Some(collision_count))?
    );
    let current_revision = set
        .status
        .as_ref()
        .and_then(|status| status.current_revision.clone())
        .filter(|revision| !revision.is_empty())
        .unwrap_or_else(|| update_revision.clone());
    context.history.record(
        &set_uid,
        &current_revision,
        &update_revision,
        &spec.template,
    );
    let revisions = Revisions {
        current: &current_revision,
        update: &update_revision,
    };

    let selector = owners::selector(&spec.selector)?;
    let pods: Api<Pod> =
        Api::namespaced(context.client.clone(), &set.namespace().unwrap_or_default());
    let candidates: Vec<Pod> = pods
        .list(&ListParams::default().labels_from(&selector))
        .await?
        .items
        .into_iter()
        .filter(|pod| {
            member_ordinal(set, pod).is_some() || owners::is_controlled_by(&pod.metadata, &set_uid)
        })
        .collect();
    let members: Vec<Pod> = owners::claim(&pods, set, &selector, candidates)
        .await?
        .into_iter()
        .filter(|pod| member_ordinal(set, pod).is_some())
        .collect();

    let now = Timestamp::now();
    let claim_templates = spec.volume_claim_templates.as_deref().unwrap_or_default();
    let outcome = match claim_templates.first() {
        Some(claim) => {
            warn_claims_not_served(context, set, &claim.name_any()).await;
            Ok(())
        }
        None => {
            let steps = plan_update(set, &members, &revisions, now);
            take_steps(context, set, &pods, &revisions, steps).await
        }
    };
    let status = compute_status(set, &members, &revisions, now);
    let waiting_for_availability = status.available_replicas.unwrap_or_default() != replicas(set);
    let status_written = write_status(sets, set, status).await;
    outcome?;
    status_written?;
    let min_ready_seconds = min_ready_seconds(set);
    Ok(if min_ready_seconds > 0 && waiting_for_availability {
        Action::requeue(Duration::from_secs(u64::from(
            min_ready_seconds.unsigned_abs(),
        )))
    } else {
        Action::await_change()
    })
}

/// The claim Kubernetes would create first fails here: PersistentVolumeClaims are not
/// served, and a pod must not start without the volume it was promised.
async fn warn_claims_not_served(context: &Context, set: &StatefulSet, claim_template: &str) {
    let ordinal = start_ordinal(set);
    let message = format!(
        "create Claim {claim_template}-{}-{ordinal} for Pod {} in StatefulSet {} failed error: PersistentVolumeClaims are not served by this API server, so pods with volumeClaimTemplates are not created",
        set.name_any(),
        pod_name(set, ordinal),
        set.name_any()
    );
    context
        .recorder
        .publish(set, EventType::Warning, "FailedCreate", message)
        .await;
}

/// Takes the steps in order, stopping at the first failure, with the events Kubernetes'
/// `StatefulPodControl` records.
async fn take_steps(
    context: &Context,
    set: &StatefulSet,
    pods: &Api<Pod>,
    revisions: &Revisions<'_>,
    steps: Vec<Step>,
) -> Result<(), StatefulSetError> {
    for step in steps {
        let (verb, name, result) = match step {
            Step::Create { ordinal, revision } => {
                let pod = pod_at_revision(context, set, revisions, ordinal, revision);
                let name = pod.name_any();
                match pods.create(&PostParams::default(), &pod).await {
                    // Kubernetes records no event for a name that is taken: the pod in the
                    // way is someone else's, and the retry looks again.
                    Err(kube::Error::Api(status)) if status.is_already_exists() => {
                        return Err(kube::Error::Api(status).into());
                    }
                    result => ("create", name, result.map(|_| ())),
                }
            }
            Step::Delete { name } => {
                let result = match pods.delete(&name, &DeleteParams::default()).await {
                    Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
                    result => result.map(|_| ()),
                };
                ("delete", name, result)
            }
            Step::UpdateIdentity { name, ordinal } => {
                let result = fix_identity(pods, &name, ordinal).await;
                ("update", name, result)
            }
        };
        record_pod_event(context, set, verb, &name, result.as_ref().err()).await;
        result?;
    }
    Ok(())
}

/// The new pod for an ordinal, from the revision's template. The current revision's
/// template is known only if this controller saw it; otherwise the pod is made from the
/// update revision (see `template_history`).
fn pod_at_revision(
    context: &Context,
    set: &StatefulSet,
    revisions: &Revisions<'_>,
    ordinal: i32,
    revision: Revision,
) -> Pod {
    let update_template = set
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default();
    let current_template = (revision == Revision::Current && revisions.current != revisions.update)
        .then(|| {
            context
                .history
                .template(&set.uid().unwrap_or_default(), revisions.current)
        });
    match current_template {
        Some(Some(template)) => new_stateful_pod(set, &template, ordinal, revisions.current),
        Some(None) => {
            tracing::warn!(stateful_set = %set.name_any(), ordinal, revision = revisions.current, "the current revision's template is unknown; creating the pod from the update revision");
            new_stateful_pod(set, &update_template, ordinal, revisions.update)
        }
        None => {
            let name = match revision {
                Revision::Current => revisions.current,
                Revision::Update => revisions.update,
            };
            new_stateful_pod(set, &update_template, ordinal, name)
        }
    }
}

/// `UpdateStatefulPod` for identity: the pod's name and index labels restored, as an
/// update with its resourceVersion so that a racing writer causes a retry.
async fn fix_identity(pods: &Api<Pod>, name: &str, ordinal: i32) -> Result<(), kube::Error> {
    let mut pod = pods.get(name).await?;
    update_identity(&mut pod, ordinal);
    pods.replace(name, &PostParams::default(), &pod).await?;
    Ok(())
}

/// `recordPodEvent`: `SuccessfulCreate` "create Pod web-0 in StatefulSet web successful",
/// or `FailedCreate` with the error.
async fn record_pod_event(
    context: &Context,
    set: &StatefulSet,
    verb: &str,
    pod_name: &str,
    error: Option<&kube::Error>,
) {
    let mut title = verb.to_owned();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let set_name = set.name_any();
    let (event_type, reason, message) = match error {
        None => (
            EventType::Normal,
            format!("Successful{title}"),
            format!("{verb} Pod {pod_name} in StatefulSet {set_name} successful"),
        ),
        Some(error) => {
            let error_text = match error {
                kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
                other => other.to_string(),
            };
            (
                EventType::Warning,
                format!("Failed{title}"),
                format!(
                    "{verb} Pod {pod_name} in StatefulSet {set_name} failed error: {error_text}"
                ),
            )
        }
    };
    context
        .recorder
        .publish(set, event_type, &reason, message)
        .await;
}

/// Writes the status if it changed, as an update with the set's resourceVersion: a set
/// changed since it was read makes this a 409 Conflict, and the retry reads it again.
async fn write_status(
    sets: &Api<StatefulSet>,
    set: &StatefulSet,
    status: StatefulSetStatus,
) -> Result<(), StatefulSetError> {
    if set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = set.clone();
    updated.status = Some(status);
    sets.replace_status(&set.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(())
}
