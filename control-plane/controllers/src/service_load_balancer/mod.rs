//! LoadBalancer Services without a cloud, as k3s' ServiceLB answers them (events from
//! `service-controller`): a `type: LoadBalancer` Service's `status.loadBalancer.ingress`
//! lists the addresses of the Ready nodes, one `{ip, ipMode: VIP}` each, sorted and
//! without repeats, in the order of the Service's IP families, kept current as nodes come,
//! go and change readiness. Like ServiceLB, the nodes' ExternalIP addresses are used when
//! any node has one, else their InternalIP addresses.
//!
//! A Service that names a `spec.loadBalancerClass` belongs to that implementation and is
//! left alone. A Service of ours that is no longer of type LoadBalancer has its ingress
//! cleared, as Kubernetes' service controller clears it when the load balancer goes.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Node, Service};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::ControllerManagerOptions;
use crate::endpoints::service_pods::{IpFamily, service_ip_families};
use crate::events::{EventRecorder, EventType};
use crate::retry::RetryBackoff;

const COMPONENT: &str = "service-controller";
const LOAD_BALANCER: &str = "LoadBalancer";
/// Every ingress here is reached at the node's own address (`LoadBalancerIPModeVIP`).
const IP_MODE_VIP: &str = "VIP";

#[derive(Debug, thiserror::Error)]
pub enum ServiceLoadBalancerError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

struct Context {
    client: Client,
    events: EventRecorder,
    backoff: RetryBackoff,
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let context = Arc::new(Context {
        client: client.clone(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        backoff: RetryBackoff::default(),
    });
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let services = controller.store();
    controller
        .watches(
            Api::<Node>::all(client),
            watcher::Config::default(),
            move |_| load_balancers(&services),
        )
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "load balancer status sync failed");
            }
        })
        .await;
}

/// The Services whose ingress follows the nodes.
fn load_balancers(services: &Store<Service>) -> Vec<ObjectRef<Service>> {
    services
        .state()
        .iter()
        .filter(|service| is_ours(service) && wants_load_balancer(service))
        .map(|service| ObjectRef::from_obj(service.as_ref()))
        .collect()
}

fn is_ours(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .is_none_or(|spec| spec.load_balancer_class.is_none())
}

fn wants_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some(LOAD_BALANCER)
}

async fn reconcile(
    cached: Arc<Service>,
    context: Arc<Context>,
) -> Result<Action, ServiceLoadBalancerError> {
    sync_service(&cached, &context).await?;
    context.backoff.succeeded(cached.as_ref());
    Ok(Action::await_change())
}

fn error_policy(
    service: Arc<Service>,
    error: &ServiceLoadBalancerError,
    context: Arc<Context>,
) -> Action {
    tracing::debug!(%error, service = %service.name_any(), "retrying the load balancer status after a back-off");
    context.backoff.requeue_after_failure(service.as_ref())
}

async fn sync_service(cached: &Service, context: &Context) -> Result<(), kube::Error> {
    let namespace = cached.namespace().unwrap_or_default();
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    let Some(mut service) = services.get_opt(&cached.name_any()).await? else {
        return Ok(());
    };
    if !is_ours(&service) {
        return Ok(());
    }
    let current = current_ingress(&service);
    let desired = if wants_load_balancer(&service) {
        let nodes = Api::<Node>::all(context.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        ingress_for(&service, &nodes)
    } else {
        Vec::new()
    };
    if current == desired {
        return Ok(());
    }
    let previous = ingress_text(&current);
    let now = ingress_text(&desired);
    service
        .status
        .get_or_insert_with(Default::default)
        .load_balancer = Some(LoadBalancerStatus {
        ingress: (!desired.is_empty()).then_some(desired.clone()),
    });
    // The whole object goes back with the resourceVersion read: a concurrent change
    // makes this fail with 409 and the sync is tried again.
    services
        .replace_status(&service.name_any(), &PostParams::default(), &service)
        .await?;
    let (event_type, reason, message) = if !wants_load_balancer(&service) {
        (
            EventType::Normal,
            "DeletedLoadBalancer",
            "Deleted load balancer".to_owned(),
        )
    } else if desired.is_empty() {
        (
            EventType::Warning,
            "UnAvailableLoadBalancer",
            "There are no available nodes for LoadBalancer".to_owned(),
        )
    } else {
        (
            EventType::Normal,
            "UpdatedLoadBalancer",
            format!("Updated LoadBalancer with new IPs: {previous} -> {now}"),
        )
    };
    context
        .events
        .publish(&service, event_type, reason, message)
        .await;
    Ok(())
}

fn current_ingress(service: &Service) -> Vec<LoadBalancerIngress> {
    service
        .status
        .as_ref()
        .and_then(|status| status.load_balancer.as_ref())
        .and_then(|load_balancer| load_balancer.ingress.clone())
        .unwrap_or_default()
}

/// One ingress per address of the Ready nodes: their ExternalIPs if any node has one,
/// else their InternalIPs; those of the Service's families, each family's sorted.
fn ingress_for(service: &Service, nodes: &[Node]) -> Vec<LoadBalancerIngress> {
    let addresses_of_type = |address_type: &str| -> Vec<IpAddr> {
        nodes
            .iter()
            .filter(|node| is_node_ready(node))
            .flat_map(|node| {
                node.status
                    .as_ref()
                    .and_then(|status| status.addresses.as_deref())
                    .unwrap_or_default()
            })
            .filter(|address| address.type_ == address_type)
            .filter_map(|address| address.address.parse().ok())
            .collect()
    };
    let mut addresses = addresses_of_type("ExternalIP");
    if addresses.is_empty() {
        addresses = addresses_of_type("InternalIP");
    }
    let mut ingress = Vec::new();
    for family in service_ip_families(service) {
        let of_family: BTreeSet<IpAddr> = addresses
            .iter()
            .filter(|address| IpFamily::of(address) == family)
            .copied()
            .collect();
        ingress.extend(of_family.into_iter().map(|address| LoadBalancerIngress {
            ip: Some(address.to_string()),
            ip_mode: Some(IP_MODE_VIP.to_owned()),
            ..Default::default()
        }));
    }
    ingress
}

fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

/// The ingress addresses as Go prints a list of strings: `[10.0.0.1 10.0.0.2]`.
fn ingress_text(ingress: &[LoadBalancerIngress]) -> String {
    let parts: Vec<&str> = ingress
        .iter()
        .map(|ingress| {
            ingress
                .ip
                .as_deref()
                .or(ingress.hostname.as_deref())
                .unwrap_or_default()
        })
        .collect();
    format!("[{}]", parts.join(" "))
}
