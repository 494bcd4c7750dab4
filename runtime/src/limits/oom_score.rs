//! How the node's OOM killer ranks containers: the kernel's `oom_badness` (the memory a
//! process holds, plus `oom_score_adj` thousandths of the machine's memory) with the
//! `oom_score_adj` the kubelet gives each container for its pod's QoS class
//! (`pkg/kubelet/qos/policy.go`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use wasmkube_admission::quantity::Quantity;

use super::memory::{MemoryOwner, MemoryUsage};

/// The kubelet's adjustment for Guaranteed pods: killed last.
const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// The kubelet's adjustment for BestEffort pods: killed first.
const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;

/// The kubelet's `GetContainerOOMScoreAdjust`: -997 for a Guaranteed pod, 1000 for a
/// BestEffort one, and for a Burstable one `1000 - 1000 × memory request / node memory`,
/// kept between 3 and 999 so that it stays between the other two classes.
pub fn container_oom_score_adj(pod: &Pod, container: &Container, node_memory_bytes: u64) -> i64 {
    match pod_qos_class(pod).as_str() {
        "Guaranteed" => return GUARANTEED_OOM_SCORE_ADJ,
        "BestEffort" => return BEST_EFFORT_OOM_SCORE_ADJ,
        _ => {}
    }
    let memory_request = container
        .resources
        .as_ref()
        .and_then(|resources| resources.requests.as_ref())
        .and_then(|requests| requests.get("memory"))
        .and_then(|quantity| Quantity::parse(&quantity.0).ok())
        .and_then(|quantity| i64::try_from(quantity.value()).ok())
        .unwrap_or(0);
    let capacity = i64::try_from(node_memory_bytes).unwrap_or(i64::MAX).max(1);
    let adjust = 1000
        - i64::try_from(i128::from(memory_request) * 1000 / i128::from(capacity))
            .unwrap_or(i64::MAX);
    if adjust < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        1000 + GUARANTEED_OOM_SCORE_ADJ
    } else if adjust >= BEST_EFFORT_OOM_SCORE_ADJ {
        BEST_EFFORT_OOM_SCORE_ADJ - 1
    } else {
        adjust
    }
}

/// The pod's QoS class as the API server recorded it, or worked out as it does.
fn pod_qos_class(pod: &Pod) -> String {
    if let Some(class) = pod
        .status
        .as_ref()
        .and_then(|status| status.qos_class.clone())
    {
        return class;
    }
    serde_json::to_value(pod)
        .map(|value| wasmkube_admission::qos_class(&value).to_owned())
        .unwrap_or_else(|_| "BestEffort".to_owned())
}

/// The node's memory in bytes from its allocatable resources (0 when it has none).
pub fn node_memory_bytes(allocatable: &BTreeMap<String, ApiQuantity>) -> u64 {
    allocatable
        .get("memory")
        .and_then(|quantity| Quantity::parse(&quantity.0).ok())
        .and_then(|quantity| u64::try_from(quantity.value()).ok())
        .unwrap_or(0)
}

/// The usage record of one run of `container`: who it is and how the OOM killer weighs
/// it.
pub fn container_memory_usage(
    pod: &Pod,
    container: &Container,
    allocatable: &BTreeMap<String, ApiQuantity>,
) -> MemoryUsage {
    let owner = MemoryOwner {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        container: container.name.clone(),
    };
    MemoryUsage::for_container(
        owner,
        container_oom_score_adj(pod, container, node_memory_bytes(allocatable)),
    )
}

/// The kernel's `oom_badness` in bytes: what the run holds, plus `oom_score_adj`
/// thousandths of the node's memory (so a BestEffort container is killed before a
/// Guaranteed one of the same size).
pub fn oom_badness(usage: &MemoryUsage, node_memory_bytes: u64) -> i128 {
    let adjustment = i128::from(usage.oom_score_adj()) * i128::from(node_memory_bytes) / 1000;
    i128::from(usage.bytes()) + adjustment
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus, ResourceRequirements};

    fn pod(qos_class: &str, memory_request: Option<&str>) -> (Pod, Container) {
        let container = Container {
            name: "hog".to_owned(),
            resources: Some(ResourceRequirements {
                requests: memory_request.map(|request| {
                    BTreeMap::from([("memory".to_owned(), ApiQuantity(request.to_owned()))])
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container.clone()],
                ..Default::default()
            }),
            status: Some(PodStatus {
                qos_class: Some(qos_class.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        (pod, container)
    }

    const GIBIBYTE: u64 = 1024 * 1024 * 1024;

    #[test]
    fn oom_score_adj_follows_the_kubelets_policy() {
        let (guaranteed, container) = pod("Guaranteed", Some("1Gi"));
        assert_eq!(
            container_oom_score_adj(&guaranteed, &container, GIBIBYTE),
            -997
        );
        let (best_effort, container) = pod("BestEffort", None);
        assert_eq!(
            container_oom_score_adj(&best_effort, &container, GIBIBYTE),
            1000
        );
        let (burstable, container) = pod("Burstable", Some("512Mi"));
        assert_eq!(
            container_oom_score_adj(&burstable, &container, 2 * GIBIBYTE),
            750
        );
        let (everything, container) = pod("Burstable", Some("4Gi"));
        assert_eq!(
            container_oom_score_adj(&everything, &container, 2 * GIBIBYTE),
            3
        );
        let (nothing, container) = pod("Burstable", None);
        assert_eq!(
            container_oom_score_adj(&nothing, &container, 2 * GIBIBYTE),
            999
        );
    }

    #[test]
    fn badness_is_memory_weighed_by_the_adjustment() {
        let owner = MemoryOwner {
            namespace: "default".to_owned(),
            pod: "hog".to_owned(),
            container: "hog".to_owned(),
        };
        let best_effort = MemoryUsage::for_container(owner.clone(), 1000);
        let guaranteed = MemoryUsage::for_container(owner, -997);
        assert!(oom_badness(&best_effort, 1000) > oom_badness(&guaranteed, 1000));
        assert_eq!(oom_badness(&best_effort, 1000), 1000);
        assert_eq!(oom_badness(&guaranteed, 1000), -997);
    }
}
