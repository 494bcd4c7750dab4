//! What the Endpoints and EndpointSlice controllers both ask of a Service and its pods
//! (`k8s.io/endpointslice/util`): which pods a Service selects, whether a pod belongs in
//! its endpoints, the pod's address and port for a Service port, and which Services a pod
//! event concerns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::core::Selector;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::pods::pod_phase;

/// The label that marks the Endpoints and EndpointSlices of a headless Service.
pub(crate) const HEADLESS_SERVICE_LABEL: &str = "service.kubernetes.io/headless";
/// When the change that the endpoints reflect happened (`EndpointsLastChangeTriggerTime`).
pub(crate) const LAST_CHANGE_TRIGGER_TIME_ANNOTATION: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";
const CLUSTER_IP_NONE: &str = "None";
const DEFAULT_PROTOCOL: &str = "TCP";

/// An IP family, as a Service's `spec.ipFamilies` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum IpFamily {
    IPv4,
    IPv6,
}

impl IpFamily {
    pub(crate) fn of(address: &IpAddr) -> IpFamily {
        match address {
            IpAddr::V4(_) => IpFamily::IPv4,
            IpAddr::V6(_) => IpFamily::IPv6,
        }
    }

    fn parse(name: &str) -> Option<IpFamily> {
        match name {
            "IPv4" => Some(IpFamily::IPv4),
            "IPv6" => Some(IpFamily::IPv6),
            _ => None,
        }
    }

    /// The EndpointSlice `addressType` of this family.
    pub(crate) fn address_type(self) -> &'static str {
        match self {
            IpFamily::IPv4 => "IPv4",
            IpFamily::IPv6 => "IPv6",
        }
    }
}

/// The Service's selector, when it has one. A Service without one (or with an empty one,
/// which the API server stores as none) gets its endpoints from its user, not from the
/// controllers.
pub(crate) fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|selector| !selector.is_empty())
}

/// The selector as a label selector for listing the Service's pods.
pub(crate) fn selector_for_listing(selector: &BTreeMap<String, String>) -> Selector {
    selector
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

/// ExternalName Services are a DNS alias and receive no endpoints.
pub(crate) fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("ExternalName")
}

fn cluster_ip(service: &Service) -> &str {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.cluster_ip.as_deref())
        .unwrap_or_default()
}

/// Whether the Service has a cluster IP; one without is headless (`IsServiceIPSet`).
pub(crate) fn is_service_ip_set(service: &Service) -> bool {
    let cluster_ip = cluster_ip(service);
    !cluster_ip.is_empty() && cluster_ip != CLUSTER_IP_NONE
}

pub(crate) fn is_headless_without_ports(service: &Service) -> bool {
    cluster_ip(service) == CLUSTER_IP_NONE && service_ports(service).is_empty()
}

pub(crate) fn service_ports(service: &Service) -> &[ServicePort] {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or_default()
}

pub(crate) fn publishes_not_ready_addresses(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The Service's IP families in its order. The API server sets `spec.ipFamilies` for
/// Services with a cluster IP; for one without (a headless Service here) the family of
/// its cluster IP is used, else IPv4, the only family of wasmkube's pod network.
pub(crate) fn service_ip_families(service: &Service) -> Vec<IpFamily> {
    let mut families: Vec<IpFamily> = Vec::new();
    let named = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ip_families.as_deref())
        .unwrap_or_default();
    for family in named.iter().filter_map(|name| IpFamily::parse(name)) {
        if !families.contains(&family) {
            families.push(family);
        }
    }
    if families.is_empty() {
        let family = cluster_ip(service)
            .parse::<IpAddr>()
            .map_or(IpFamily::IPv4, |address| IpFamily::of(&address));
        families.push(family);
    }
    families
}

/// The pod's IPs (`status.podIPs`, or `status.podIP` when only that is set), normalized
/// to their canonical text.
pub(crate) fn pod_ips(pod: &Pod) -> Vec<IpAddr> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<&str> = match status.pod_ips.as_deref() {
        Some(ips) if !ips.is_empty() => ips.iter().map(|ip| ip.ip.as_str()).collect(),
        _ => status.pod_ip.as_deref().into_iter().collect(),
    };
    listed
        .into_iter()
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

/// Whether the pod belongs in a Service's endpoints at all (`ShouldPodBeInEndpoints`):
/// not finished, has an IP, and not terminating unless terminating pods are wanted.
pub(crate) fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if matches!(pod_phase(pod), Some("Succeeded" | "Failed")) {
        return false;
    }
    if pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's hostname for the Service's DNS records, when the pod names the Service as
/// its subdomain (`ShouldSetHostname`).
pub(crate) fn endpoint_hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|name| !name.is_empty())?;
    let same_subdomain = spec.subdomain.as_deref() == service.metadata.name.as_deref();
    (same_subdomain && pod.namespace() == service.namespace()).then(|| hostname.to_owned())
}

pub(crate) fn service_port_protocol(port: &ServicePort) -> &str {
    port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL)
}

/// The pod's port for a Service port (`FindPort`): a numeric `targetPort` as it is, a named
/// one looked up among the pod's container ports (and its sidecars') with the same
/// protocol. `None` when the pod has no such named port: it is left out for that port.
pub(crate) fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    match service_port.target_port.as_ref() {
        None => Some(service_port.port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let protocol = service_port_protocol(service_port);
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|container| container.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|container| container.ports.iter().flatten())
                .find(|port| {
                    port.name.as_deref() == Some(name.as_str())
                        && port.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL) == protocol
                })
                .map(|port| port.container_port)
        }
    }
}

