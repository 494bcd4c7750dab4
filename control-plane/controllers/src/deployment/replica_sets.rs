//! A Deployment's ReplicaSets as one sync sees them: claimed from a fresh list of the
//! namespace's ReplicaSets, each with the counts of its pods from a fresh list of the
//! Deployment's pods.
//!
//! Kubernetes decides from the ReplicaSets' status, which the ReplicaSet controller writes
//! a moment after pods change. Counting the pods themselves makes the rolling update's
//! bounds hold at every moment even when that status lags: a ReplicaSet that is being
//! scaled down counts with the pods it still has for the surge, and with only the pods it
//! will keep for availability.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::core::Selector;

use super::{DeploymentError, revision};
use crate::{owners, pods};

/// The label that tells apart the pods of a Deployment's ReplicaSets, whose value is the
/// hash of the ReplicaSet's pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// How many of a ReplicaSet's pods are in which state, as listed now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// Counted towards replicas: neither being deleted nor finished.
    pub active: i32,
    /// Active and ready.
    pub ready: i32,
    /// Active and ready for the ReplicaSet's `minReadySeconds`.
    pub available: i32,
    /// Not Succeeded or Failed, whether being deleted or not: pods that may still run.
    pub unfinished: i32,
}

impl PodCounts {
    fn of<'a>(
        pods: impl Iterator<Item = &'a Pod>,
        minimum_ready_seconds: i32,
        now: Timestamp,
    ) -> PodCounts {
        let mut counts = PodCounts::default();
        for pod in pods {
            if !matches!(pods::pod_phase(pod), Some("Succeeded" | "Failed")) {
                counts.unfinished += 1;
            }
            if !pods::is_pod_active(pod) {
                continue;
            }
            counts.active += 1;
            if pods::is_pod_ready(pod) {
                counts.ready += 1;
            }
            if pods::is_pod_available(pod, minimum_ready_seconds, now) {
                counts.available += 1;
            }
        }
        counts
    }
}

#[derive(Clone, Debug)]
pub struct TrackedReplicaSet {
    pub object: ReplicaSet,
    pub pods: PodCounts,
}

impl TrackedReplicaSet {
    pub fn name(&self) -> String {
        self.object.name_any()
    }

    /// `spec.replicas`.
    pub fn replicas(&self) -> i32 {
        crate::replicaset::desired_replicas(&self.object)
    }

    /// The pods it has or will have: its replicas, or more while it is scaling down.
    pub fn surge_count(&self) -> i32 {
        self.replicas().max(self.pods.active)
    }

    /// The available pods it will keep once it has its replicas: the ReplicaSet deletes
    /// unavailable pods first, so it keeps `min(available, replicas)`.
    pub fn available_kept(&self) -> i32 {
        self.pods.available.min(self.replicas())
    }

    pub fn template(&self) -> Option<&PodTemplateSpec> {
        self.object.spec.as_ref()?.template.as_ref()
    }

    pub fn status_replicas(&self) -> i32 {
        self.object
            .status
            .as_ref()
            .map_or(0, |status| status.replicas)
    }

    /// Whether the ReplicaSet controller has seen the ReplicaSet's latest spec.
    pub fn observed(&self) -> bool {
        let observed = self
            .object
            .status
            .as_ref()
            .and_then(|status| status.observed_generation);
        observed >= self.object.metadata.generation
    }
}

/// The Deployment's ReplicaSets after claiming (adopting orphans its selector matches,
/// releasing those that no longer match), with their pods counted.
pub async fn load(
    client: &kube::Client,
    deployment: &Deployment,
    selector: &Selector,
    now: Timestamp,
) -> Result<Vec<TrackedReplicaSet>, DeploymentError> {
    let namespace = deployment.namespace().unwrap_or_default();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    // All of the namespace's ReplicaSets, so that owned ones that no longer match are
    // found and released.
    let candidates = replica_sets.list(&ListParams::default()).await?.items;
    let claimed = owners::claim(&replica_sets, deployment, selector, candidates).await?;
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pods = pods_api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await?
        .items;
    Ok(claimed
        .into_iter()
        .map(|replica_set| {
            let uid = replica_set.uid().unwrap_or_default();
            let minimum_ready_seconds = replica_set
                .spec
                .as_ref()
                .and_then(|spec| spec.min_ready_seconds)
                .unwrap_or(0);
            let owned = pods
                .iter()
                .filter(|pod| owners::is_controlled_by(&pod.metadata, &uid));
            TrackedReplicaSet {
                pods: PodCounts::of(owned, minimum_ready_seconds, now),
                object: replica_set,
            }
        })
        .collect())
}

/// Oldest first, by creation time and then name (`ReplicaSetsByCreationTimestamp`).
pub fn by_creation(first: &TrackedReplicaSet, second: &TrackedReplicaSet) -> std::cmp::Ordering {
    let created = |replica_set: &TrackedReplicaSet| {
        replica_set
            .object
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|time| time.0)
    };
    created(first)
        .cmp(&created(second))
        .then_with(|| first.name().cmp(&second.name()))
}

/// Lowest revision first, then oldest (`ReplicaSetsByRevision`); a malformed revision
/// counts as 0.
pub fn by_revision(first: &TrackedReplicaSet, second: &TrackedReplicaSet) -> std::cmp::Ordering {
    let revision_of =
        |replica_set: &TrackedReplicaSet| revision::revision(&replica_set.object).unwrap_or(0);
    revision_of(first)
        .cmp(&revision_of(second))
        .then_with(|| by_creation(first, second))
}
