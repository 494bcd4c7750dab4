//! The resource quota controller: recounts each ResourceQuota's `status.used` from the objects
//! in its namespace whenever the quota or anything it may count changes, and writes `status`
//! (`hard` from `spec.hard`) when it differs. Admission records the usage a write adds; this is
//! what lowers it again when objects are deleted or pods finish.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::{Api, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use wasmkube_admission::quota::{self, ResourceUsage};

use crate::resources::ALL_RESOURCES;

/// How often every quota is recounted even without a change, as Kubernetes' controller does,
/// to repair any count a missed event left wrong.
const RESYNC_PERIOD: Duration = Duration::from_secs(300);

/// How soon a quota is recounted after another writer changed it first.
const CONFLICT_RETRY: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum ResourceQuotaControllerError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot convert a quota or a counted object: {0}")]
    Json(#[from] serde_json::Error),
}

pub struct Context {
    pub client: Client,
}

/// The resources quota counts, by the name quota gives them ("pods", "deployments.apps"):
/// every namespaced resource except events, which Kubernetes' quota ignores.
fn counted_resources() -> impl Iterator<Item = (String, ApiResource)> {
    ALL_RESOURCES
        .iter()
        .filter(|resource| {
            resource.namespaced && resource.kind != "Event" && resource.is_storage_version()
        })
        .map(|resource| {
            (
                resource.storage_name(),
                ApiResource::from_gvk_with_plural(
                    &GroupVersionKind::gvk(resource.group, resource.version, resource.kind),
                    resource.plural,
                ),
            )
        })
}

/// What the quota counts now of every resource it tracks.
async fn recount(
    client: &Client,
    namespace: &str,
    quota_object: &serde_json::Value,
) -> Result<ResourceUsage, ResourceQuotaControllerError> {
    let mut recounted = ResourceUsage::new();
    for (storage_name, resource) in counted_resources() {
        if quota::matching_resources(quota_object, &storage_name).is_empty() {
            continue;
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let objects = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        recounted.extend(quota::usage_stats(
            quota_object,
            &storage_name,
            objects.iter(),
        ));
    }
    Ok(recounted)
}

pub async fn reconcile(
    resource_quota: Arc<ResourceQuota>,
    context: Arc<Context>,
) -> Result<Action, ResourceQuotaControllerError> {
    let name = resource_quota.name_any();
    let namespace = resource_quota.namespace().unwrap_or_default();
    let mut quota_object = serde_json::to_value(&*resource_quota)?;
    let recounted = recount(&context.client, &namespace, &quota_object).await?;
    let status = quota::status(&quota_object, &recounted);
    if quota::status_is_current(&quota_object, &status) {
        return Ok(Action::requeue(RESYNC_PERIOD));
    }
    quota_object["status"] = status;
    let updated: ResourceQuota = serde_json::from_value(quota_object)?;
    let api: Api<ResourceQuota> = Api::namespaced(context.client.clone(), &namespace);
    match api
        .replace_status(&name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(Action::requeue(RESYNC_PERIOD)),
        // The quota changed meanwhile (admission recorded a write, or its spec was edited):
        // recount from its new state.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Action::requeue(CONFLICT_RETRY)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(error) => Err(error.into()),
    }
}

fn error_policy(
    _quota: Arc<ResourceQuota>,
    error: &ResourceQuotaControllerError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(%error, "resource quota reconcile failed");
    Action::requeue(Duration::from_secs(1))
}

/// Every quota in the namespace of a changed object.
fn quotas_in(
    quotas: &Store<ResourceQuota>,
    namespace: Option<String>,
) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .state()
        .iter()
        .filter(|candidate| candidate.namespace() == namespace)
        .map(|candidate| ObjectRef::from_obj(&**candidate))
        .collect()
}

pub async fn run(client: Client) {
    let api: Api<ResourceQuota> = Api::all(client.clone());
    let mut controller = Controller::new(api, watcher::Config::default());
    let quotas = controller.store();
    for (_, resource) in counted_resources() {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let quotas = quotas.clone();
        controller =
            controller.watches_with(api, resource, watcher::Config::default(), move |object| {
                quotas_in(&quotas, object.namespace())
            });
    }
    controller
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|_| futures::future::ready(()))
        .await;
}
