//! The Deployment controller (kube-controller-manager's `deployment-controller`): each
//! Deployment owns one ReplicaSet per pod template it has had, named after the template's
//! hash; the current template's ReplicaSet is scaled up and the others down, by the
//! Deployment's strategy (RollingUpdate within `maxSurge` and `maxUnavailable`, or
//! Recreate), and the Deployment's status and conditions report the rollout.
//!
//! A sync reads the Deployment, its ReplicaSets and their pods from the API server, so a
//! restarted controller manager carries on from what exists: a ReplicaSet's name is the
//! template's hash, so it is found again and never made twice.
//!
//! One file per concern: `replica_sets` (what a sync sees), `new_replica_set` (finding or
//! creating the current template's ReplicaSet), `template_equality` (which template is
//! the Deployment's), `scaling` (scaling ReplicaSets, and proportional scaling when
//! replicas change mid-rollout), `rolling` and `recreate` (the strategies), `progress`
//! (status and conditions), `revision` (the annotations that order revisions), `history`
//! (`revisionHistoryLimit`), `conditions`, `fenceposts` (maxSurge and maxUnavailable).

mod conditions;
mod fenceposts;
mod history;
mod new_replica_set;
mod progress;
mod recreate;
mod replica_sets;
mod revision;
mod rolling;
mod scaling;
mod template_equality;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::owners::{self, ClaimError};
use crate::replicaset::label_selector_matches;
use crate::retry::RetryBackoff;
use replica_sets::TrackedReplicaSet;

pub use fenceposts::FencepostError;

const COMPONENT: &str = "deployment-controller";

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot claim replica sets: {0}")]
    Claim(#[from] ClaimError),
    #[error("cannot hash the pod template: {0}")]
    Hash(#[from] serde_json::Error),
    #[error("invalid value for IntOrString: {0}")]
    Fencepost(#[from] FencepostError),
    #[error("unexpected deployment strategy type: {0}")]
    UnexpectedStrategy(String),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let for_replica_sets = controller.store();
    let for_pods = controller.store();
    let context = Arc::new(Context {
        client: client.clone(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        backoff: RetryBackoff::default(),
    });
    controller
        .watches(
            Api::<ReplicaSet>::all(client.clone()),
            watcher::Config::default(),
            move |replica_set| deployments_for_replica_set(&for_replica_sets, &replica_set),
        )
        .watches(
            Api::<Pod>::all(client),
            watcher::Config::default(),
            move |pod| recreate_deployments_for_pod(&for_pods, &pod),
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "deployment sync failed");
            }
        })
        .await;
}

/// The Deployments a ReplicaSet's change concerns: its controller, or for an orphan every
/// Deployment of its namespace whose selector matches it.
fn deployments_for_replica_set(
    store: &Store<Deployment>,
    replica_set: &ReplicaSet,
) -> Vec<ObjectRef<Deployment>> {
    let namespace = replica_set.namespace().unwrap_or_default();
    if let Some(controller) = owners::controller_of(&replica_set.metadata) {
        if controller.kind == "Deployment" && controller.api_version == "apps/v1" {
            return vec![ObjectRef::new(&controller.name).within(&namespace)];
        }
        return Vec::new();
    }
    if replica_set.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    matching_deployments(store, &namespace, replica_set.labels(), |_| true)
}

/// Recreate Deployments wait until their old pods are gone, which only a pod's own change
/// tells; rolling updates follow their ReplicaSets' status.
fn recreate_deployments_for_pod(
    store: &Store<Deployment>,
    pod: &Pod,
) -> Vec<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    matching_deployments(store, &namespace, pod.labels(), |deployment| {
        fenceposts::strategy_type(deployment) == fenceposts::RECREATE
    })
}

fn matching_deployments(
    store: &Store<Deployment>,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
    wanted: impl Fn(&Deployment) -> bool,
) -> Vec<ObjectRef<Deployment>> {
    store
        .state()
        .iter()
        .filter(|deployment| deployment.namespace().as_deref() == Some(namespace))
        .filter(|deployment| wanted(deployment))
        .filter(|deployment| {
            deployment
                .spec
                .as_ref()
                .is_some_and(|spec| label_selector_matches(&spec.selector, labels))
        })
        .map(|deployment| ObjectRef::from_obj(deployment.as_ref()))
        .collect()
}

