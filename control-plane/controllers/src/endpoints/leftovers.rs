//! Endpoints whose Service is gone are deleted, as the Endpoints controller does when it
//! syncs a deleted Service and, once at start, for every Endpoints object
//! (`checkLeftoverEndpoints`).
//!
//! kube-runtime's `Controller` never reconciles an object that has left its cache, so a
//! deleted Service cannot be synced there. This is a queue of its own (kube-runtime's
//! `applier`, with the same per-key back-off) keyed by Endpoints: a Service's deletion
//! queues its Endpoints, and every (re)list of the Services queues all Endpoints, which
//! also catches deletions missed while no watch was open. Nothing is queued when an
//! Endpoints object is merely created, so Endpoints written before their selector-less
//! Service are left alone, as in Kubernetes. The decision itself is made on a fresh read:
//! an Endpoints object goes only when the API server has no Service of its name.

use std::convert::Infallible;
use std::sync::Arc;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::{ObjectRef, Store, store};
use kube::runtime::{WatchStreamExt, applier, reflector, watcher};
use kube::{Client, ResourceExt};

use crate::retry::RetryBackoff;

/// Endpoints that hold a leader-election record have no Service and are not leftovers.
const LEADER_ELECTION_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

#[derive(Debug, thiserror::Error)]
pub enum LeftoverEndpointsError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

struct Context {
    client: Client,
    backoff: RetryBackoff,
}

pub(super) async fn run(client: Client) {
    let (endpoints, writer) = store::<Endpoints>();
    // The Endpoints cache is kept by its own watch; it queues nothing.
    let cache = reflector(
        writer,
        watcher(
            Api::<Endpoints>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .filter_map(|_| std::future::ready(None));
    let sweep_store = endpoints.clone();
    let candidates = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .then(move |event| {
        let store = sweep_store.clone();
        async move { candidates_after(event, &store).await }
    })
    .flat_map(stream::iter);
    let context = Arc::new(Context {
        client,
        backoff: RetryBackoff::default(),
    });
    applier(
        |endpoints, context| Box::pin(reconcile(endpoints, context)),
        error_policy,
        context,
        endpoints,
        stream::select(cache, candidates),
        controller::Config::default(),
    )
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "leftover endpoints check failed");
        }
    })
    .await;
}

/// The Endpoints a Service watch event may have left without a Service.
async fn candidates_after(
    event: Result<watcher::Event<Service>, watcher::Error>,
    endpoints: &Store<Endpoints>,
) -> Vec<Result<ObjectRef<Endpoints>, Infallible>> {
    match event {
        Ok(watcher::Event::Delete(service)) => {
            let namespace = service.namespace().unwrap_or_default();
            vec![Ok(ObjectRef::new(&service.name_any()).within(&namespace))]
        }
        Ok(watcher::Event::InitDone) => {
            if endpoints.wait_until_ready().await.is_err() {
                return Vec::new();
            }
            endpoints
                .state()
                .iter()
                .filter(|endpoints| {
                    !endpoints
                        .annotations()
                        .contains_key(LEADER_ELECTION_ANNOTATION)
                })
                .map(|endpoints| Ok(ObjectRef::from_obj(endpoints.as_ref())))
                .collect()
        }
        Ok(_) => Vec::new(),
        Err(error) => {
            tracing::debug!(%error, "the service watch for leftover endpoints failed; it is retried");
            Vec::new()
        }
    }
}

async fn reconcile(
    endpoints: Arc<Endpoints>,
    context: Arc<Context>,
) -> Result<Action, LeftoverEndpointsError> {
    delete_if_leftover(&endpoints, &context).await?;
    context.backoff.succeeded(endpoints.as_ref());
    Ok(Action::await_change())
}

fn error_policy(
    endpoints: Arc<Endpoints>,
    error: &LeftoverEndpointsError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(%error, endpoints = %endpoints.name_any(), "retrying the leftover endpoints check after a back-off");
    context.backoff.requeue_after_failure(endpoints.as_ref())
}

async fn delete_if_leftover(endpoints: &Endpoints, context: &Context) -> Result<(), kube::Error> {
    let namespace = endpoints.namespace().unwrap_or_default();
    let name = endpoints.name_any();
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    if services.get_opt(&name).await?.is_some() {
        return Ok(());
    }
    let api: Api<Endpoints> = Api::namespaced(context.client.clone(), &namespace);
    // The uid precondition spares an Endpoints object of the same name created since.
    let delete = DeleteParams {
        preconditions: Some(Preconditions {
            uid: endpoints.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &delete).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => Ok(()),
        Err(error) => Err(error),
    }
}
