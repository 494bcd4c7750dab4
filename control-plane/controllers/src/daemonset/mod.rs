//! The DaemonSet controller (kube-controller-manager's `daemonset-controller`): one pod
//! per eligible node, made with a required node affinity for that node and bound by the
//! scheduler, as Kubernetes has done since 1.12. Pods follow nodes as they come, go or
//! change; failed pods are replaced under a back-off; a changed template rolls out with
//! `maxUnavailable` (surge is not implemented) or waits for deletions (`OnDelete`).
//!
//! Kubernetes keeps each template revision in a ControllerRevision; this API server does
//! not serve those, so the revision is only the hash in the `controller-revision-hash`
//! label, computed from the template each time.

mod daemon_pods;
mod eligibility;
mod failed_pods_backoff;
mod plan;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Client, ResourceExt};

use self::daemon_pods::{daemon_pod_template, for_node, target_node_name, template_generation};
use self::eligibility::node_should_run_daemon_pod;
use self::failed_pods_backoff::FailedPodsBackoff;
use self::plan::{
    NodePods, PodDeletion, compute_status, min_ready_seconds, plan_manage, plan_rolling_update,
};
use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::owners::{self, ClaimError};
use crate::pods::pod_from_template;
use crate::retry::RetryBackoff;
use crate::template_hash::pod_template_hash;

const COMPONENT: &str = "daemonset-controller";
/// Kubernetes' `SlowStartInitialBatchSize`: creations go in batches of 1, 2, 4 … so that a
/// refusal (a quota, say) costs one failed request, not one per node.
const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;
/// Kubernetes' `BurstReplicas`: at most this many creations or deletions per reconcile.
const BURST_REPLICAS: usize = 250;

#[derive(Debug, thiserror::Error)]
pub enum DaemonSetError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot claim the daemon set's pods: {0}")]
    Claim(#[from] ClaimError),
    #[error("cannot hash the pod template: {0}")]
    TemplateHash(#[from] serde_json::Error),
    #[error("invalid value for MaxUnavailable: {0}")]
    MaxUnavailable(String),
    #[error("{failed} pod creations or deletions failed; the first: {first}")]
    PodChanges { failed: usize, first: kube::Error },
}

struct Context {
    client: Client,
    recorder: EventRecorder,
    retry: RetryBackoff,
    failed_pods_backoff: Mutex<FailedPodsBackoff>,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        retry: RetryBackoff::default(),
        failed_pods_backoff: Mutex::new(FailedPodsBackoff::default()),
    });
    let controller = Controller::new(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let daemon_sets = controller.store();
    // Any node change may change where every DaemonSet wants its pods.
    let every_daemon_set = move |_: Node| {
        daemon_sets
            .state()
            .iter()
            .map(|daemon_set| ObjectRef::from_obj(daemon_set.as_ref()))
            .collect::<Vec<_>>()
    };
    controller
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .watches(
            Api::<Node>::all(client),
            watcher::Config::default(),
            every_daemon_set,
        )
        .run(reconcile, error_policy, context)
        .for_each(|outcome| async move {
            if let Err(error) = outcome {
                tracing::debug!(%error, "daemon set reconcile failed");
            }
        })
        .await;
}

fn error_policy(
    daemon_set: Arc<DaemonSet>,
    error: &DaemonSetError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(daemon_set = %daemon_set.name_any(), %error, "retrying the daemon set");
    context.retry.requeue_after_failure(daemon_set.as_ref())
}

async fn reconcile(
    cached: Arc<DaemonSet>,
    context: Arc<Context>,
) -> Result<Action, DaemonSetError> {
    let namespace = cached.namespace().unwrap_or_default();
    let daemon_sets: Api<DaemonSet> = Api::namespaced(context.client.clone(), &namespace);
    let action = match daemon_sets.get_opt(&cached.name_any()).await? {
        Some(daemon_set) => sync(&context, &daemon_sets, &daemon_set).await?,
        None => Action::await_change(),
    };
    context.retry.succeeded(cached.as_ref());
    Ok(action)
}

