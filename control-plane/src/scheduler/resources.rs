//! The amounts the scheduler compares: a pod's cpu and memory requests, computed as
//! Kubernetes' `resourcehelper.PodRequests` does, and a node's allocatable cpu, memory
//! and pod count.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as QuantityText;
use wasmkube_admission::quantity::{Quantity, QuantityError};

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(
        "container {container:?} asks for {resource} {value:?}, which is not a quantity: {source}"
    )]
    ContainerRequest {
        container: String,
        resource: &'static str,
        value: String,
        source: QuantityError,
    },
    #[error("the pod's overhead of {resource} {value:?} is not a quantity: {source}")]
    PodOverhead {
        resource: &'static str,
        value: String,
        source: QuantityError,
    },
    #[error("the node's allocatable {resource} {value:?} is not a quantity: {source}")]
    NodeAllocatable {
        resource: &'static str,
        value: String,
        source: QuantityError,
    },
}

/// CPU in millicores and memory in bytes: the two resources the scheduler fits and scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
}

impl Resources {
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.saturating_add(other.milli_cpu),
            memory: self.memory.saturating_add(other.memory),
        }
    }

    pub fn minus(self, other: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.saturating_sub(other.milli_cpu),
            memory: self.memory.saturating_sub(other.memory),
        }
    }

    /// The larger amount of each resource.
    fn max(self, other: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu.max(other.milli_cpu),
            memory: self.memory.max(other.memory),
        }
    }
}

/// Kubernetes' `DefaultMilliCPURequest` and `DefaultMemoryRequest`: what scoring assumes a
/// container that requests nothing uses, so that such pods still spread over the nodes
/// instead of all landing on the first one.
const NON_ZERO_DEFAULTS: Resources = Resources {
    milli_cpu: 100,
    memory: 200 * 1024 * 1024,
};

/// What a pod asks of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// The requests as written, which must fit in what the node has left.
    pub requested: Resources,
    /// The requests with a default for every container that leaves cpu or memory out,
    /// which scoring uses (Kubernetes' `NonZeroRequested`).
    pub non_zero: Resources,
}

impl PodRequests {
    fn plus(self, other: PodRequests) -> PodRequests {
        PodRequests {
            requested: self.requested.plus(other.requested),
            non_zero: self.non_zero.plus(other.non_zero),
        }
    }

    fn max(self, other: PodRequests) -> PodRequests {
        PodRequests {
            requested: self.requested.max(other.requested),
            non_zero: self.non_zero.max(other.non_zero),
        }
    }
}

/// Cpu in millicores and memory in bytes, rounded up as Kubernetes' `MilliValue` and
/// `Value` do, and kept within an `i64`.
fn parse_amount(resource: &str, text: &str) -> Result<i64, QuantityError> {
    let quantity = Quantity::parse(text)?;
    let amount = if resource == "cpu" {
        quantity.milli_value()
    } else {
        quantity.value()
    };
    i64::try_from(amount).map_err(|_| QuantityError::TooLarge)
}

/// One container's request of `resource`: its request, or its limit when it sets only a
/// limit (what the API server's defaulting writes into the request).
fn container_request(
    container: &Container,
    resource: &'static str,
) -> Result<Option<i64>, ResourceError> {
    let resources = container.resources.as_ref();
    let amount = resources
        .and_then(|resources| resources.requests.as_ref())
        .and_then(|requests| requests.get(resource))
        .or_else(|| {
            resources
                .and_then(|resources| resources.limits.as_ref())
                .and_then(|limits| limits.get(resource))
        });
    amount
        .map(|QuantityText(text)| {
            parse_amount(resource, text).map_err(|source| ResourceError::ContainerRequest {
                container: container.name.clone(),
                resource,
                value: text.clone(),
                source,
            })
        })
        .transpose()
}

fn container_requests(container: &Container) -> Result<PodRequests, ResourceError> {
    let cpu = container_request(container, "cpu")?;
    let memory = container_request(container, "memory")?;
    Ok(PodRequests {
        requested: Resources {
            milli_cpu: cpu.unwrap_or(0),
            memory: memory.unwrap_or(0),
        },
        non_zero: Resources {
            milli_cpu: cpu.unwrap_or(NON_ZERO_DEFAULTS.milli_cpu),
            memory: memory.unwrap_or(NON_ZERO_DEFAULTS.memory),
        },
    })
}

