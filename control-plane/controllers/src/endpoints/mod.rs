//! The Endpoints controller (kube-controller-manager's `endpoints-controller`, events from
//! `endpoint-controller`): for every Service with a selector, an Endpoints object of the
//! same name listing the selected pods' addresses, ready ones under `addresses` and the
//! others under `notReadyAddresses` (all of them under `addresses` when the Service
//! publishes not-ready addresses), for each Service port the pod offers.
//!
//! Services without a selector are left alone: their Endpoints are written by their users.
//! Each sync reads the Service, its pods (by its selector) and the current Endpoints from
//! the API server and writes only when the subsets or labels differ, replacing with the
//! resourceVersion it read, so a concurrent writer makes it fail with 409 and retry.
//! When a Service is deleted its Endpoints follow (`leftovers`).

mod leftovers;
pub(crate) mod service_pods;
mod subsets;
pub(crate) mod trigger_time;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use self::service_pods::{
    HEADLESS_SERVICE_LABEL, LAST_CHANGE_TRIGGER_TIME_ANNOTATION, ServiceMembers, is_external_name,
    is_namespace_terminating, is_service_ip_set, selector_for_listing, service_selector,
    services_for_pod,
};
use self::trigger_time::{TriggerTimeTracker, format_trigger_time};
use crate::ControllerManagerOptions;
use crate::events::{EventRecorder, EventType};
use crate::replicaset::api_error_message;
use crate::retry::RetryBackoff;

const COMPONENT: &str = "endpoint-controller";
/// Set when the Endpoints were cut down to `subsets::MAXIMUM_CAPACITY` addresses.
const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
const TRUNCATED: &str = "truncated";

#[derive(Debug, thiserror::Error)]
pub enum EndpointsError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
    trigger_times: TriggerTimeTracker,
    members: Arc<ServiceMembers>,
}

/// Runs the Endpoints controller and the removal of Endpoints whose Service is gone.
pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let services = controller.store();
    let members = Arc::new(ServiceMembers::default());
    let members_for_pods = Arc::clone(&members);
    let context = Arc::new(Context {
        client: client.clone(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        backoff: RetryBackoff::default(),
        trigger_times: TriggerTimeTracker::default(),
        members,
    });
    let endpoints = controller
        .watches(
            Api::<Pod>::all(client.clone()),
            watcher::Config::default(),
            move |pod| services_for_pod(&services, &members_for_pods, &pod),
        )
        // An Endpoints object that is deleted or edited is put back as its Service says.
        .watches(
            Api::<Endpoints>::all(client.clone()),
            watcher::Config::default(),
            |endpoints| {
                let namespace = endpoints.namespace().unwrap_or_default();
                Some(ObjectRef::<Service>::new(&endpoints.name_any()).within(&namespace))
            },
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "endpoints sync failed");
            }
        });
    tokio::join!(endpoints, leftovers::run(client));
}

async fn reconcile(cached: Arc<Service>, context: Arc<Context>) -> Result<Action, EndpointsError> {
    sync_service(&cached, &context).await?;
    context.backoff.succeeded(cached.as_ref());
    Ok(Action::await_change())
}

fn error_policy(service: Arc<Service>, error: &EndpointsError, context: Arc<Context>) -> Action {
    tracing::debug!(%error, service = %service.name_any(), "retrying the service's endpoints after a back-off");
    context.backoff.requeue_after_failure(service.as_ref())
}

