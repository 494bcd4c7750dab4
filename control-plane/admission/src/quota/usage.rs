//! The quota evaluators (`pkg/quota/v1/evaluator/core` and the generic object counter): the
//! usage one object adds to its namespace's quotas, and which quota resource names each
//! evaluator tracks (`MatchingResources`). Resources are named as quota names them: the plural,
//! with the group for non-core resources (`pods`, `deployments.apps`).

use serde_json::Value;

use crate::pod_resources::{ResourceList, add_lists, parse_resource_list, pod_resources};
use crate::quantity::{Quantity, QuantityFormat};

pub(super) fn one() -> Quantity {
    Quantity::from_units(1, QuantityFormat::DecimalSi)
}

/// The unprefixed names some object counts also go by, from before `count/<resource>`.
fn legacy_count_name(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "configmaps" => "configmaps",
        "persistentvolumeclaims" => "persistentvolumeclaims",
        "replicationcontrollers" => "replicationcontrollers",
        "resourcequotas" => "resourcequotas",
        "secrets" => "secrets",
        "services" => "services",
        _ => return None,
    })
}

/// What the pod evaluator tracks besides huge pages and extended resources.
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

const SERVICE_RESOURCES: [&str; 4] = [
    "count/services",
    "services",
    "services.nodeports",
    "services.loadbalancers",
];

const CLAIM_RESOURCES: [&str; 2] = ["persistentvolumeclaims", "requests.storage"];

/// Claim usage per storage class is named `<class>.storageclass.storage.k8s.io/<resource>`.
const STORAGE_CLASS_INFIX: &str = ".storageclass.storage.k8s.io/";

/// `helper.IsNativeResource`: unprefixed, or prefixed with a `kubernetes.io/` domain.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Whether the evaluator of `resource` tracks the quota resource `name`.
pub fn tracks(resource: &str, name: &str) -> bool {
    match resource {
        "pods" => {
            POD_RESOURCES.contains(&name)
                || name.starts_with("hugepages-")
                || name.starts_with("requests.hugepages-")
                || (!is_native(name) && name.starts_with("requests."))
        }
        "services" => SERVICE_RESOURCES.contains(&name),
        "persistentvolumeclaims" => {
            name == "count/persistentvolumeclaims"
                || CLAIM_RESOURCES.contains(&name)
                || CLAIM_RESOURCES
                    .iter()
                    .any(|tracked| name.ends_with(&format!("{STORAGE_CLASS_INFIX}{tracked}")))
        }
        _ => name == format!("count/{resource}") || legacy_count_name(resource) == Some(name),
    }
}

/// Whether an update can change the usage the evaluator charges: a Service's type and ports and
/// a claim's request can change; other objects are only counted when created (pods change
/// resources only through the resize subresource, which is not served).
pub fn charges_updates(resource: &str) -> bool {
    matches!(resource, "services" | "persistentvolumeclaims")
}

/// The usage one object adds to its namespace's quotas.
pub fn usage_of(resource: &str, object: &Value) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert(format!("count/{resource}"), one());
    if let Some(legacy_name) = legacy_count_name(resource) {
        usage.insert(legacy_name.to_string(), one());
    }
    match resource {
        "pods" if !pod_is_terminal(object) => {
            usage = add_lists(&usage, &pod_compute_usage(object));
        }
        "services" => add_service_usage(object, &mut usage),
        "persistentvolumeclaims" => add_claim_usage(object, &mut usage),
        _ => {}
    }
    usage
}

/// Terminal pods (`Succeeded`/`Failed`) stop counting against compute quota (`QuotaV1Pod`);
/// `count/pods` still counts them, since it counts what is stored.
fn pod_is_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// `podComputeUsageHelper` over the pod's effective requests and limits.
fn pod_compute_usage(pod: &Value) -> ResourceList {
    compute_usage(
        &pod_resources(pod, "requests"),
        &pod_resources(pod, "limits"),
    )
}

/// `podComputeUsageHelper`: what one container (or a whole pod) uses of each compute resource.
pub(super) fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("pods".to_string(), one());
    for resource in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(request) = requests.get(resource) {
            usage.insert(resource.to_string(), *request);
            usage.insert(format!("requests.{resource}"), *request);
        }
        if let Some(limit) = limits.get(resource) {
            usage.insert(format!("limits.{resource}"), *limit);
        }
    }
    for (name, request) in requests {
        if name.starts_with("hugepages-") {
            usage.insert(name.clone(), *request);
            usage.insert(format!("requests.{name}"), *request);
        } else if !is_native(name) && !name.starts_with("requests.") {
            // Extended resources cannot be overcommitted, so only their requests are counted.
            usage.insert(format!("requests.{name}"), *request);
        }
    }
    usage
}

