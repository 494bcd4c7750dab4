//! One metric of an autoscaler: its proposal (replicas, the metric's name for messages,
//! its current value for the status) or why there is none, in Kubernetes' words. Resource
//! and ContainerResource metrics come from metrics.k8s.io through the API; the custom and
//! external metrics APIs are not served, so Pods, Object and External metrics fail as they
//! do in a cluster without those adapters.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricStatus, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
    ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;
use wasmkube_admission::quantity::{Quantity, QuantityFormat};

use super::Context;
use super::conditions::{Condition, SCALING_ACTIVE};
use super::replica_calculator::{
    CalculationInput, PodMetric, PodMetrics, average_value_replicas, utilization_replicas,
};

/// What one metric proposes.
#[derive(Clone, Debug)]
pub struct MetricProposal {
    pub replicas: i32,
    /// How messages name the metric: "cpu resource utilization (percentage of request)".
    pub name: String,
    pub status: MetricStatus,
}

/// Why a metric proposes nothing: the ScalingActive condition it would set, the event's
/// reason, and the error.
#[derive(Clone, Debug)]
pub struct MetricFailure {
    pub condition: Condition,
    pub event_reason: &'static str,
    pub error: String,
}

impl MetricFailure {
    /// Kubernetes' `getUnableComputeReplicaCountCondition`, with the error the metric's
    /// computation returns (which may wrap the condition's).
    fn new(event_reason: &'static str, condition_error: &str, error: String) -> MetricFailure {
        MetricFailure {
            condition: Condition::new(
                SCALING_ACTIVE,
                false,
                event_reason,
                format!("the HPA was unable to compute the replica count: {condition_error}"),
            ),
            event_reason,
            error,
        }
    }
}

/// A milli-value as a quantity in canonical form ("250m", "1", "20971520").
fn milli_quantity(milli_value: i64) -> ApiQuantity {
    ApiQuantity(Quantity::from_milli_units(milli_value, QuantityFormat::DecimalSi).to_string())
}

fn pod_metrics_api(context: &Context, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    );
    Api::namespaced_with(context.client.clone(), namespace, &resource)
}

/// A duration as Go writes it ("5.012s", "1m0.5s", "500ms"), as metav1.Duration marshals.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end =
            rest.find(|character: char| !character.is_ascii_digit() && character != '.')?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|character: char| character.is_ascii_digit() || character == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(number * seconds_per_unit).ok()?;
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// One pod's metric from a PodMetrics: the sum over its containers (or the one container
/// asked for); None if a container lacks the resource.
fn pod_metric(
    item: &DynamicObject,
    resource: &str,
    container: Option<&str>,
) -> Result<Option<PodMetric>, String> {
    let timestamp = item
        .data
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|text| text.parse::<Timestamp>().ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let window = item
        .data
        .get("window")
        .and_then(Value::as_str)
        .and_then(parse_go_duration)
        .unwrap_or_default();
    let containers = item
        .data
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let usage_of = |container: &Value| -> Option<i64> {
        let text = container.pointer(&format!("/usage/{resource}"))?.as_str()?;
        i64::try_from(Quantity::parse(text).ok()?.milli_value()).ok()
    };
    if let Some(wanted) = container {
        let name_of =
            |candidate: &&Value| candidate.get("name").and_then(Value::as_str) == Some(wanted);
        let Some(found) = containers.iter().find(name_of) else {
            return Err(format!(
                "failed to get container metrics: container {wanted} not present in metrics for pod {}/{}",
                item.metadata.namespace.as_deref().unwrap_or_default(),
                item.metadata.name.as_deref().unwrap_or_default()
            ));
        };
        return Ok(usage_of(found).map(|value| PodMetric {
            timestamp,
            window,
            value,
        }));
    }
    if containers.is_empty() {
        return Ok(None);
    }
    let mut sum = 0i64;
    for container in &containers {
        let Some(value) = usage_of(container) else {
            return Ok(None);
        };
        sum = sum.saturating_add(value);
    }
    Ok(Some(PodMetric {
        timestamp,
        window,
        value: sum,
    }))
}

/// Kubernetes' `GetResourceMetric`: the pods' metrics for `resource` from metrics.k8s.io.
async fn resource_metrics(
    context: &Context,
    namespace: &str,
    selector: &str,
    resource: &str,
    container: Option<&str>,
) -> Result<PodMetrics, String> {
    let listed = pod_metrics_api(context, namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|error| {
            format!(
                "unable to fetch metrics from resource metrics API: {}",
                super::api_error_text(&error)
            )
        })?;
    if listed.items.is_empty() {
        return Err("no metrics returned from resource metrics API".to_owned());
    }
    let mut metrics = PodMetrics::new();
    for item in &listed.items {
        if let Some(metric) = pod_metric(item, resource, container)? {
            metrics.insert(item.metadata.name.clone().unwrap_or_default(), metric);
        }
    }
    Ok(metrics)
}

