//! The current template's ReplicaSet (`getAllReplicaSetsAndSyncRevision` and
//! `getNewReplicaSet`): the oldest ReplicaSet whose template is the Deployment's, with its
//! revision raised above all others, or a new one named `<deployment>-<template hash>`.
//! Rolling back is writing an old template into the Deployment: its ReplicaSet becomes the
//! new one again and gets the newest revision.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{ObjectMeta, PostParams};

use super::conditions::{self, PROGRESSING};
use super::replica_sets::{POD_TEMPLATE_HASH_LABEL, PodCounts, TrackedReplicaSet, by_creation};
use super::template_equality::equal_ignore_hash;
use super::{DeploymentError, ReplicaSets, Rollout, progress, revision, scaling};
use crate::events::EventType;
use crate::owners;
use crate::replicaset::api_error_message;
use crate::template_hash::pod_template_hash;

impl Rollout<'_> {
    /// The listed ReplicaSets split into the new one and the old ones. The new one's
    /// annotations and the Deployment's revision are brought up to date; with `create`, a
    /// missing new ReplicaSet is created.
    pub(super) async fn new_and_old_replica_sets(
        &mut self,
        create: bool,
    ) -> Result<ReplicaSets, DeploymentError> {
        let mut old = self.listed.clone();
        old.sort_by(by_creation);
        let template = self.template();
        let existing = old
            .iter()
            .position(|replica_set| {
                replica_set
                    .template()
                    .is_some_and(|candidate| equal_ignore_hash(candidate, &template))
            })
            .map(|index| old.remove(index));
        let new_revision =
            revision::max_revision(old.iter().map(|replica_set| &replica_set.object)) + 1;
        let new = match existing {
            Some(existing) => Some(self.sync_new_replica_set(existing, new_revision).await?),
            None if create => Some(self.create_new_replica_set(&old, new_revision).await?),
            None => None,
        };
        Ok(ReplicaSets { new, old })
    }

    fn template(&self) -> PodTemplateSpec {
        self.deployment
            .spec
            .as_ref()
            .map(|spec| spec.template.clone())
            .unwrap_or_default()
    }

    fn minimum_ready_seconds(&self) -> Option<i32> {
        self.deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.min_ready_seconds)
    }

    async fn sync_new_replica_set(
        &mut self,
        existing: TrackedReplicaSet,
        new_revision: i64,
    ) -> Result<TrackedReplicaSet, DeploymentError> {
        let mut updated = existing.object.clone();
        let annotations_changed = revision::set_new_replica_set_annotations(
            &self.deployment,
            &mut updated,
            new_revision,
            true,
        );
        let spec = updated.spec.get_or_insert_with(Default::default);
        let minimum_ready_changed =
            spec.min_ready_seconds.unwrap_or(0) != self.minimum_ready_seconds().unwrap_or(0);
        if annotations_changed || minimum_ready_changed {
            spec.min_ready_seconds = self.minimum_ready_seconds();
            // The Deployment's own revision follows in the sync this update triggers.
            let written = self
                .replica_set_api
                .replace(&existing.name(), &PostParams::default(), &updated)
                .await?;
            return Ok(TrackedReplicaSet {
                object: written,
                pods: existing.pods,
            });
        }
        let revision = updated
            .annotations()
            .get(revision::REVISION_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        let mut status_changed = false;
        if progress::has_progress_deadline(&self.deployment)
            && conditions::get_condition(self.deployment.status.as_ref(), PROGRESSING).is_none()
        {
            let condition = conditions::new_condition(
                PROGRESSING,
                "True",
                conditions::FOUND_NEW_REPLICA_SET,
                format!("Found new replica set {:?}", existing.name()),
                self.now,
            );
            conditions::set_condition(
                self.deployment.status.get_or_insert_with(Default::default),
                condition,
            );
            status_changed = true;
        }
        if revision::deployment_revision(&self.deployment) != Some(revision.as_str()) {
            self.write_revision(&revision).await?;
        }
        if status_changed {
            self.write_status().await?;
        }
        Ok(existing)
    }

    async fn create_new_replica_set(
        &mut self,
        old: &[TrackedReplicaSet],
        new_revision: i64,
    ) -> Result<TrackedReplicaSet, DeploymentError> {
        let collision_count = self
            .deployment
            .status
            .as_ref()
            .and_then(|status| status.collision_count);
        let mut template = self.template();
        let hash = pod_template_hash(&template, collision_count)?;
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
        let selector = self.selector_with_hash(&hash);
        let name = format!("{}-{hash}", self.deployment.name_any());
        let mut candidate = TrackedReplicaSet {
            object: ReplicaSet {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: self.deployment.namespace(),
                    owner_references: Some(vec![owners::controller_reference(&self.deployment)]),
                    labels: template
                        .metadata
                        .as_ref()
                        .and_then(|metadata| metadata.labels.clone()),
                    ..Default::default()
                },
                spec: Some(ReplicaSetSpec {
                    replicas: Some(0),
                    min_ready_seconds: self.minimum_ready_seconds(),
                    selector,
                    template: Some(template),
                }),
                status: None,
            },
            pods: PodCounts::default(),
        };
        let everything: Vec<&TrackedReplicaSet> = old.iter().chain([&candidate]).collect();
        let replicas = scaling::new_replica_set_replicas(&self.deployment, &everything, 0)?;
        let mut replica_set = candidate.object.clone();
        if let Some(spec) = replica_set.spec.as_mut() {
            spec.replicas = Some(replicas);
        }
        revision::set_new_replica_set_annotations(
            &self.deployment,
            &mut replica_set,
            new_revision,
            false,
        );
        let (created, already_existed) = match self
            .replica_set_api
            .create(&PostParams::default(), &replica_set)
            .await
        {
            Ok(created) => (created, false),
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                match self.adopt_existing(&name).await? {
                    Some(existing) => (existing, true),
                    None => return Err(kube::Error::Api(status).into()),
                }
            }
            Err(error) => return Err(self.report_create_failure(&name, error).await),
        };
        if !already_existed && replicas > 0 {
            self.publish(
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            )
            .await;
        }
        let revision_text = new_revision.to_string();
        if revision::deployment_revision(&self.deployment) != Some(revision_text.as_str()) {
            self.write_revision(&revision_text).await?;
        }
        if !already_existed && progress::has_progress_deadline(&self.deployment) {
            let condition = conditions::new_condition(
                PROGRESSING,
                "True",
                conditions::NEW_REPLICA_SET_CREATED,
                format!("Created new replica set {name:?}"),
                self.now,
            );
            conditions::set_condition(
                self.deployment.status.get_or_insert_with(Default::default),
                condition,
            );
            self.write_status().await?;
        }
        candidate.object = created;
        Ok(candidate)
    }

    /// The Deployment's selector with the hash label added.
    fn selector_with_hash(&self, hash: &str) -> LabelSelector {
        let mut selector = self
            .deployment
            .spec
            .as_ref()
            .map(|spec| spec.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.to_owned());
        selector
    }

    /// A ReplicaSet of the new one's name already exists. It is the new one if this
    /// Deployment controls it and its template is the Deployment's (a sync that did not
    /// list it yet); otherwise two templates hash alike, and the collision count is raised
    /// so that the next sync tries another name.
    async fn adopt_existing(&mut self, name: &str) -> Result<Option<ReplicaSet>, DeploymentError> {
        let existing = self.replica_set_api.get(name).await?;
        let owned = owners::is_controlled_by(
            &existing.metadata,
            &self.deployment.uid().unwrap_or_default(),
        );
        let same_template = existing
            .spec
            .as_ref()
            .and_then(|spec| spec.template.as_ref())
            .is_some_and(|template| equal_ignore_hash(template, &self.template()));
        if owned && same_template {
            return Ok(Some(existing));
        }
        let status = self.deployment.status.get_or_insert_with(Default::default);
        let collisions = status.collision_count.unwrap_or(0);
        status.collision_count = Some(collisions.saturating_add(1));
        tracing::info!(deployment = %self.deployment.name_any(), old = collisions, new = collisions.saturating_add(1), "found a hash collision for deployment; bumping collisionCount to resolve it");
        self.write_status().await?;
        Ok(None)
    }

    /// Reports a refused create in the Progressing condition and an event, and answers
    /// the error for the sync to be retried.
    async fn report_create_failure(&mut self, name: &str, error: kube::Error) -> DeploymentError {
        let message = format!(
            "Failed to create new replica set {name:?}: {}",
            api_error_message(&error)
        );
        if progress::has_progress_deadline(&self.deployment) {
            let condition = conditions::new_condition(
                PROGRESSING,
                "False",
                conditions::FAILED_REPLICA_SET_CREATE,
                message.clone(),
                self.now,
            );
            conditions::set_condition(
                self.deployment.status.get_or_insert_with(Default::default),
                condition,
            );
            // The create's failure is the error that matters; a failed status write only
            // means the condition shows up on a later try.
            if let Err(status_error) = self.write_status().await {
                tracing::debug!(%status_error, "cannot record the failed replica set create");
            }
        }
        self.publish(
            EventType::Warning,
            conditions::FAILED_REPLICA_SET_CREATE,
            message,
        )
        .await;
        error.into()
    }
}
