//! The namespace controller: a namespace marked for deletion has everything in it deleted,
//! then its `kubernetes` finalizer removed, which lets the API server remove it. (Its
//! `default` ServiceAccount comes from the ServiceAccount controller.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::resources::ALL_RESOURCES;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceControllerError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

pub struct Context {
    pub client: Client,
}

fn namespaced_resources() -> impl Iterator<Item = ApiResource> {
    ALL_RESOURCES
        .iter()
        .filter(|resource| resource.namespaced && resource.is_storage_version())
        .map(|resource| {
            ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(resource.group, resource.version, resource.kind),
                resource.plural,
            )
        })
}

/// Deletes what is left in the namespace; answers whether anything remains.
async fn drain(client: &Client, namespace: &str) -> Result<bool, kube::Error> {
    let mut remaining = false;
    for resource in namespaced_resources() {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let objects = api.list(&ListParams::default()).await?;
        if objects.items.is_empty() {
            continue;
        }
        remaining = true;
        let zero_grace = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::background()
        };
        api.delete_collection(&zero_grace, &ListParams::default())
            .await?;
    }
    Ok(remaining)
}

pub async fn reconcile(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> Result<Action, NamespaceControllerError> {
    let name = namespace.name_any();
    if namespace.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    if drain(&context.client, &name).await? {
        // Deletions may still be pending (finalizers, pods on nodes): look again soon.
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let api: Api<Namespace> = Api::all(context.client.clone());
    let mut finalized = (*namespace).clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(Vec::new());
    }
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(error) => Err(error.into()),
    }
}

fn error_policy(
    _namespace: Arc<Namespace>,
    error: &NamespaceControllerError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(%error, "namespace reconcile failed");
    Action::requeue(Duration::from_secs(1))
}

pub async fn run(client: Client) {
    let api: Api<Namespace> = Api::all(client.clone());
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|_| futures::future::ready(()))
        .await;
}