async fn reconcile(
    cached: Arc<Deployment>,
    context: Arc<Context>,
) -> Result<Action, DeploymentError> {
    let namespace = cached.namespace().unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(context.client.clone(), &namespace);
    let Some(deployment) = deployments.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let mut rollout = Rollout {
        context: &context,
        replica_set_api: Api::namespaced(context.client.clone(), &namespace),
        deployments,
        deployment,
        listed: Vec::new(),
        now: Timestamp::now(),
        requeue_after: None,
    };
    rollout.sync().await?;
    context.backoff.succeeded(cached.as_ref());
    Ok(rollout
        .requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

fn error_policy(
    deployment: Arc<Deployment>,
    error: &DeploymentError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(%error, deployment = %deployment.name_any(), "retrying the deployment after a back-off");
    context.backoff.requeue_after_failure(deployment.as_ref())
}

/// One sync of one Deployment: the Deployment as last read or written, and its
/// ReplicaSets as listed at the start.
struct Rollout<'a> {
    context: &'a Context,
    deployments: Api<Deployment>,
    replica_set_api: Api<ReplicaSet>,
    deployment: Deployment,
    listed: Vec<TrackedReplicaSet>,
    now: Timestamp,
    /// When the Deployment must be looked at again without any change (a progress
    /// deadline).
    requeue_after: Option<Duration>,
}

/// The current template's ReplicaSet, if it exists, and all the others.
struct ReplicaSets {
    new: Option<TrackedReplicaSet>,
    old: Vec<TrackedReplicaSet>,
}

impl ReplicaSets {
    /// The old ones, then the new one (Kubernetes' `append(oldRSs, newRS)`).
    fn all(&self) -> impl Iterator<Item = &TrackedReplicaSet> {
        self.old.iter().chain(self.new.as_ref())
    }
}

impl Rollout<'_> {
    /// `syncDeployment`: which of the controller's jobs this Deployment needs now.
    async fn sync(&mut self) -> Result<(), DeploymentError> {
        let Some(spec) = self.deployment.spec.as_ref() else {
            return Ok(());
        };
        let selector = owners::selector(&spec.selector)?;
        if selector.selects_all() {
            self.publish(
                EventType::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required."
                    .to_owned(),
            )
            .await;
            let status = self.deployment.status.get_or_insert_with(Default::default);
            if status.observed_generation < self.deployment.metadata.generation {
                status.observed_generation = self.deployment.metadata.generation;
                self.write_status().await?;
            }
            return Ok(());
        }
        self.listed =
            replica_sets::load(&self.context.client, &self.deployment, &selector, self.now).await?;
        if self.deployment.metadata.deletion_timestamp.is_some() {
            let replica_sets = self.new_and_old_replica_sets(false).await?;
            return self.sync_deployment_status(&replica_sets).await;
        }
        self.check_paused_conditions().await?;
        if spec_paused(&self.deployment) || self.is_scaling_event() {
            return self.sync_scaling().await;
        }
        match fenceposts::strategy_type(&self.deployment) {
            fenceposts::RECREATE => self.rollout_recreate().await,
            fenceposts::ROLLING_UPDATE => self.rollout_rolling().await,
            other => Err(DeploymentError::UnexpectedStrategy(other.to_owned())),
        }
    }

    /// `sync`: for a scaling event or a paused Deployment, scales without rolling out.
    async fn sync_scaling(&mut self) -> Result<(), DeploymentError> {
        let mut replica_sets = self.new_and_old_replica_sets(false).await?;
        self.scale(&mut replica_sets).await?;
        if spec_paused(&self.deployment) {
            self.clean_up_old_replica_sets(&replica_sets.old).await?;
        }
        self.sync_deployment_status(&replica_sets).await
    }

    /// Whether `spec.replicas` changed since the active ReplicaSets were last scaled
    /// (`isScalingEvent`).
    fn is_scaling_event(&self) -> bool {
        let desired = fenceposts::desired_replicas(&self.deployment);
        self.listed
            .iter()
            .filter(|replica_set| replica_set.replicas() > 0)
            .filter_map(|replica_set| revision::desired_replicas_annotation(&replica_set.object))
            .any(|annotated| annotated != desired)
    }

    async fn publish(&self, event_type: EventType, reason: &str, message: String) {
        self.context
            .events
            .publish(&self.deployment, event_type, reason, message)
            .await;
    }

    /// Writes the Deployment's status as held, with its resourceVersion as precondition.
    async fn write_status(&mut self) -> Result<(), DeploymentError> {
        self.deployment = self
            .deployments
            .replace_status(
                &self.deployment.name_any(),
                &PostParams::default(),
                &self.deployment,
            )
            .await?;
        Ok(())
    }

    /// Sets the Deployment's revision annotation. Kubernetes writes it with the status;
    /// this API server keeps metadata out of status writes, so it is a patch of its own.
    /// The status held (perhaps changed and not yet written) is kept.
    async fn write_revision(&mut self, revision: &str) -> Result<(), DeploymentError> {
        let patch = json!({"metadata": {
            "resourceVersion": self.deployment.resource_version(),
            "annotations": {revision::REVISION_ANNOTATION: revision},
        }});
        let status = self.deployment.status.take();
        let mut patched = self
            .deployments
            .patch(
                &self.deployment.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        patched.status = status;
        self.deployment = patched;
        Ok(())
    }

    fn requeue_within(&mut self, after: Duration) {
        self.requeue_after = Some(
            self.requeue_after
                .map_or(after, |current| current.min(after)),
        );
    }
}

fn spec_paused(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.paused)
        .unwrap_or(false)
}