fn overhead(overhead: Option<&BTreeMap<String, QuantityText>>) -> Result<Resources, ResourceError> {
    let mut total = Resources::default();
    for (resource, slot) in [("cpu", &mut total.milli_cpu), ("memory", &mut total.memory)] {
        if let Some(QuantityText(text)) = overhead.and_then(|overhead| overhead.get(resource)) {
            *slot = parse_amount(resource, text).map_err(|source| ResourceError::PodOverhead {
                resource,
                value: text.clone(),
                source,
            })?;
        }
    }
    Ok(total)
}

/// The pod's effective requests: the app containers and sidecars summed, or the largest
/// step of the init sequence if that is bigger, plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Result<PodRequests, ResourceError> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(PodRequests::default());
    };
    let mut total = PodRequests::default();
    for container in &spec.containers {
        total = total.plus(container_requests(container)?);
    }
    let mut sidecars = PodRequests::default();
    let mut init_peak = PodRequests::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container)?;
        if container.restart_policy.as_deref() == Some("Always") {
            // A sidecar keeps running beside the app containers and every later init
            // container, so it adds to both.
            total = total.plus(requests);
            sidecars = sidecars.plus(requests);
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(requests.plus(sidecars));
        }
    }
    let overhead = overhead(spec.overhead.as_ref())?;
    let total = total.max(init_peak);
    Ok(PodRequests {
        requested: total.requested.plus(overhead),
        non_zero: total.non_zero.plus(overhead),
    })
}

/// What a node offers pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allocatable {
    pub resources: Resources,
    pub pods: i64,
}

/// The node's `status.allocatable`; a resource it does not list is none at all.
pub fn node_allocatable(node: &Node) -> Result<Allocatable, ResourceError> {
    let listed = node
        .status
        .as_ref()
        .and_then(|status| status.allocatable.as_ref());
    let amount = |resource: &'static str| -> Result<i64, ResourceError> {
        match listed.and_then(|listed| listed.get(resource)) {
            Some(QuantityText(text)) => {
                parse_amount(resource, text).map_err(|source| ResourceError::NodeAllocatable {
                    resource,
                    value: text.clone(),
                    source,
                })
            }
            None => Ok(0),
        }
    };
    Ok(Allocatable {
        resources: Resources {
            milli_cpu: amount("cpu")?,
            memory: amount("memory")?,
        },
        pods: amount("pods")?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("a pod")
    }

    #[test]
    fn requests_sum_app_containers_and_take_the_init_peak() {
        let requests = pod_requests(&pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "500m"}}},
            ],
            "initContainers": [
                {"name": "setup", "resources": {"requests": {"cpu": "2"}}},
                {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"memory": "64Mi"}}},
            ],
            "overhead": {"cpu": "10m"},
        })))
        .expect("valid requests");
        assert_eq!(
            requests.requested,
            Resources {
                milli_cpu: 2010,
                memory: 128 * 1024 * 1024
            }
        );
        // Container b asks no memory and the sidecar no cpu: each counts the defaults when
        // scoring.
        assert_eq!(
            requests.non_zero,
            Resources {
                milli_cpu: 2010,
                memory: 64 * 1024 * 1024 + 200 * 1024 * 1024 + 64 * 1024 * 1024
            }
        );
    }

    #[test]
    fn a_pod_that_asks_for_nothing_requests_nothing_but_scores_as_the_defaults() {
        let requests =
            pod_requests(&pod(json!({"containers": [{"name": "a"}]}))).expect("valid requests");
        assert_eq!(requests.requested, Resources::default());
        assert_eq!(requests.non_zero, NON_ZERO_DEFAULTS);
    }

    #[test]
    fn malformed_quantities_name_the_container() {
        let error = pod_requests(&pod(json!({
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "lots"}}}],
        })))
        .expect_err("not a quantity");
        assert!(
            error
                .to_string()
                .starts_with("container \"app\" asks for cpu \"lots\", which is not a quantity"),
            "{error}"
        );
    }

    #[test]
    fn allocatable_reads_cpu_memory_and_pods() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"allocatable": {"cpu": "1500m", "memory": "1Gi", "pods": "110"}},
        }))
        .expect("a node");
        assert_eq!(
            node_allocatable(&node).expect("valid amounts"),
            Allocatable {
                resources: Resources {
                    milli_cpu: 1500,
                    memory: 1024 * 1024 * 1024
                },
                pods: 110
            }
        );
        let bare: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}})).expect("a node");
        assert_eq!(
            node_allocatable(&bare).expect("nothing listed"),
            Allocatable::default()
        );
    }
}