/// The service evaluator: load balancers and node ports are counted by type.
fn add_service_usage(service: &Value, usage: &mut ResourceList) {
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let count = |amount: usize| {
        Quantity::from_units(
            i64::try_from(amount).unwrap_or(i64::MAX),
            QuantityFormat::DecimalSi,
        )
    };
    let mut node_ports = Quantity::zero();
    let mut load_balancers = Quantity::zero();
    match service.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => node_ports = count(ports.len()),
        Some("LoadBalancer") => {
            load_balancers = one();
            // Without allocated node ports, only the ports that name one explicitly use one.
            node_ports = if service
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                == Some(false)
            {
                count(
                    ports
                        .iter()
                        .filter(|port| {
                            port.get("nodePort")
                                .and_then(Value::as_i64)
                                .is_some_and(|node_port| node_port != 0)
                        })
                        .count(),
                )
            } else {
                count(ports.len())
            };
        }
        _ => {}
    }
    usage.insert("services.nodeports".to_string(), node_ports);
    usage.insert("services.loadbalancers".to_string(), load_balancers);
}

/// The claim evaluator: requested storage, also per storage class.
fn add_claim_usage(claim: &Value, usage: &mut ResourceList) {
    let storage_class = claim
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !storage_class.is_empty() {
        usage.insert(
            format!("{storage_class}{STORAGE_CLASS_INFIX}persistentvolumeclaims"),
            one(),
        );
    }
    if let Some(storage) =
        parse_resource_list(claim.pointer("/spec/resources/requests")).get("storage")
    {
        usage.insert("requests.storage".to_string(), *storage);
        if !storage_class.is_empty() {
            usage.insert(
                format!("{storage_class}{STORAGE_CLASS_INFIX}requests.storage"),
                *storage,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(usage: &ResourceList) -> Value {
        super::super::usage_to_resource_list(usage)
    }

    #[test]
    fn pod_usage() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "128Mi", "example.com/gpu": "1"}, "limits": {"cpu": "1", "memory": "256Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "500m", "hugepages-2Mi": "4Mi"}}}
        ]}});
        assert_eq!(
            rendered(&usage_of("pods", &pod)),
            json!({
                "count/pods": "1", "pods": "1",
                "cpu": "1", "requests.cpu": "1", "limits.cpu": "1",
                "memory": "128Mi", "requests.memory": "128Mi", "limits.memory": "256Mi",
                "hugepages-2Mi": "4Mi", "requests.hugepages-2Mi": "4Mi", "requests.example.com/gpu": "1"
            })
        );
        let finished = json!({"spec": pod["spec"].clone(), "status": {"phase": "Succeeded"}});
        assert_eq!(
            rendered(&usage_of("pods", &finished)),
            json!({"count/pods": "1"})
        );
    }

    #[test]
    fn object_counts_services_and_claims() {
        assert_eq!(
            rendered(&usage_of("configmaps", &json!({}))),
            json!({"configmaps": "1", "count/configmaps": "1"})
        );
        assert_eq!(
            rendered(&usage_of("deployments.apps", &json!({}))),
            json!({"count/deployments.apps": "1"})
        );
        let service = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            rendered(&usage_of("services", &service)),
            json!({"count/services": "1", "services": "1", "services.nodeports": "2", "services.loadbalancers": "0"})
        );
        let balancer = json!({"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]}});
        assert_eq!(
            rendered(&usage_of("services", &balancer)),
            json!({"count/services": "1", "services": "1", "services.nodeports": "1", "services.loadbalancers": "1"})
        );
        let claim = json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}});
        assert_eq!(
            rendered(&usage_of("persistentvolumeclaims", &claim)),
            json!({
                "count/persistentvolumeclaims": "1", "persistentvolumeclaims": "1", "requests.storage": "10Gi",
                "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                "fast.storageclass.storage.k8s.io/requests.storage": "10Gi"
            })
        );
    }

    #[test]
    fn each_evaluator_tracks_its_own_names() {
        for name in [
            "pods",
            "count/pods",
            "limits.memory",
            "requests.hugepages-2Mi",
            "requests.example.com/gpu",
        ] {
            assert!(tracks("pods", name), "{name}");
        }
        for name in [
            "services",
            "configmaps",
            "requests.storage",
            "requests.kubernetes.io/x",
        ] {
            assert!(!tracks("pods", name), "{name}");
        }
        assert!(tracks("services", "services.loadbalancers") && !tracks("services", "pods"));
        assert!(tracks("configmaps", "configmaps") && tracks("configmaps", "count/configmaps"));
        assert!(tracks("deployments.apps", "count/deployments.apps"));
        assert!(!tracks("deployments.apps", "deployments"));
        assert!(tracks(
            "persistentvolumeclaims",
            "gold.storageclass.storage.k8s.io/requests.storage"
        ));
        assert!(charges_updates("services") && !charges_updates("pods"));
    }
}
