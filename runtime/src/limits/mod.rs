//! A container's limits: memory and CPU, from its resources or the node's defaults.

pub mod cpu;
pub mod memory;
pub mod node_memory;
pub mod oom_score;
pub mod system_oom_events;

use k8s_openapi::api::core::v1::Container;
use wasmkube_admission::quantity::Quantity;

use cpu::CpuQuota;

/// What a container without limits gets: the LimitRange admission plugin has already
/// given it its namespace's defaults, so these apply only where no LimitRange does.
/// Nothing runs unlimited by accident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeDefaultLimits {
    pub cpu_millicores: u64,
    pub memory_bytes: u64,
}

impl Default for NodeDefaultLimits {
    /// One core (a guest is single-threaded, so that is all it could use anyway) and
    /// 512 MiB.
    fn default() -> NodeDefaultLimits {
        NodeDefaultLimits {
            cpu_millicores: 1000,
            memory_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerLimits {
    pub memory_bytes: u64,
    /// None when the limit is a whole core or more: a single-threaded guest cannot use
    /// more than one core, so there is nothing to throttle.
    pub cpu: Option<CpuQuota>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid {resource} limit {value:?}: {message}")]
pub struct LimitsError {
    resource: &'static str,
    value: String,
    message: String,
}

fn limit(container: &Container, resource: &'static str) -> Result<Option<Quantity>, LimitsError> {
    let Some(quantity) = container
        .resources
        .as_ref()
        .and_then(|resources| resources.limits.as_ref())
        .and_then(|limits| limits.get(resource))
    else {
        return Ok(None);
    };
    Quantity::parse(&quantity.0)
        .map(Some)
        .map_err(|error| LimitsError {
            resource,
            value: quantity.0.clone(),
            message: error.to_string(),
        })
}

pub fn container_limits(
    container: &Container,
    defaults: &NodeDefaultLimits,
) -> Result<ContainerLimits, LimitsError> {
    let memory_bytes = match limit(container, "memory")? {
        Some(quantity) => u64::try_from(quantity.value()).unwrap_or(0),
        None => defaults.memory_bytes,
    };
    let cpu_millicores = match limit(container, "cpu")? {
        Some(quantity) => u64::try_from(quantity.milli_value()).unwrap_or(0),
        None => defaults.cpu_millicores,
    };
    Ok(ContainerLimits {
        memory_bytes,
        cpu: (cpu_millicores < 1000).then_some(CpuQuota {
            millicores: cpu_millicores.max(1),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

    fn with_limits(limits: &[(&str, &str)]) -> Container {
        Container {
            resources: Some(ResourceRequirements {
                limits: Some(
                    limits
                        .iter()
                        .map(|(name, value)| ((*name).to_owned(), ApiQuantity((*value).to_owned())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn limits_come_from_the_container_else_from_the_node() {
        let defaults = NodeDefaultLimits::default();
        let limited = container_limits(
            &with_limits(&[("memory", "100Mi"), ("cpu", "500m")]),
            &defaults,
        )
        .unwrap();
        assert_eq!(limited.memory_bytes, 100 * 1024 * 1024);
        assert_eq!(limited.cpu, Some(CpuQuota { millicores: 500 }));
        let unlimited = container_limits(&Container::default(), &defaults).unwrap();
        assert_eq!(unlimited.memory_bytes, 512 * 1024 * 1024);
        assert_eq!(unlimited.cpu, None);
        let two_cores = container_limits(&with_limits(&[("cpu", "2")]), &defaults).unwrap();
        assert_eq!(two_cores.cpu, None);
    }

    #[test]
    fn an_unparseable_limit_is_an_error_naming_it() {
        let error = container_limits(
            &with_limits(&[("memory", "lots")]),
            &NodeDefaultLimits::default(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid memory limit \"lots\""),
            "{error}"
        );
    }
}
