//! A container's resource value for a downward API `resourceFieldRef`, as the kubelet computes
//! it (`ExtractResourceValueByContainerNameAndNodeAllocatable` in `pkg/api/v1/resource`): a
//! missing or zero limit falls back to the node's allocatable, and the value is divided by the
//! divisor and rounded up, so cpu 500m reads "1" with divisor 1 and "500" with divisor 1m.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use wasmkube_admission::quantity::{Quantity, QuantityError};

/// Why a container resource could not be read for a downward API file.
#[derive(Debug, thiserror::Error)]
pub enum ContainerResourceError {
    /// The kubelet's text for a `containerName` the pod does not have.
    #[error("container {name} not found")]
    ContainerNotFound { name: String },
    /// The kubelet's text (space before the colon included) for an unknown resource.
    #[error("unsupported container resource : {resource}")]
    UnsupportedResource { resource: String },
    #[error("invalid quantity {text:?} in {field}: {source}")]
    InvalidQuantity {
        field: String,
        text: String,
        source: QuantityError,
    },
    #[error("divisor {text:?} for {resource} must be greater than zero")]
    NonPositiveDivisor { resource: String, text: String },
}

/// How a resource's value is divided by the divisor: cpu in milli-units, the rest in units.
#[derive(Clone, Copy)]
enum Scale {
    Milli,
    Units,
}

impl Scale {
    fn scaled(self, quantity: &Quantity) -> i128 {
        match self {
            Scale::Milli => quantity.milli_value(),
            Scale::Units => quantity.value(),
        }
    }
}

/// The text the file for `selector` holds, for the container named in it.
pub fn container_resource_value(
    selector: &ResourceFieldSelector,
    pod: &Pod,
    node_allocatable: &BTreeMap<String, ApiQuantity>,
) -> Result<String, ContainerResourceError> {
    let container_name = selector.container_name.as_deref().unwrap_or_default();
    let container = find_container(pod, container_name)?;
    let unsupported = || ContainerResourceError::UnsupportedResource {
        resource: selector.resource.clone(),
    };
    let (which, resource_name) = selector.resource.split_once('.').ok_or_else(unsupported)?;
    let scale = match resource_name {
        "cpu" => Scale::Milli,
        "memory" | "ephemeral-storage" => Scale::Units,
        _ => return Err(unsupported()),
    };
    let resources = container.resources.as_ref();
    let value = match which {
        "limits" => {
            let limit = resources.and_then(|resources| resources.limits.as_ref());
            let limit = parse_entry(limit, resource_name, "limits")?;
            match limit {
                Some(limit) if !limit.is_zero() => limit,
                _ => parse_entry(Some(node_allocatable), resource_name, "node allocatable")?
                    .unwrap_or_else(Quantity::zero),
            }
        }
        "requests" => {
            let requests = resources.and_then(|resources| resources.requests.as_ref());
            parse_entry(requests, resource_name, "requests")?.unwrap_or_else(Quantity::zero)
        }
        _ => return Err(unsupported()),
    };
    let divisor = match &selector.divisor {
        Some(text) => parse_quantity(&text.0, "divisor")?,
        None => Quantity::zero(),
    };
    let divisor = if divisor.is_zero() {
        Quantity::from_units(1, divisor.format())
    } else {
        divisor
    };
    let divisor_scaled = scale.scaled(&divisor);
    if divisor_scaled <= 0 {
        return Err(ContainerResourceError::NonPositiveDivisor {
            resource: selector.resource.clone(),
            text: selector
                .divisor
                .as_ref()
                .map(|text| text.0.clone())
                .unwrap_or_default(),
        });
    }
    let scaled = scale.scaled(&value);
    Ok(divide_rounding_up(scaled, divisor_scaled).to_string())
}

/// The pod's container of that name, app containers first and then init containers, as the
/// kubelet's `findContainerInPod` looks.
fn find_container<'pod>(
    pod: &'pod Pod,
    name: &str,
) -> Result<&'pod Container, ContainerResourceError> {
    let spec = pod.spec.as_ref();
    let containers = spec
        .map(|spec| spec.containers.as_slice())
        .unwrap_or_default();
    let init_containers = spec
        .and_then(|spec| spec.init_containers.as_deref())
        .unwrap_or_default();
    containers
        .iter()
        .chain(init_containers)
        .find(|container| container.name == name)
        .ok_or_else(|| ContainerResourceError::ContainerNotFound {
            name: name.to_string(),
        })
}

fn parse_entry(
    list: Option<&BTreeMap<String, ApiQuantity>>,
    resource_name: &str,
    list_name: &str,
) -> Result<Option<Quantity>, ContainerResourceError> {
    list.and_then(|list| list.get(resource_name))
        .map(|text| parse_quantity(&text.0, &format!("{list_name}.{resource_name}")))
        .transpose()
}

fn parse_quantity(text: &str, field: &str) -> Result<Quantity, ContainerResourceError> {
    Quantity::parse(text).map_err(|source| ContainerResourceError::InvalidQuantity {
        field: field.to_string(),
        text: text.to_string(),
        source,
    })
}

/// `ceil(numerator / denominator)` for a positive denominator, Go's `math.Ceil` of the division
/// without going through floating point.
fn divide_rounding_up(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    if numerator.rem_euclid(denominator) == 0 {
        quotient
    } else {
        quotient + 1
    }
}
