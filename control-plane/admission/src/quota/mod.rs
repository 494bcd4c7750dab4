//! ResourceQuota arithmetic (`pkg/quota/v1` and the quota admission controller): what an object
//! adds to the quotas of its namespace, which quotas apply to it, the check of a quota's
//! `spec.hard` against current usage plus that new usage, and a quota's recomputed status.

mod scope;
mod usage;

use serde_json::{Value, json};

use crate::pod_resources::{add_lists, parse_resource_list};
use crate::quantity::Quantity;

pub use crate::pod_resources::ResourceList as ResourceUsage;
pub use usage::{charges_updates, usage_of};

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

fn hard_of(quota: &Value) -> ResourceUsage {
    parse_resource_list(quota.pointer("/spec/hard"))
}

/// The quota's resources that the evaluator of `resource` ("pods", "deployments.apps") tracks.
pub fn matching_resources(quota: &Value, resource: &str) -> Vec<String> {
    quota
        .pointer("/spec/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, _)| name)
        .filter(|name| usage::tracks(resource, name))
        .cloned()
        .collect()
}

/// Whether the quota applies to the object: it limits something the object uses and its scopes
/// select the object (`generic.Matches`).
pub fn matches(quota: &Value, resource: &str, object: &Value) -> bool {
    !matching_resources(quota, resource).is_empty() && scope::selects(quota, resource, object)
}

/// What the quota counts of these objects of one resource (`CalculateUsageStats`): every
/// resource it tracks, zero when nothing uses it.
pub fn usage_stats<'a>(
    quota: &Value,
    resource: &str,
    objects: impl IntoIterator<Item = &'a Value>,
) -> ResourceUsage {
    let tracked = matching_resources(quota, resource);
    let mut used: ResourceUsage = tracked
        .iter()
        .map(|name| (name.clone(), Quantity::zero()))
        .collect();
    for object in objects
        .into_iter()
        .filter(|object| scope::selects(quota, resource, object))
    {
        let mut usage = usage_of(resource, object);
        usage.retain(|name, _| tracked.contains(name));
        used = add_lists(&used, &usage);
    }
    used
}

