//! Kubernetes' replica calculator for resource metrics: from the pods' metrics and
//! requests, the replica count that brings the average to the target. Pods are grouped as
//! Kubernetes groups them: deleted and failed pods are ignored, pending pods and (for CPU)
//! pods not yet ready are "unready", and pods without metrics are "missing"; on a scale up
//! unready and missing pods count as using nothing, on a scale down missing pods count as
//! using their whole request, and a change that small (within the tolerance) or that
//! would flip direction is not made.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Container, Pod};
use wasmkube_admission::quantity::Quantity;

/// One pod's metric: its value in milli-units (millicores, millibytes) and when and over
/// how long it was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    pub timestamp: Timestamp,
    pub window: Duration,
    pub value: i64,
}

/// Metrics by pod name.
pub type PodMetrics = BTreeMap<String, PodMetric>;

/// The calculator's settings (kube-controller-manager's `--horizontal-pod-autoscaler-*`
/// flags).
#[derive(Clone, Copy, Debug)]
pub struct CalculatorSettings {
    /// How far from 1 the usage ratio must be before the count changes (0.1).
    pub tolerance: f64,
    /// How long after a pod's start its CPU samples are trusted only if it is Ready and a
    /// whole window was measured since it became so (5 min).
    pub cpu_initialization_period: Duration,
    /// How long after its start a pod that is not ready is taken as still starting, not as
    /// having become unready (30 s).
    pub initial_readiness_delay: Duration,
}

/// Why no replica count could be calculated, in Kubernetes' words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalculationError {
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoReadyPodMetrics,
    #[error("missing request for {resource} in container {container} of Pod {pod}")]
    MissingRequest {
        resource: String,
        container: String,
        pod: String,
    },
    #[error("container {container} not found in Pod {pod}")]
    ContainerNotFound { container: String, pod: String },
    #[error("no metrics returned matched known pods")]
    NoMetricsMatchedPods,
}

/// A calculated count with the current utilization (percent of request) and the raw
/// average value (milli-units per pod).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtilizationProposal {
    pub replicas: i32,
    pub utilization: i32,
    pub raw_average: i64,
}

/// A calculated count with the current average value (milli-units per pod).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AverageValueProposal {
    pub replicas: i32,
    pub average: i64,
}

struct PodGroups {
    ready_count: usize,
    unready: BTreeSet<String>,
    missing: BTreeSet<String>,
    ignored: BTreeSet<String>,
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn phase_of(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

fn elapsed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// Kubernetes' `groupPods`.
fn group_pods(
    pods: &[Pod],
    metrics: &PodMetrics,
    resource: &str,
    settings: &CalculatorSettings,
    now: Timestamp,
) -> PodGroups {
    let mut groups = PodGroups {
        ready_count: 0,
        unready: BTreeSet::new(),
        missing: BTreeSet::new(),
        ignored: BTreeSet::new(),
    };
    for pod in pods {
        let name = name_of(pod);
        if pod.metadata.deletion_timestamp.is_some() || phase_of(pod) == "Failed" {
            groups.ignored.insert(name);
            continue;
        }
        if phase_of(pod) == "Pending" {
            groups.unready.insert(name);
            continue;
        }
        let Some(metric) = metrics.get(&name) else {
            groups.missing.insert(name);
            continue;
        };
        if resource == "cpu" && is_unready_for_cpu(pod, metric, settings, now) {
            groups.unready.insert(name);
            continue;
        }
        groups.ready_count += 1;
    }
    groups
}

/// Whether a pod's CPU sample is not to be trusted: it is not ready, or (still within
/// its initialization period) no whole window was measured since it became ready.
fn is_unready_for_cpu(
    pod: &Pod,
    metric: &PodMetric,
    settings: &CalculatorSettings,
    now: Timestamp,
) -> bool {
    let status = pod.status.as_ref();
    let condition = status
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        });
    let start = status.and_then(|status| status.start_time.as_ref());
    let (Some(condition), Some(start)) = (condition, start) else {
        return true;
    };
    let transition = condition
        .last_transition_time
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |time| time.0);
    let not_ready = condition.status == "False";
    if start.0 + elapsed(settings.cpu_initialization_period) > now {
        not_ready || metric.timestamp < transition + elapsed(metric.window)
    } else {
        not_ready && start.0 + elapsed(settings.initial_readiness_delay) > transition
    }
}

fn milli_request(container: &Container, resource: &str) -> Option<i64> {
    let request = container
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get(resource)?;
    let quantity = Quantity::parse(&request.0).ok()?;
    i64::try_from(quantity.milli_value()).ok()
}

