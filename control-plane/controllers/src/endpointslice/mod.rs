//! The EndpointSlice controller (kube-controller-manager's `endpointslice-controller`,
//! events from `endpoint-slice-controller`): for every Service with a selector,
//! discovery.k8s.io/v1 EndpointSlices that list its pods, at most
//! `--max-endpoints-per-slice` endpoints each, with the conditions ready, serving and
//! terminating, the node, zone, pod reference and hostname of each.
//!
//! A Service's slices carry `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, and the
//! Service as their controller owner, so the garbage collector removes them with it. Each
//! sync reads the Service, its pods (by its selector), the nodes they run on and its
//! slices from the API server, plans the fewest changes (`plan`) and writes them; updates
//! carry the resourceVersion read, so a concurrent writer makes the sync fail with 409 and
//! retry.

mod desired;
mod plan;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use self::plan::{CONTROLLER_NAME, Plan};
use crate::ControllerManagerOptions;
use crate::endpoints::service_pods::{
    LAST_CHANGE_TRIGGER_TIME_ANNOTATION, ServiceMembers, is_external_name,
    is_namespace_terminating, selector_for_listing, service_ip_families, service_selector,
    services_for_pod,
};
use crate::endpoints::trigger_time::{TriggerTimeTracker, format_trigger_time};
use crate::events::{EventRecorder, EventType};
use crate::replicaset::api_error_message;
use crate::retry::RetryBackoff;

const COMPONENT: &str = "endpoint-slice-controller";
/// The label naming a slice's Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming what manages a slice.
pub(crate) const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";

#[derive(Debug, thiserror::Error)]
pub enum EndpointSliceError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    /// The sync wrote what it could and is tried again (pods on missing nodes, or a
    /// failed write).
    #[error("{0}")]
    Incomplete(String),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
    trigger_times: TriggerTimeTracker,
    members: Arc<ServiceMembers>,
    maximum_per_slice: usize,
}

pub async fn run(client: Client, options: Arc<ControllerManagerOptions>) {
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
        maximum_per_slice: options.max_endpoints_per_slice.max(1),
    });
    let managed = format!("{MANAGED_BY_LABEL}={CONTROLLER_NAME}");
    controller
        .owns(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default().labels(&managed),
        )
        .watches(
            Api::<Pod>::all(client),
            watcher::Config::default(),
            move |pod| services_for_pod(&services, &members_for_pods, &pod),
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "endpointslice sync failed");
            }
        })
        .await;
}

async fn reconcile(
    cached: Arc<Service>,
    context: Arc<Context>,
) -> Result<Action, EndpointSliceError> {
    sync_service(&cached, &context).await?;
    context.backoff.succeeded(cached.as_ref());
    Ok(Action::await_change())
}

fn error_policy(
    service: Arc<Service>,
    error: &EndpointSliceError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(%error, service = %service.name_any(), "retrying the service's endpoint slices after a back-off");
    context.backoff.requeue_after_failure(service.as_ref())
}