async fn sync_service(cached: &Service, context: &Context) -> Result<(), EndpointsError> {
    let namespace = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    let endpoints_api: Api<Endpoints> = Api::namespaced(context.client.clone(), &namespace);
    let Some(service) = services.get_opt(&name).await? else {
        // The Service was deleted after the cache saw it: its Endpoints go with it.
        match endpoints_api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(error) => return Err(error.into()),
        }
        context.trigger_times.forget(&ObjectRef::from_obj(cached));
        return Ok(());
    };
    if is_external_name(&service) {
        return Ok(());
    }
    let Some(selector) = service_selector(&service) else {
        return Ok(());
    };
    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let listing = ListParams::default().labels_from(&selector_for_listing(selector));
    let pods = pods_api.list(&listing).await?.items;
    // Computed on every sync, also one that writes nothing, so that the tracker's idea of
    // what the endpoints last reflected stays current.
    let trigger_time = context.trigger_times.compute(&service, &pods);
    let desired = subsets::desired_subsets(&service, &pods);
    let mut subsets = desired.clone();
    let truncated = subsets::truncate_subsets(&mut subsets);
    let current = endpoints_api.get_opt(&name).await?;
    let service_labels = service.labels().clone();
    if let Some(current) = current.as_ref()
        && is_up_to_date(current, &subsets, truncated, &service_labels)
    {
        record_members(context, &service, &desired);
        return Ok(());
    }
    let creating = current.is_none();
    let mut endpoints = current.unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        subsets: None,
    });
    endpoints.subsets = (!subsets.is_empty()).then_some(subsets);
    let annotations = endpoints.annotations_mut();
    match trigger_time {
        Some(time) => {
            annotations.insert(
                LAST_CHANGE_TRIGGER_TIME_ANNOTATION.to_owned(),
                format_trigger_time(time),
            );
        }
        None => {
            annotations.remove(LAST_CHANGE_TRIGGER_TIME_ANNOTATION);
        }
    }
    if truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.to_owned(), TRUNCATED.to_owned());
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    let mut labels = service_labels;
    if is_service_ip_set(&service) {
        labels.remove(HEADLESS_SERVICE_LABEL);
    } else {
        labels.insert(HEADLESS_SERVICE_LABEL.to_owned(), String::new());
    }
    endpoints.metadata.labels = Some(labels);
    let written = if creating {
        endpoints_api
            .create(&PostParams::default(), &endpoints)
            .await
    } else {
        endpoints_api
            .replace(&name, &PostParams::default(), &endpoints)
            .await
    };
    match written {
        Ok(_) => {
            record_members(context, &service, &desired);
            Ok(())
        }
        Err(error) if creating && is_namespace_terminating(&error) => {
            // Creates keep failing until the namespace is gone, and the Service with it.
            Ok(())
        }
        Err(error) => {
            let message = if creating {
                format!(
                    "Failed to create endpoint for service {namespace}/{name}: {}",
                    api_error_message(&error)
                )
            } else {
                format!(
                    "Failed to update endpoint {namespace}/{name}: {}",
                    api_error_message(&error)
                )
            };
            let reason = if creating {
                "FailedToCreateEndpoint"
            } else {
                "FailedToUpdateEndpoint"
            };
            context
                .events
                .publish(&endpoints, EventType::Warning, reason, message)
                .await;
            Err(error.into())
        }
    }
}

/// Whether the Endpoints already say what the Service and its pods say: the same subsets
/// (pod resourceVersions aside), the Service's labels (the headless label aside, which the
/// Service does not carry) and the over-capacity annotation exactly when truncated.
///
/// Kubernetes compares the untruncated subsets, and so rewrites an over-capacity
/// Endpoints on every sync; it does not watch its own writes, this controller does (to put
/// back edited Endpoints), so it compares what it would write instead.
fn is_up_to_date(
    current: &Endpoints,
    subsets: &[EndpointSubset],
    truncated: bool,
    service_labels: &BTreeMap<String, String>,
) -> bool {
    let current_subsets = current.subsets.as_deref().unwrap_or_default();
    let mut current_labels = current.labels().clone();
    current_labels.remove(HEADLESS_SERVICE_LABEL);
    let over_capacity_annotated = current.annotations().contains_key(OVER_CAPACITY_ANNOTATION);
    subsets::comparable_subsets(current_subsets) == subsets::comparable_subsets(subsets)
        && current_labels == *service_labels
        && over_capacity_annotated == truncated
}

/// Remembers which pods the Service's endpoints now list, for `services_for_pod`.
fn record_members(context: &Context, service: &Service, subsets: &[EndpointSubset]) {
    let names = subsets
        .iter()
        .flat_map(|subset| {
            subset
                .addresses
                .iter()
                .flatten()
                .chain(subset.not_ready_addresses.iter().flatten())
        })
        .filter_map(|address| address.target_ref.as_ref()?.name.as_deref());
    context.members.record(service, names);
}
