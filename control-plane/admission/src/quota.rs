//! ResourceQuota arithmetic (`pkg/quota/v1/evaluator/core` and the quota admission
//! controller): the usage an object adds, and the check of a quota's `spec.hard` against the
//! current usage plus that new usage.

use serde_json::Value;

use crate::pod_resources::{add_lists, parse_resource_list, pod_resources};
use crate::quantity::{Quantity, QuantityFormat};

pub use crate::pod_resources::ResourceList as ResourceUsage;

/// A quota refused the request. The text is what Kubernetes puts after
/// `<resource> "<name>" is forbidden: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error(
        "exceeded quota: {quota_name}, requested: {requested}, used: {used}, limited: {limited}"
    )]
    Exceeded {
        quota_name: String,
        requested: String,
        used: String,
        limited: String,
    },
    #[error("failed quota: {quota_name}: must specify {missing}")]
    MissingResources { quota_name: String, missing: String },
}

fn one() -> Quantity {
    Quantity::from_units(1, QuantityFormat::DecimalSi)
}

/// The `count/<resource>[.<group>]` name and the legacy name (if any) for a kind.
fn object_count_names(kind: &str) -> (String, Option<&'static str>) {
    let (resource, legacy) = match kind {
        "Pod" => ("pods", None),
        "Service" => ("services", Some("services")),
        "ConfigMap" => ("configmaps", Some("configmaps")),
        "Secret" => ("secrets", Some("secrets")),
        "PersistentVolumeClaim" => ("persistentvolumeclaims", Some("persistentvolumeclaims")),
        "ReplicationController" => ("replicationcontrollers", Some("replicationcontrollers")),
        "ResourceQuota" => ("resourcequotas", Some("resourcequotas")),
        "ServiceAccount" => ("serviceaccounts", None),
        "Endpoints" => ("endpoints", None),
        "Event" => ("events", None),
        "PodTemplate" => ("podtemplates", None),
        "LimitRange" => ("limitranges", None),
        "Deployment" => ("deployments.apps", None),
        "ReplicaSet" => ("replicasets.apps", None),
        "StatefulSet" => ("statefulsets.apps", None),
        "DaemonSet" => ("daemonsets.apps", None),
        "ControllerRevision" => ("controllerrevisions.apps", None),
        "Job" => ("jobs.batch", None),
        "CronJob" => ("cronjobs.batch", None),
        "HorizontalPodAutoscaler" => ("horizontalpodautoscalers.autoscaling", None),
        "Ingress" => ("ingresses.networking.k8s.io", None),
        "NetworkPolicy" => ("networkpolicies.networking.k8s.io", None),
        "PodDisruptionBudget" => ("poddisruptionbudgets.policy", None),
        "Role" => ("roles.rbac.authorization.k8s.io", None),
        "RoleBinding" => ("rolebindings.rbac.authorization.k8s.io", None),
        _ => return (format!("count/{}s", kind.to_lowercase()), None),
    };
    (format!("count/{resource}"), legacy)
}

/// The usage one object adds to its namespace's quotas.
pub fn usage_of(kind: &str, object: &Value) -> ResourceUsage {
    let mut usage = ResourceUsage::new();
    let (count_name, legacy_name) = object_count_names(kind);
    usage.insert(count_name, one());
    if let Some(legacy_name) = legacy_name {
        usage.insert(legacy_name.to_string(), one());
    }
    match kind {
        "Pod" if !pod_is_terminal(object) => {
            usage = add_lists(&usage, &pod_compute_usage(object));
        }
        "Service" => add_service_usage(object, &mut usage),
        "PersistentVolumeClaim" => add_claim_usage(object, &mut usage),
        _ => {}
    }
    usage
}

/// Terminal pods (`Succeeded`/`Failed`) stop counting against compute quota (`QuotaV1Pod`).
fn pod_is_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// `podComputeUsageHelper` over the pod's effective requests and limits.
fn pod_compute_usage(pod: &Value) -> ResourceUsage {
    compute_usage(
        &pod_resources(pod, "requests"),
        &pod_resources(pod, "limits"),
    )
}

fn compute_usage(requests: &ResourceUsage, limits: &ResourceUsage) -> ResourceUsage {
    let mut usage = ResourceUsage::new();
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
        } else if name.contains('/')
            && !name.starts_with("kubernetes.io/")
            && !name.starts_with("requests.")
        {
            usage.insert(format!("requests.{name}"), *request);
        }
    }
    usage
}