/// Whether a create failed because the API server refuses new objects in a namespace
/// that is being deleted; such creates fail until the namespace, and the Service with
/// it, is gone, so they are not retried.
pub(crate) fn is_namespace_terminating(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status)
        if status.is_forbidden() && status.message.contains("because it is being terminated"))
}

/// The pods each Service's last sync included. A pod whose labels changed no longer
/// matches its former Service's selector, yet that Service must sync to drop it, which
/// Kubernetes learns from the pod's old labels in its update event; a watch event here
/// carries only the new object, so the former members are remembered instead. A restart
/// forgets nothing that matters: every Service syncs once when the controller starts.
#[derive(Debug, Default)]
pub(crate) struct ServiceMembers {
    members: Mutex<HashMap<ObjectRef<Service>, HashSet<String>>>,
}

impl ServiceMembers {
    pub(crate) fn record<'a>(
        &self,
        service: &Service,
        pod_names: impl IntoIterator<Item = &'a str>,
    ) {
        let names = pod_names.into_iter().map(str::to_owned).collect();
        self.lock().insert(ObjectRef::from_obj(service), names);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<Service>, HashSet<String>>> {
        self.members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The Services whose last sync included the pod; Services that are gone from the
    /// cache are forgotten on the way.
    fn services_with_member(
        &self,
        services: &Store<Service>,
        namespace: &str,
        pod_name: &str,
    ) -> Vec<ObjectRef<Service>> {
        let mut members = self.lock();
        members.retain(|service, _| services.get(service).is_some());
        members
            .iter()
            .filter(|(service, pods)| {
                service.namespace.as_deref() == Some(namespace) && pods.contains(pod_name)
            })
            .map(|(service, _)| service.clone())
            .collect()
    }
}

/// The Services a pod's change concerns: those of its namespace whose selector selects
/// it, and those whose endpoints included it at their last sync.
pub(crate) fn services_for_pod(
    services: &Store<Service>,
    members: &ServiceMembers,
    pod: &Pod,
) -> Vec<ObjectRef<Service>> {
    let namespace = pod.namespace().unwrap_or_default();
    let labels = pod.labels();
    let mut concerned: HashSet<ObjectRef<Service>> = services
        .state()
        .iter()
        .filter(|service| service.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|service| {
            service_selector(service).is_some_and(|selector| selects(selector, labels))
        })
        .map(|service| ObjectRef::from_obj(service.as_ref()))
        .collect();
    concerned.extend(members.services_with_member(services, &namespace, &pod.name_any()));
    concerned.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("a pod")
    }

    fn service_port(value: serde_json::Value) -> ServicePort {
        serde_json::from_value(value).expect("a service port")
    }

    #[test]
    fn named_target_ports_are_found_in_containers_and_sidecars_by_name_and_protocol() {
        let web = pod(json!({
            "metadata": {"name": "web"},
            "spec": {
                "initContainers": [
                    {"name": "proxy", "restartPolicy": "Always", "ports": [{"name": "admin", "containerPort": 9901}]},
                    {"name": "setup", "ports": [{"name": "setup", "containerPort": 7000}]},
                ],
                "containers": [{"name": "app", "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
                ]}],
            },
        }));
        let by_name = |name: &str, protocol: &str| {
            service_port(json!({"port": 80, "targetPort": name, "protocol": protocol}))
        };
        assert_eq!(find_port(&web, &by_name("http", "TCP")), Some(8080));
        assert_eq!(find_port(&web, &by_name("admin", "TCP")), Some(9901));
        assert_eq!(find_port(&web, &by_name("dns", "UDP")), Some(5353));
        assert_eq!(find_port(&web, &by_name("dns", "TCP")), None);
        assert_eq!(find_port(&web, &by_name("setup", "TCP")), None);
        assert_eq!(find_port(&web, &by_name("missing", "TCP")), None);
        assert_eq!(
            find_port(&web, &service_port(json!({"port": 80, "targetPort": 9376}))),
            Some(9376)
        );
        assert_eq!(
            find_port(&web, &service_port(json!({"port": 80}))),
            Some(80)
        );
    }

    #[test]
    fn finished_terminating_and_address_less_pods_are_left_out() {
        let running = json!({"metadata": {"name": "a"}, "status": {"phase": "Running", "podIP": "10.244.0.2"}});
        assert!(should_pod_be_in_endpoints(&pod(running.clone()), false));
        let mut terminating = running.clone();
        terminating["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(!should_pod_be_in_endpoints(
            &pod(terminating.clone()),
            false
        ));
        assert!(should_pod_be_in_endpoints(&pod(terminating), true));
        let mut finished = running.clone();
        finished["status"]["phase"] = json!("Succeeded");
        assert!(!should_pod_be_in_endpoints(&pod(finished), true));
        let pending = json!({"metadata": {"name": "a"}, "status": {"phase": "Pending"}});
        assert!(!should_pod_be_in_endpoints(&pod(pending), true));
    }

    #[test]
    fn the_hostname_is_published_only_under_the_services_subdomain() {
        let service: Service =
            serde_json::from_value(json!({"metadata": {"name": "db", "namespace": "shop"}}))
                .expect("a service");
        let member = pod(
            json!({"metadata": {"name": "db-0", "namespace": "shop"}, "spec": {"containers": [], "hostname": "db-0", "subdomain": "db"}}),
        );
        assert_eq!(
            endpoint_hostname(&member, &service).as_deref(),
            Some("db-0")
        );
        let elsewhere = pod(
            json!({"metadata": {"name": "db-0", "namespace": "shop"}, "spec": {"containers": [], "hostname": "db-0", "subdomain": "cache"}}),
        );
        assert_eq!(endpoint_hostname(&elsewhere, &service), None);
    }
}
