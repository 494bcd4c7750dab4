//! The ReplicaSet controller (kube-controller-manager's `replicaset-controller`): keeps
//! `spec.replicas` active pods for each ReplicaSet, adopting orphans its selector matches
//! and releasing its pods that no longer match, and reports their count in its status.
//!
//! Each sync reads the ReplicaSet and its namespace's pods from the API server, not from a
//! cache, so it always sees its own earlier creates and deletes and needs none of
//! Kubernetes' "expectations". All pods of the namespace are listed (as Kubernetes lists
//! them from its cache) because a pod whose labels were changed no longer matches the
//! selector and must still be found to be released.

mod deletion_order;
mod manage;
mod status;

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams, PostParams};
use kube::core::SelectorExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

pub(crate) use manage::api_error_message;

use crate::events::EventRecorder;
use crate::owners::{self, ClaimError};
use crate::retry::RetryBackoff;
use crate::{ControllerManagerOptions, pods};

const COMPONENT: &str = "replicaset-controller";

#[derive(Debug, thiserror::Error)]
pub enum ReplicaSetError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot claim pods: {0}")]
    Claim(#[from] ClaimError),
    /// Creating or deleting pods failed; the status already says so, and the sync is
    /// tried again after a back-off.
    #[error("{0}")]
    ManageReplicas(String),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
    /// The watched ReplicaSets, to find which ones an orphan pod could belong to and
    /// which ReplicaSets are siblings (share a controller).
    replica_sets: Store<ReplicaSet>,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let controller = Controller::new(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let replica_sets = controller.store();
    let for_pods = replica_sets.clone();
    let context = Arc::new(Context {
        client: client.clone(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        backoff: RetryBackoff::default(),
        replica_sets,
    });
    controller
        .watches(
            Api::<Pod>::all(client),
            watcher::Config::default(),
            move |pod| replica_sets_for_pod(&for_pods, &pod),
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "replicaset sync failed");
            }
        })
        .await;
}

/// The ReplicaSets a pod's change concerns: its controller if it has one, else every
/// ReplicaSet of its namespace whose selector matches it (one of them may adopt it).
fn replica_sets_for_pod(store: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let namespace = pod.namespace().unwrap_or_default();
    if let Some(controller) = owners::controller_of(&pod.metadata) {
        if controller.kind == "ReplicaSet" && controller.api_version == "apps/v1" {
            return vec![ObjectRef::new(&controller.name).within(&namespace)];
        }
        return Vec::new();
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let labels = pod.labels();
    store
        .state()
        .iter()
        .filter(|replica_set| replica_set.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|replica_set| {
            replica_set
                .spec
                .as_ref()
                .is_some_and(|spec| label_selector_matches(&spec.selector, labels))
        })
        .map(|replica_set| ObjectRef::from_obj(replica_set.as_ref()))
        .collect()
}

/// Whether a workload's selector selects these labels. An empty or invalid selector
/// selects nothing here: controllers never adopt everything.
pub(crate) fn label_selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> bool {
    owners::selector(selector)
        .is_ok_and(|selector| !selector.selects_all() && selector.matches(labels))
}

/// `spec.replicas`, which defaulting sets to 1 when it is left out.
pub(crate) fn desired_replicas(replica_set: &ReplicaSet) -> i32 {
    replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

async fn reconcile(
    cached: Arc<ReplicaSet>,
    context: Arc<Context>,
) -> Result<Action, ReplicaSetError> {
    let action = sync_replica_set(&cached, &context).await?;
    context.backoff.succeeded(cached.as_ref());
    Ok(action)
}

fn error_policy(
    replica_set: Arc<ReplicaSet>,
    error: &ReplicaSetError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(%error, replica_set = %replica_set.name_any(), "retrying the replicaset after a back-off");
    context.backoff.requeue_after_failure(replica_set.as_ref())
}

async fn sync_replica_set(
    cached: &ReplicaSet,
    context: &Context,
) -> Result<Action, ReplicaSetError> {
    let namespace = cached.namespace().unwrap_or_default();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
    let Some(mut replica_set) = replica_sets.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let Some(spec) = replica_set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = match owners::selector(&spec.selector) {
        Ok(selector) => selector,
        Err(error) => {
            // Validation refuses such selectors; one that slipped through cannot be
            // acted on, and trying again would not help.
            tracing::warn!(%error, replica_set = %replica_set.name_any(), "invalid selector");
            return Ok(Action::await_change());
        }
    };
    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let namespace_pods = pods_api.list(&ListParams::default()).await?.items;
    let active = namespace_pods
        .iter()
        .filter(|pod| pods::is_pod_active(pod))
        .cloned()
        .collect();
    let owned = owners::claim(&pods_api, &replica_set, &selector, active).await?;
    let failure = if replica_set.metadata.deletion_timestamp.is_none() {
        let related = related_pods(context, &replica_set, &namespace_pods);
        manage::manage_replicas(context, &replica_set, &owned, &related)
            .await
            .err()
    } else {
        None
    };
    let now = Timestamp::now();
    let new_status = status::calculate_status(&replica_set, &owned, failure.as_ref(), now);
    if status::needs_update(&replica_set, &new_status) {
        let mut new_status = new_status;
        new_status.observed_generation = replica_set.metadata.generation;
        replica_set.status = Some(new_status);
        replica_set = replica_sets
            .replace_status(
                &replica_set.name_any(),
                &PostParams::default(),
                &replica_set,
            )
            .await?;
    }
    if let Some(failure) = failure {
        return Err(ReplicaSetError::ManageReplicas(failure.message));
    }
    Ok(
        match status::next_availability(&replica_set, &owned, Timestamp::now()) {
            Some(after) => Action::requeue(after),
            None => Action::await_change(),
        },
    )
}

/// The active pods of the ReplicaSet and of its siblings, the ReplicaSets with the same
/// controller (a Deployment's old and new ones); none when it has no controller, as in
/// Kubernetes' `getIndirectlyRelatedPods`.
fn related_pods(context: &Context, replica_set: &ReplicaSet, namespace_pods: &[Pod]) -> Vec<Pod> {
    let Some(controller) = owners::controller_of(&replica_set.metadata) else {
        return Vec::new();
    };
    let namespace = replica_set.namespace();
    let mut siblings: HashSet<String> = context
        .replica_sets
        .state()
        .iter()
        .filter(|sibling| sibling.namespace() == namespace)
        .filter(|sibling| owners::is_controlled_by(&sibling.metadata, &controller.uid))
        .filter_map(|sibling| sibling.uid())
        .collect();
    siblings.extend(replica_set.uid());
    namespace_pods
        .iter()
        .filter(|pod| pods::is_pod_active(pod))
        .filter(|pod| {
            owners::controller_of(&pod.metadata)
                .is_some_and(|reference| siblings.contains(&reference.uid))
        })
        .cloned()
        .collect()
}