/// Computes one Resource or ContainerResource metric (Kubernetes'
/// `computeStatusForResourceMetricGeneric`): the count and the current value.
async fn resource_proposal(
    context: &Context,
    namespace: &str,
    selector: &str,
    current_replicas: i32,
    resource: &str,
    container: Option<&str>,
    target: &MetricTarget,
) -> Result<(i32, String, MetricValueStatus), String> {
    let (average_value, utilization) = match (&target.average_value, target.average_utilization) {
        (Some(average_value), _) => (
            Some(
                Quantity::parse(&average_value.0)
                    .ok()
                    .and_then(|quantity| i64::try_from(quantity.milli_value()).ok())
                    .unwrap_or_default(),
            ),
            None,
        ),
        (None, Some(utilization)) => (None, Some(utilization)),
        (None, None) => {
            return Err(
                "invalid resource metric source: neither a utilization target nor a value target was set"
                    .to_owned(),
            );
        }
    };
    let wrap = |error: String| format!("failed to get {resource} utilization: {error}");
    let metrics = resource_metrics(context, namespace, selector, resource, container)
        .await
        .map_err(|error| {
            wrap(format!(
                "unable to get metrics for resource {resource}: {error}"
            ))
        })?;
    let pods = Api::<Pod>::namespaced(context.client.clone(), namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|error| {
            wrap(format!(
                "unable to get pods while calculating replica count: {}",
                super::api_error_text(&error)
            ))
        })?
        .items;
    let input = CalculationInput {
        settings: &context.calculator,
        current_replicas,
        resource,
        container,
        pods: &pods,
        metrics: &metrics,
        now: Timestamp::now(),
    };
    let kind = if container.is_some() {
        "container resource"
    } else {
        "resource"
    };
    if let Some(target_average) = average_value {
        let proposal = average_value_replicas(&input, target_average)
            .map_err(|error| wrap(error.to_string()))?;
        let status = MetricValueStatus {
            average_value: Some(milli_quantity(proposal.average)),
            ..Default::default()
        };
        return Ok((proposal.replicas, format!("{resource} {kind}"), status));
    }
    let target_utilization = utilization.unwrap_or_default();
    let proposal = utilization_replicas(&input, target_utilization)
        .map_err(|error| wrap(error.to_string()))?;
    let status = MetricValueStatus {
        average_utilization: Some(proposal.utilization),
        average_value: Some(milli_quantity(proposal.raw_average)),
        ..Default::default()
    };
    Ok((
        proposal.replicas,
        format!("{resource} {kind} utilization (percentage of request)"),
        status,
    ))
}

/// What a metric of a type whose metrics API is not served fails with.
fn unserved(event_reason: &'static str, error: String) -> MetricFailure {
    MetricFailure::new(event_reason, &error, error.clone())
}

/// Kubernetes' `computeReplicasForMetric` for one metric of the autoscaler.
pub async fn metric_proposal(
    context: &Context,
    namespace: &str,
    selector: &str,
    current_replicas: i32,
    spec: &MetricSpec,
) -> Result<MetricProposal, MetricFailure> {
    match spec.type_.as_str() {
        "Resource" => {
            let source = spec.resource.clone().unwrap_or_default();
            let (replicas, name, current) = resource_proposal(
                context,
                namespace,
                selector,
                current_replicas,
                &source.name,
                None,
                &source.target,
            )
            .await
            .map_err(|error| {
                MetricFailure::new("FailedGetResourceMetric", &error, error.clone())
            })?;
            Ok(MetricProposal {
                replicas,
                name,
                status: MetricStatus {
                    type_: "Resource".to_owned(),
                    resource: Some(ResourceMetricStatus {
                        name: source.name,
                        current,
                    }),
                    ..Default::default()
                },
            })
        }
        "ContainerResource" => {
            let source = spec.container_resource.clone().unwrap_or_default();
            let (replicas, name, current) = resource_proposal(
                context,
                namespace,
                selector,
                current_replicas,
                &source.name,
                Some(&source.container),
                &source.target,
            )
            .await
            .map_err(|error| {
                MetricFailure::new("FailedGetContainerResourceMetric", &error, error.clone())
            })?;
            Ok(MetricProposal {
                replicas,
                name,
                status: MetricStatus {
                    type_: "ContainerResource".to_owned(),
                    container_resource: Some(ContainerResourceMetricStatus {
                        name: source.name,
                        container: source.container,
                        current,
                    }),
                    ..Default::default()
                },
            })
        }
        "Pods" => {
            let name = spec
                .pods
                .as_ref()
                .map(|pods| pods.metric.name.clone())
                .unwrap_or_default();
            let error = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
            );
            let mut failure = unserved("FailedGetPodsMetric", error);
            failure.error = format!("failed to get pods metric value: {}", failure.error);
            Err(failure)
        }
        "Object" => {
            let name = spec
                .object
                .as_ref()
                .map(|object| object.metric.name.clone())
                .unwrap_or_default();
            let error = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
            );
            let mut failure = unserved("FailedGetObjectMetric", error);
            failure.error = format!("failed to get object metric value: {}", failure.error);
            Err(failure)
        }
        "External" => {
            let name = spec
                .external
                .as_ref()
                .map(|external| external.metric.name.clone())
                .unwrap_or_default();
            let error = format!(
                "unable to get external metric {namespace}/{name}: unable to fetch metrics from external metrics API: no external metrics API (external.metrics.k8s.io) registered"
            );
            Err(unserved("FailedGetExternalMetric", error))
        }
        other => {
            let error = format!("unknown metric source type \"{other}\"");
            Err(unserved("InvalidMetricSourceType", error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_are_read() {
        assert_eq!(
            parse_go_duration("5.012s"),
            Some(Duration::from_millis(5012))
        );
        assert_eq!(
            parse_go_duration("1m0.5s"),
            Some(Duration::from_millis(60_500))
        );
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1h0m5s"), Some(Duration::from_secs(3605)));
        assert_eq!(parse_go_duration("soon"), None);
    }

    #[test]
    fn milli_values_print_in_canonical_form() {
        assert_eq!(milli_quantity(250).0, "250m");
        assert_eq!(milli_quantity(1000).0, "1");
        assert_eq!(milli_quantity(20_971_520_000).0, "20971520");
    }
}