/// `syncDaemonSet`: claim the pods, create and delete them per node, replace old ones if
/// rolling, and record the status.
async fn sync(
    context: &Context,
    daemon_sets: &Api<DaemonSet>,
    daemon_set: &DaemonSet,
) -> Result<Action, DaemonSetError> {
    // Kubernetes leaves a DaemonSet being deleted alone, status included: its pods are
    // the garbage collector's now.
    if daemon_set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(spec) = daemon_set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = owners::selector(&spec.selector)?;
    if selector.selects_all() {
        context
            .recorder
            .publish(
                daemon_set,
                EventType::Warning,
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            .await;
        return Ok(Action::await_change());
    }
    let collision_count = daemon_set
        .status
        .as_ref()
        .and_then(|status| status.collision_count);
    let hash = pod_template_hash(&spec.template, collision_count)?;
    let generation = template_generation(daemon_set);

    let nodes = Api::<Node>::all(context.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let namespace = daemon_set.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let candidates = pods
        .list(&ListParams::default().labels_from(&selector))
        .await?
        .items;
    let claimed = owners::claim(&pods, daemon_set, &selector, candidates).await?;
    let node_pods = group_by_target_node(claimed);
    let verdicts: Vec<_> = nodes
        .iter()
        .map(|node| {
            (
                node.name_any(),
                node_should_run_daemon_pod(node, daemon_set),
            )
        })
        .collect();

    let manage = {
        let mut backoff = context
            .failed_pods_backoff
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        plan_manage(
            daemon_set,
            &verdicts,
            &node_pods,
            &mut backoff,
            Instant::now(),
        )
    };
    for notice in &manage.notices {
        context
            .recorder
            .publish(
                daemon_set,
                notice.event_type,
                notice.reason,
                notice.message.clone(),
            )
            .await;
    }
    let template = daemon_pod_template(&spec.template, generation, &hash);
    let managed = !manage.nodes_needing_pods.is_empty() || !manage.pods_to_delete.is_empty();
    let mut outcome = sync_nodes(
        context,
        daemon_set,
        &pods,
        &template,
        &manage.pods_to_delete,
        &manage.nodes_needing_pods,
    )
    .await;
    // Like Kubernetes, which waits for its expectations, a rolling update looks at the
    // pods only once the creations and deletions above have been seen.
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|strategy| strategy.type_.as_deref())
        .is_none_or(|strategy| strategy == "RollingUpdate");
    if outcome.is_ok() && !managed && rolling {
        // As in Kubernetes, a bad maxUnavailable fails the reconcile but not the status.
        outcome = match plan_rolling_update(
            daemon_set,
            &verdicts,
            &node_pods,
            &hash,
            generation,
            Timestamp::now(),
        ) {
            Ok(old_pods) => sync_nodes(context, daemon_set, &pods, &template, &old_pods, &[]).await,
            Err(invalid) => Err(DaemonSetError::MaxUnavailable(invalid)),
        };
    }

    let status = compute_status(
        daemon_set,
        &verdicts,
        &node_pods,
        &hash,
        generation,
        Timestamp::now(),
    );
    let waiting_for_availability =
        status.number_ready != status.number_available.unwrap_or_default();
    let status_written = write_status(daemon_sets, daemon_set, status).await;
    outcome?;
    status_written?;

    let min_ready_seconds = min_ready_seconds(daemon_set);
    let availability_check = (min_ready_seconds > 0 && waiting_for_availability)
        .then(|| Duration::from_secs(u64::from(min_ready_seconds.unsigned_abs())));
    Ok(
        match [manage.retry_after, availability_check]
            .into_iter()
            .flatten()
            .min()
        {
            Some(delay) => Action::requeue(delay),
            None => Action::await_change(),
        },
    )
}

fn group_by_target_node(pods: Vec<Pod>) -> NodePods {
    let mut node_pods: NodePods = BTreeMap::new();
    for pod in pods {
        match target_node_name(&pod) {
            Some(node_name) => node_pods.entry(node_name).or_default().push(pod),
            None => {
                tracing::debug!(pod = %pod.name_any(), "daemon pod without a target node");
            }
        }
    }
    node_pods
}

/// `syncNodes`: deletes the pods and creates one pod per node (in slow-start batches that
/// stop at the first failure), each with an event; returns the first failure.
async fn sync_nodes(
    context: &Context,
    daemon_set: &DaemonSet,
    pods: &Api<Pod>,
    template: &PodTemplateSpec,
    pods_to_delete: &[PodDeletion],
    nodes_needing_pods: &[String],
) -> Result<(), DaemonSetError> {
    let mut failures = Vec::new();
    let deletions = pods_to_delete
        .iter()
        .take(BURST_REPLICAS)
        .map(|deletion| delete_pod(context, daemon_set, pods, deletion));
    failures.extend(
        join_all(deletions)
            .await
            .into_iter()
            .filter_map(Result::err),
    );

    let nodes: Vec<&String> = nodes_needing_pods.iter().take(BURST_REPLICAS).collect();
    let mut position = 0;
    let mut batch_size = SLOW_START_INITIAL_BATCH_SIZE.min(nodes.len());
    while batch_size > 0 {
        let batch = nodes[position..position + batch_size]
            .iter()
            .map(|node_name| create_pod(context, daemon_set, pods, template, node_name));
        let batch_failures: Vec<_> = join_all(batch)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        position += batch_size;
        if !batch_failures.is_empty() {
            failures.extend(batch_failures);
            break;
        }
        batch_size = (batch_size * 2).min(nodes.len() - position);
    }
    let failed = failures.len();
    match failures.into_iter().next() {
        Some(first) => Err(DaemonSetError::PodChanges { failed, first }),
        None => Ok(()),
    }
}

/// A pod for the node, named `<daemon set>-<random>`, with events as `RealPodControl`
/// writes them.
async fn create_pod(
    context: &Context,
    daemon_set: &DaemonSet,
    pods: &Api<Pod>,
    template: &PodTemplateSpec,
    node_name: &str,
) -> Result<(), kube::Error> {
    let pod = pod_from_template(
        &for_node(template, node_name),
        &daemon_set.namespace().unwrap_or_default(),
        None,
        &format!("{}-", daemon_set.name_any()),
        owners::controller_reference(daemon_set),
    );
    match pods.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            let message = format!("Created pod: {}", created.name_any());
            context
                .recorder
                .publish(daemon_set, EventType::Normal, "SuccessfulCreate", message)
                .await;
            Ok(())
        }
        Err(error) => {
            let message = format!("Error creating: {}", api_message(&error));
            context
                .recorder
                .publish(daemon_set, EventType::Warning, "FailedCreate", message)
                .await;
            Err(error)
        }
    }
}

