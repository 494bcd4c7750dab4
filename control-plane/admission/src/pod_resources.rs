//! A pod's effective resource requests and limits, computed like `resourcehelper.PodRequests`
//! and `PodLimits`: the sum of the app containers and sidecars, or the largest init container
//! step if that is bigger, plus the pod overhead. Also the pod's QoS class.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::quantity::Quantity;

/// Resource name to amount.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Parses a JSON resource list, skipping values that are not quantities (validation reports
/// those separately).
pub fn parse_resource_list(list: Option<&Value>) -> ResourceList {
    let mut parsed = ResourceList::new();
    for (name, value) in list.and_then(Value::as_object).into_iter().flatten() {
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        if let Ok(quantity) = Quantity::parse(&text) {
            parsed.insert(name.clone(), quantity);
        }
    }
    parsed
}

/// Go's `quota.Add`: keys of either list, summed where both have them.
pub fn add_lists(left: &ResourceList, right: &ResourceList) -> ResourceList {
    let mut sum = left.clone();
    for (name, quantity) in right {
        let total = match sum.get(name) {
            Some(existing) => existing.checked_add(quantity).unwrap_or(*existing),
            None => *quantity,
        };
        sum.insert(name.clone(), total);
    }
    sum
}

/// Keeps, per resource, the larger of the two amounts.
fn max_lists(left: &ResourceList, right: &ResourceList) -> ResourceList {
    let mut maximum = left.clone();
    for (name, quantity) in right {
        if maximum.get(name).is_none_or(|existing| quantity > existing) {
            maximum.insert(name.clone(), *quantity);
        }
    }
    maximum
}

fn containers<'a>(pod: &'a Value, list: &str) -> &'a [Value] {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn container_list(container: &Value, which: &str) -> ResourceList {
    parse_resource_list(container.pointer(&format!("/resources/{which}")))
}

/// The pod's effective `requests` or `limits` (`which`), overhead included, as quota counts them.
pub fn pod_resources(pod: &Value, which: &str) -> ResourceList {
    add_lists(
        &container_resources(pod, which),
        &parse_resource_list(pod.pointer("/spec/overhead")),
    )
}

/// The pod's effective `requests` or `limits` of its containers alone: LimitRanger's
/// `podRequests`/`podLimits` leave the overhead out.
pub fn container_resources(pod: &Value, which: &str) -> ResourceList {
    let mut total = ResourceList::new();
    for container in containers(pod, "containers") {
        total = add_lists(&total, &container_list(container, which));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for container in containers(pod, "initContainers") {
        let amounts = container_list(container, which);
        let is_sidecar = container.get("restartPolicy").and_then(Value::as_str) == Some("Always");
        if is_sidecar {
            // Sidecars keep running, so they add to the app containers and to every later
            // init step.
            sidecars = add_lists(&sidecars, &amounts);
            total = add_lists(&total, &amounts);
            init_peak = max_lists(&init_peak, &sidecars);
        } else {
            init_peak = max_lists(&init_peak, &add_lists(&amounts, &sidecars));
        }
    }
    max_lists(&total, &init_peak)
}

/// Kubernetes' QoS class (`qos.GetPodQOS`) from the cpu and memory of every container: BestEffort
/// when none asks for any, Guaranteed when every container limits both and the summed requests
/// equal the summed limits, Burstable otherwise. Zero amounts count as unset.
pub fn qos_class(pod: &Value) -> &'static str {
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut guaranteed = true;
    let supported = |list: ResourceList| -> ResourceList {
        list.into_iter()
            .filter(|(name, quantity)| {
                matches!(name.as_str(), "cpu" | "memory") && *quantity > Quantity::zero()
            })
            .collect()
    };
    for container in containers(pod, "containers")
        .iter()
        .chain(containers(pod, "initContainers"))
    {
        requests = add_lists(&requests, &supported(container_list(container, "requests")));
        let container_limits = supported(container_list(container, "limits"));
        guaranteed &= container_limits.len() == 2;
        limits = add_lists(&limits, &container_limits);
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    guaranteed &= requests.len() == limits.len()
        && requests
            .iter()
            .all(|(name, request)| limits.get(name) == Some(request));
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(list: &ResourceList) -> Vec<String> {
        list.iter()
            .map(|(name, quantity)| format!("{name}={quantity}"))
            .collect()
    }

    #[test]
    fn sums_containers_and_takes_the_init_peak() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"resources": {"requests": {"cpu": "250m"}}}
            ],
            "initContainers": [
                {"resources": {"requests": {"cpu": "2"}}},
                {"restartPolicy": "Always", "resources": {"requests": {"memory": "64Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }});
        assert_eq!(
            rendered(&pod_resources(&pod, "requests")),
            vec!["cpu=2010m".to_string(), "memory=128Mi".to_string()]
        );
        assert!(pod_resources(&json!({"spec": {}}), "limits").is_empty());
        assert_eq!(
            rendered(&container_resources(&pod, "requests")),
            vec!["cpu=2".to_string(), "memory=128Mi".to_string()]
        );
    }

    #[test]
    fn qos_classes() {
        let pod = |resources: Value| json!({"spec": {"containers": [{"name": "a", "resources": resources}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(
                json!({"requests": {"cpu": "0"}, "limits": {"ephemeral-storage": "1Gi"}})
            )),
            "BestEffort"
        );
        let equal = json!({"cpu": "1", "memory": "1Gi"});
        assert_eq!(
            qos_class(&pod(json!({"requests": equal, "limits": equal}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(
                json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": equal})
            )),
            "Burstable"
        );
        assert_eq!(
            qos_class(&pod(
                json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
            )),
            "Burstable"
        );
    }
}