/// Each pod's request of `resource` (milli-units): the named container's, or the sum
/// over its containers and restartable init containers (sidecars).
fn pod_requests(
    pods: &[Pod],
    container: Option<&str>,
    resource: &str,
) -> Result<BTreeMap<String, i64>, CalculationError> {
    let mut requests = BTreeMap::new();
    for pod in pods {
        let name = name_of(pod);
        let spec = pod.spec.clone().unwrap_or_default();
        let sidecars = spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .filter(|init| init.restart_policy.as_deref() == Some("Always"));
        let mut request = 0i64;
        let mut found = false;
        for candidate in spec.containers.into_iter().chain(sidecars) {
            if container.is_some_and(|wanted| wanted != candidate.name) {
                continue;
            }
            let value = milli_request(&candidate, resource).ok_or_else(|| {
                CalculationError::MissingRequest {
                    resource: resource.to_owned(),
                    container: candidate.name.clone(),
                    pod: name.clone(),
                }
            })?;
            request = request.saturating_add(value);
            found = true;
            if container.is_some() {
                break;
            }
        }
        if let Some(container) = container
            && !found
        {
            return Err(CalculationError::ContainerNotFound {
                container: container.to_owned(),
                pod: name,
            });
        }
        requests.insert(name, request);
    }
    Ok(requests)
}

/// Kubernetes' `GetResourceUtilizationRatio`: the usage ratio, the utilization (percent
/// of the total request) and the raw average value.
fn utilization_ratio(
    metrics: &BTreeMap<String, i64>,
    requests: &BTreeMap<String, i64>,
    target_utilization: i32,
) -> Result<(f64, i32, i64), CalculationError> {
    let mut metrics_total = 0i64;
    let mut requests_total = 0i64;
    let mut entries = 0i64;
    for (pod, value) in metrics {
        // A metric for a pod without a request is extraneous: missing requests were
        // refused already.
        let Some(request) = requests.get(pod) else {
            continue;
        };
        metrics_total = metrics_total.saturating_add(*value);
        requests_total = requests_total.saturating_add(*request);
        entries += 1;
    }
    if requests_total == 0 {
        return Err(CalculationError::NoMetricsMatchedPods);
    }
    let utilization =
        i32::try_from(metrics_total.saturating_mul(100) / requests_total).unwrap_or(i32::MAX);
    Ok((
        f64::from(utilization) / f64::from(target_utilization),
        utilization,
        metrics_total / entries,
    ))
}

/// Kubernetes' `GetMetricUsageRatio`.
fn usage_ratio(metrics: &BTreeMap<String, i64>, target_usage: i64) -> (f64, i64) {
    let total: i64 = metrics
        .values()
        .fold(0, |sum, value| sum.saturating_add(*value));
    let count = i64::try_from(metrics.len()).unwrap_or(i64::MAX).max(1);
    let usage = total / count;
    (usage as f64 / target_usage as f64, usage)
}

fn within_tolerance(ratio: f64, tolerance: f64) -> bool {
    (1.0 - tolerance) <= ratio && ratio <= (1.0 + tolerance)
}

fn ceiling_count(ratio: f64, pods: usize) -> i32 {
    let count = (ratio * pods as f64).ceil();
    if count >= f64::from(i32::MAX) {
        i32::MAX
    } else {
        count as i32
    }
}

/// What both calculations share once the pods are grouped and the first ratio is known:
/// filling in unready and missing pods and deciding whether the change stands.
struct Rebalance<'a> {
    settings: &'a CalculatorSettings,
    current_replicas: i32,
    groups: &'a PodGroups,
    usage_ratio: f64,
}

impl Rebalance<'_> {
    /// The count from the first ratio, if no pod needs filling in.
    fn direct(&self) -> Option<i32> {
        let scale_up_with_unready = !self.groups.unready.is_empty() && self.usage_ratio > 1.0;
        if scale_up_with_unready || !self.groups.missing.is_empty() {
            return None;
        }
        if within_tolerance(self.usage_ratio, self.settings.tolerance) {
            return Some(self.current_replicas);
        }
        Some(ceiling_count(self.usage_ratio, self.groups.ready_count))
    }

    /// Fills in missing and unready pods: `missing_value` is what a missing pod counts
    /// as on a scale down.
    fn fill_in(&self, metrics: &mut BTreeMap<String, i64>, missing_value: impl Fn(&str) -> i64) {
        for pod in &self.groups.missing {
            if self.usage_ratio < 1.0 {
                metrics.insert(pod.clone(), missing_value(pod));
            } else if self.usage_ratio > 1.0 {
                metrics.insert(pod.clone(), 0);
            }
        }
        if !self.groups.unready.is_empty() && self.usage_ratio > 1.0 {
            for pod in &self.groups.unready {
                metrics.insert(pod.clone(), 0);
            }
        }
    }

    /// The count from the ratio recalculated with the filled-in pods.
    fn rebalanced(&self, new_ratio: f64, considered: usize) -> i32 {
        let flips = (self.usage_ratio < 1.0 && new_ratio > 1.0)
            || (self.usage_ratio > 1.0 && new_ratio < 1.0);
        if within_tolerance(new_ratio, self.settings.tolerance) || flips {
            return self.current_replicas;
        }
        let replicas = ceiling_count(new_ratio, considered);
        if (new_ratio < 1.0 && replicas > self.current_replicas)
            || (new_ratio > 1.0 && replicas < self.current_replicas)
        {
            return self.current_replicas;
        }
        replicas
    }
}