/// The usage a create (`old` is `None`) or an update adds: for an update, only what grew
/// (`SubtractWithNonNegativeResult`). Zero amounts are dropped, so an empty result means the
/// write cannot exceed any quota.
pub fn request_delta(resource: &str, new: &Value, old: Option<&Value>) -> ResourceUsage {
    let mut delta = usage_of(resource, new);
    if let Some(old) = old {
        let previous = usage_of(resource, old);
        for (name, quantity) in &mut delta {
            if let Some(grown) = previous
                .get(name)
                .and_then(|before| quantity.checked_sub(before))
            {
                *quantity = grown;
            }
        }
    }
    delta.retain(|_, quantity| *quantity > Quantity::zero());
    delta
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
/// limits.
pub fn check(
    quota: &Value,
    used: &ResourceUsage,
    requested: &ResourceUsage,
) -> Result<(), QuotaError> {
    let hard = hard_of(quota);
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
    let hard = hard_of(quota);
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
            let usage = usage::compute_usage(
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

/// The quota's status after a recount (`syncResourceQuota`): `hard` is `spec.hard`; `used` is
/// the recounted usage over the previous one, kept to the resources the quota limits.
pub fn status(quota: &Value, recounted: &ResourceUsage) -> Value {
    let hard = hard_of(quota);
    let mut used = usage_from_resource_list(quota.pointer("/status/used"));
    used.extend(recounted.iter().map(|(name, used)| (name.clone(), *used)));
    used.retain(|name, _| hard.contains_key(name));
    json!({"hard": usage_to_resource_list(&hard), "used": usage_to_resource_list(&used)})
}

/// Whether the quota already has this status, amounts compared by value.
pub fn status_is_current(quota: &Value, status: &Value) -> bool {
    ["hard", "used"].iter().all(|list| {
        let stored = quota.pointer(&format!("/status/{list}"));
        stored.is_some_and(Value::is_object)
            && usage_from_resource_list(stored) == usage_from_resource_list(status.get(*list))
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

    fn list(value: Value) -> ResourceUsage {
        usage_from_resource_list(Some(&value))
    }

    #[test]
    fn check_reports_exceeded_resources_like_kubernetes() {
        let quota = json!({"metadata": {"name": "compute-quota"}, "spec": {"hard": {"requests.cpu": "2", "pods": "10"}}});
        let used = list(json!({"requests.cpu": "1", "pods": "1"}));
        let requested = list(json!({"requests.cpu": "2", "pods": "1", "memory": "1Gi"}));
        assert_eq!(
            check(&quota, &used, &requested).unwrap_err().to_string(),
            "exceeded quota: compute-quota, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2"
        );
        let small = list(json!({"requests.cpu": "500m"}));
        assert_eq!(check(&quota, &used, &small), Ok(()));
        let unrelated = list(json!({"secrets": "100"}));
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
    }

    #[test]
    fn usage_stats_count_what_the_quota_tracks_and_selects() {
        let quota =
            json!({"spec": {"hard": {"pods": "5", "limits.memory": "1Gi", "configmaps": "3"}}});
        assert_eq!(
            matching_resources(&quota, "pods"),
            ["limits.memory", "pods"]
        );
        let running = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "256Mi"}}}]}});
        let done = json!({"spec": running["spec"].clone(), "status": {"phase": "Failed"}});
        assert_eq!(
            usage_to_resource_list(&usage_stats(&quota, "pods", [&running, &running, &done])),
            json!({"limits.memory": "512Mi", "pods": "2"})
        );
        assert_eq!(
            usage_to_resource_list(&usage_stats(&quota, "pods", [])),
            json!({"limits.memory": "0", "pods": "0"})
        );
        assert!(matches(&quota, "configmaps", &json!({})));
        assert!(!matches(&quota, "secrets", &json!({})));
        let best_effort = json!({"spec": {"hard": {"pods": "5"}, "scopes": ["BestEffort"]}});
        assert!(!matches(&best_effort, "pods", &running));
        assert_eq!(
            usage_to_resource_list(&usage_stats(&best_effort, "pods", [&running])),
            json!({"pods": "0"})
        );
    }

    #[test]
    fn request_delta_keeps_what_grew() {
        let cluster_ip = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}});
        let node_port = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        assert_eq!(
            usage_to_resource_list(&request_delta("services", &cluster_ip, None)),
            json!({"count/services": "1", "services": "1"})
        );
        assert_eq!(
            usage_to_resource_list(&request_delta("services", &node_port, Some(&cluster_ip))),
            json!({"services.nodeports": "1"})
        );
        assert!(request_delta("services", &cluster_ip, Some(&node_port)).is_empty());
    }

    #[test]
    fn status_follows_spec_and_recount() {
        let quota = json!({"spec": {"hard": {"pods": "2", "configmaps": "4"}}, "status": {"hard": {"pods": "1", "secrets": "1"}, "used": {"pods": "1", "secrets": "1", "configmaps": "3"}}});
        let recounted = list(json!({"pods": "0"}));
        let status = status(&quota, &recounted);
        assert_eq!(
            status,
            json!({"hard": {"configmaps": "4", "pods": "2"}, "used": {"configmaps": "3", "pods": "0"}})
        );
        assert!(!status_is_current(&quota, &status));
        let mut updated = quota.clone();
        updated["status"] = json!({"hard": {"configmaps": "4000m", "pods": "2"}, "used": {"configmaps": "3", "pods": "0"}});
        assert!(status_is_current(&updated, &status));
        assert!(!status_is_current(
            &json!({"spec": {}}),
            &json!({"hard": {}, "used": {}})
        ));
    }
}