async fn delete_pod(
    context: &Context,
    daemon_set: &DaemonSet,
    pods: &Api<Pod>,
    deletion: &PodDeletion,
) -> Result<(), kube::Error> {
    let parameters = if deletion.immediately {
        DeleteParams::default().grace_period(0)
    } else {
        DeleteParams::default()
    };
    match pods.delete(&deletion.name, &parameters).await {
        Ok(_) => {
            let message = format!("Deleted pod: {}", deletion.name);
            context
                .recorder
                .publish(daemon_set, EventType::Normal, "SuccessfulDelete", message)
                .await;
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(error) => {
            let message = format!("Error deleting: {}", api_message(&error));
            context
                .recorder
                .publish(daemon_set, EventType::Warning, "FailedDelete", message)
                .await;
            Err(error)
        }
    }
}

/// The API server's own words for a refused request, as Kubernetes' events quote them.
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Writes the status if it changed, as an update with the DaemonSet's resourceVersion: a
/// DaemonSet changed since it was read makes this a 409 Conflict, and the retry reads it
/// again.
async fn write_status(
    daemon_sets: &Api<DaemonSet>,
    daemon_set: &DaemonSet,
    status: k8s_openapi::api::apps::v1::DaemonSetStatus,
) -> Result<(), DaemonSetError> {
    if daemon_set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = daemon_set.clone();
    updated.status = Some(status);
    daemon_sets
        .replace_status(&daemon_set.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(())
}