/// The pods' metrics without the ignored and unready ones, as plain values.
fn usable_metrics(metrics: &PodMetrics, groups: &PodGroups) -> BTreeMap<String, i64> {
    metrics
        .iter()
        .filter(|(pod, _)| !groups.ignored.contains(*pod) && !groups.unready.contains(*pod))
        .map(|(pod, metric)| (pod.clone(), metric.value))
        .collect()
}

/// The inputs of one calculation.
pub struct CalculationInput<'a> {
    pub settings: &'a CalculatorSettings,
    pub current_replicas: i32,
    /// "cpu" or "memory".
    pub resource: &'a str,
    /// The container a ContainerResource metric names; None for the whole pod.
    pub container: Option<&'a str>,
    pub pods: &'a [Pod],
    pub metrics: &'a PodMetrics,
    pub now: Timestamp,
}

/// Kubernetes' `GetResourceReplicas`: the count for a target utilization (percent of the
/// pods' requests).
pub fn utilization_replicas(
    input: &CalculationInput<'_>,
    target_utilization: i32,
) -> Result<UtilizationProposal, CalculationError> {
    if input.pods.is_empty() {
        return Err(CalculationError::NoPods);
    }
    let groups = group_pods(
        input.pods,
        input.metrics,
        input.resource,
        input.settings,
        input.now,
    );
    let mut metrics = usable_metrics(input.metrics, &groups);
    if metrics.is_empty() {
        return Err(CalculationError::NoReadyPodMetrics);
    }
    let requests = pod_requests(input.pods, input.container, input.resource)?;
    let (ratio, utilization, raw_average) =
        utilization_ratio(&metrics, &requests, target_utilization)?;
    let rebalance = Rebalance {
        settings: input.settings,
        current_replicas: input.current_replicas,
        groups: &groups,
        usage_ratio: ratio,
    };
    let proposal = |replicas| UtilizationProposal {
        replicas,
        utilization,
        raw_average,
    };
    if let Some(replicas) = rebalance.direct() {
        return Ok(proposal(replicas));
    }
    // On a scale down a missing pod counts as using its whole request, or the target
    // where the target is over 100%.
    let fallback_utilization = i64::from(target_utilization.max(100));
    rebalance.fill_in(&mut metrics, |pod| {
        requests.get(pod).copied().unwrap_or_default() * fallback_utilization / 100
    });
    let (new_ratio, _, _) = utilization_ratio(&metrics, &requests, target_utilization)?;
    Ok(proposal(rebalance.rebalanced(new_ratio, metrics.len())))
}

/// Kubernetes' `GetRawResourceReplicas`: the count for a target average value per pod
/// (milli-units).
pub fn average_value_replicas(
    input: &CalculationInput<'_>,
    target_average: i64,
) -> Result<AverageValueProposal, CalculationError> {
    if input.pods.is_empty() {
        return Err(CalculationError::NoPods);
    }
    let groups = group_pods(
        input.pods,
        input.metrics,
        input.resource,
        input.settings,
        input.now,
    );
    let mut metrics = usable_metrics(input.metrics, &groups);
    if metrics.is_empty() {
        return Err(CalculationError::NoReadyPodMetrics);
    }
    let (ratio, average) = usage_ratio(&metrics, target_average);
    let rebalance = Rebalance {
        settings: input.settings,
        current_replicas: input.current_replicas,
        groups: &groups,
        usage_ratio: ratio,
    };
    let proposal = |replicas| AverageValueProposal { replicas, average };
    if let Some(replicas) = rebalance.direct() {
        return Ok(proposal(replicas));
    }
    // On a scale down a missing pod counts as using exactly the target.
    rebalance.fill_in(&mut metrics, |_| target_average);
    let (new_ratio, _) = usage_ratio(&metrics, target_average);
    Ok(proposal(rebalance.rebalanced(new_ratio, metrics.len())))
}

#[cfg(test)]
mod tests;