async fn sync_service(cached: &Service, context: &Context) -> Result<(), EndpointSliceError> {
    let namespace = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    let Some(service) = services.get_opt(&name).await? else {
        // Its slices go with it, through their owner reference.
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
    let slices_api: Api<EndpointSlice> = Api::namespaced(context.client.clone(), &namespace);
    let slice_listing = ListParams::default().labels(&format!(
        "{SERVICE_NAME_LABEL}={name},{MANAGED_BY_LABEL}={CONTROLLER_NAME}"
    ));
    // Slices on their way out are left to go (`dropEndpointSlicesPendingDeletion`).
    let existing: Vec<EndpointSlice> = slices_api
        .list(&slice_listing)
        .await?
        .items
        .into_iter()
        .filter(|slice| slice.metadata.deletion_timestamp.is_none())
        .collect();
    let nodes = nodes_of(&context.client, &pods).await?;
    let trigger_time = context.trigger_times.compute(&service, &pods);

    let families = service_ip_families(&service);
    let mut by_address_type: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    let mut plan = Plan::default();
    for slice in existing {
        if families
            .iter()
            .any(|family| family.address_type() == slice.address_type)
        {
            by_address_type
                .entry(slice.address_type.clone())
                .or_default()
                .push(slice);
        } else {
            plan.delete.push(slice);
        }
    }
    let mut problems = Vec::new();
    let mut members: Vec<String> = Vec::new();
    for family in families {
        let address_type = family.address_type();
        let wanted = desired::desired_endpoints(&service, &pods, &nodes, family);
        problems.extend(wanted.skipped);
        members.extend(
            wanted
                .by_ports
                .values()
                .flat_map(|group| group.endpoints.keys())
                .map(|(_, _, _, pod)| pod.clone()),
        );
        let existing = by_address_type.remove(address_type).unwrap_or_default();
        let planned = plan::plan_address_type(
            &service,
            address_type,
            existing,
            wanted.by_ports,
            context.maximum_per_slice,
        );
        plan.create.extend(planned.create);
        plan.update.extend(planned.update);
        plan.delete.extend(planned.delete);
    }
    if let Err(error) = apply(&slices_api, &service, plan, trigger_time).await {
        problems.push(error);
    }
    context
        .members
        .record(&service, members.iter().map(String::as_str));
    if problems.is_empty() {
        return Ok(());
    }
    let problem = if problems.len() == 1 {
        problems.remove(0)
    } else {
        format!("[{}]", problems.join(", "))
    };
    context
        .events
        .publish(
            &service,
            EventType::Warning,
            "FailedToUpdateEndpointSlices",
            format!("Error updating Endpoint Slices for Service {namespace}/{name}: {problem}"),
        )
        .await;
    Err(EndpointSliceError::Incomplete(problem))
}

/// The nodes the pods run on that exist, by name; one read per node.
async fn nodes_of(client: &Client, pods: &[Pod]) -> Result<BTreeMap<String, Node>, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let mut nodes = BTreeMap::new();
    let names: std::collections::BTreeSet<&str> = pods
        .iter()
        .filter_map(|pod| pod.spec.as_ref()?.node_name.as_deref())
        .filter(|name| !name.is_empty())
        .collect();
    for name in names {
        if let Some(node) = api.get_opt(name).await? {
            nodes.insert(name.to_owned(), node);
        }
    }
    Ok(nodes)
}

/// Writes the plan: creates (not for a Service being deleted, whose slices the garbage
/// collector is removing), updates, deletes. The first failure stops it, as in Kubernetes.
async fn apply(
    api: &Api<EndpointSlice>,
    service: &Service,
    plan: Plan,
    trigger_time: Option<jiff::Timestamp>,
) -> Result<(), String> {
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    let annotate = |slice: &mut EndpointSlice| {
        let annotations = slice.annotations_mut();
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
    };
    if service.metadata.deletion_timestamp.is_none() {
        for mut slice in plan.create {
            annotate(&mut slice);
            match api.create(&PostParams::default(), &slice).await {
                Ok(_) => {}
                Err(error) if is_namespace_terminating(&error) => return Ok(()),
                Err(error) => {
                    return Err(format!(
                        "failed to create EndpointSlice for Service {namespace}/{name}: {}",
                        api_error_message(&error)
                    ));
                }
            }
        }
    }
    for mut slice in plan.update {
        annotate(&mut slice);
        let slice_name = slice.name_any();
        if let Err(error) = api
            .replace(&slice_name, &PostParams::default(), &slice)
            .await
        {
            return Err(format!(
                "failed to update {slice_name} EndpointSlice for Service {namespace}/{name}: {}",
                api_error_message(&error)
            ));
        }
    }
    for slice in plan.delete {
        let slice_name = slice.name_any();
        let delete = DeleteParams {
            preconditions: Some(Preconditions {
                uid: slice.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&slice_name, &delete).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(error) => {
                return Err(format!(
                    "failed to delete {slice_name} EndpointSlice for Service {namespace}/{name}: {}",
                    api_error_message(&error)
                ));
            }
        }
    }
    Ok(())
}