/// The service evaluator: load balancers and node ports are counted by type.
fn add_service_usage(service: &Value, usage: &mut ResourceUsage) {
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let port_count = Quantity::from_units(
        i64::try_from(ports).unwrap_or(i64::MAX),
        QuantityFormat::DecimalSi,
    );
    let mut node_ports = Quantity::zero();
    let mut load_balancers = Quantity::zero();
    match service.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => node_ports = port_count,
        Some("LoadBalancer") => {
            load_balancers = one();
            if service
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false)
            {
                node_ports = port_count;
            }
        }
        _ => {}
    }
    usage.insert("services.nodeports".to_string(), node_ports);
    usage.insert("services.loadbalancers".to_string(), load_balancers);
}

/// The claim evaluator: requested storage, also per storage class.
fn add_claim_usage(claim: &Value, usage: &mut ResourceUsage) {
    let storage_class = claim
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !storage_class.is_empty() {
        usage.insert(
            format!("{storage_class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
            one(),
        );
    }
    if let Some(storage) =
        parse_resource_list(claim.pointer("/spec/resources/requests")).get("storage")
    {
        usage.insert("requests.storage".to_string(), *storage);
        if !storage_class.is_empty() {
            usage.insert(
                format!("{storage_class}.storageclass.storage.k8s.io/requests.storage"),
                *storage,
            );
        }
    }
}

/// Go's `quota.Subtract`, for the usage an update adds (new minus old).
pub fn subtract(left: &ResourceUsage, right: &ResourceUsage) -> ResourceUsage {
    let mut difference = left.clone();
    for (name, quantity) in right {
        let base = difference.get(name).copied().unwrap_or_else(Quantity::zero);
        difference.insert(name.clone(), base.checked_sub(quantity).unwrap_or(base));
    }
    difference
}

/// Go's `prettyPrint`: `name=value` pairs sorted by name, joined by commas.
fn pretty_print(usage: &ResourceUsage, names: &[&String]) -> String {
    names
        .iter()
        .map(|name| {
            format!(
                "{name}={}",
                usage.get(*name).copied().unwrap_or_else(Quantity::zero)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn quota_name(quota: &Value) -> String {
    quota
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Checks `used + requested` against the quota's `spec.hard`, for the resources the quota
/// limits. `used` should hold the quota's `status.used`.
pub fn check(
    quota: &Value,
    used: &ResourceUsage,
    requested: &ResourceUsage,
) -> Result<(), QuotaError> {
    let hard = parse_resource_list(quota.pointer("/spec/hard"));
    let limited_request: ResourceUsage = requested
        .iter()
        .filter(|(name, _)| hard.contains_key(*name))
        .map(|(name, quantity)| (name.clone(), *quantity))
        .collect();
    let new_usage = add_lists(used, &limited_request);
    let exceeded: Vec<&String> = limited_request
        .keys()
        .filter(|name| {
            new_usage
                .get(*name)
                .zip(hard.get(*name))
                .is_some_and(|(total, hard)| total > hard)
        })
        .collect();
    if exceeded.is_empty() {
        return Ok(());
    }
    Err(QuotaError::Exceeded {
        quota_name: quota_name(quota),
        requested: pretty_print(&limited_request, &exceeded),
        used: pretty_print(used, &exceeded),
        limited: pretty_print(&hard, &exceeded),
    })
}

/// The pod evaluator's `Constraints`: when a quota limits cpu or memory, every container must
/// state that resource (`failed quota: <name>: must specify ...`).
pub fn check_pod_constraints(quota: &Value, pod: &Value) -> Result<(), QuotaError> {
    let hard = parse_resource_list(quota.pointer("/spec/hard"));
    let required: Vec<&str> = [
        "cpu",
        "limits.cpu",
        "limits.memory",
        "memory",
        "requests.cpu",
        "requests.memory",
    ]
    .into_iter()
    .filter(|name| hard.contains_key(*name))
    .collect();
    let mut missing: std::collections::BTreeMap<&str, Vec<String>> =
        std::collections::BTreeMap::new();
    for list in ["containers", "initContainers"] {
        for container in pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let usage = compute_usage(
                &parse_resource_list(container.pointer("/resources/requests")),
                &parse_resource_list(container.pointer("/resources/limits")),
            );
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            for resource in required
                .iter()
                .filter(|resource| !usage.contains_key(**resource))
            {
                let names = missing.entry(resource).or_default();
                if !names.contains(&name) {
                    names.push(name.clone());
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = missing
        .into_iter()
        .map(|(resource, mut names)| {
            names.sort();
            format!("{resource} for: {}", names.join(","))
        })
        .collect();
    Err(QuotaError::MissingResources {
        quota_name: quota_name(quota),
        missing: parts.join("; "),
    })
}

/// Parses a quota's `status.used` (or any resource list) into usage.
pub fn usage_from_resource_list(list: Option<&Value>) -> ResourceUsage {
    parse_resource_list(list)
}

/// Renders usage as a resource list, as stored in a quota's `status.used`.
pub fn usage_to_resource_list(usage: &ResourceUsage) -> Value {
    Value::Object(
        usage
            .iter()
            .map(|(name, quantity)| (name.clone(), Value::String(quantity.to_string())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(usage: &ResourceUsage) -> Value {
        usage_to_resource_list(usage)
    }

    #[test]
    fn pod_usage() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "500m"}}}
        ]}});
        assert_eq!(
            rendered(&usage_of("Pod", &pod)),
            json!({
                "count/pods": "1", "pods": "1",
                "cpu": "1", "requests.cpu": "1", "limits.cpu": "1",
                "memory": "128Mi", "requests.memory": "128Mi", "limits.memory": "256Mi"
            })
        );
        let finished = json!({"spec": pod["spec"].clone(), "status": {"phase": "Succeeded"}});
        assert_eq!(
            rendered(&usage_of("Pod", &finished)),
            json!({"count/pods": "1"})
        );
    }

    #[test]
    fn object_counts_services_and_claims() {
        assert_eq!(
            rendered(&usage_of("ConfigMap", &json!({}))),
            json!({"configmaps": "1", "count/configmaps": "1"})
        );
        assert_eq!(
            rendered(&usage_of("Deployment", &json!({}))),
            json!({"count/deployments.apps": "1"})
        );
        let service = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            rendered(&usage_of("Service", &service)),
            json!({"count/services": "1", "services": "1", "services.nodeports": "2", "services.loadbalancers": "0"})
        );
        let claim = json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}});
        assert_eq!(
            rendered(&usage_of("PersistentVolumeClaim", &claim)),
            json!({
                "count/persistentvolumeclaims": "1", "persistentvolumeclaims": "1", "requests.storage": "10Gi",
                "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                "fast.storageclass.storage.k8s.io/requests.storage": "10Gi"
            })
        );
    }

    #[test]
    fn check_reports_exceeded_resources_like_kubernetes() {
        let quota = json!({"metadata": {"name": "compute-quota"}, "spec": {"hard": {"requests.cpu": "2", "pods": "10"}}});
        let used = usage_from_resource_list(Some(&json!({"requests.cpu": "1", "pods": "1"})));
        let requested = usage_from_resource_list(Some(
            &json!({"requests.cpu": "2", "pods": "1", "memory": "1Gi"}),
        ));
        assert_eq!(
            check(&quota, &used, &requested).unwrap_err().to_string(),
            "exceeded quota: compute-quota, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2"
        );
        let small = usage_from_resource_list(Some(&json!({"requests.cpu": "500m"})));
        assert_eq!(check(&quota, &used, &small), Ok(()));
        let unrelated = usage_from_resource_list(Some(&json!({"secrets": "100"})));
        assert_eq!(check(&quota, &used, &unrelated), Ok(()));
    }

    #[test]
    fn pods_must_state_quota_limited_resources() {
        let quota = json!({"metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "2", "limits.memory": "1Gi"}}});
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}, {"name": "b"}]}});
        assert_eq!(
            check_pod_constraints(&quota, &pod).unwrap_err().to_string(),
            "failed quota: q: must specify limits.memory for: a,b; requests.cpu for: b"
        );
        let difference = subtract(
            &usage_from_resource_list(Some(&json!({"cpu": "2"}))),
            &usage_from_resource_list(Some(&json!({"cpu": "500m"}))),
        );
        assert_eq!(rendered(&difference), json!({"cpu": "1500m"}));
    }
}
