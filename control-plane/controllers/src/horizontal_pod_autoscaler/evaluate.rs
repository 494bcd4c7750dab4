//! One evaluation of an autoscaler, Kubernetes' `reconcileAutoscaler`: read the target's
//! scale, compute every metric's proposal and take the highest, normalize it (bounds,
//! stabilization, rates), write the new count if it differs, and record the status,
//! conditions and events.

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus,
    MetricStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};

use super::behavior::{Bounds, Normalized, scale_down_rules, scale_up_rules};
use super::conditions::{ABLE_TO_SCALE, Condition, SCALING_ACTIVE, SCALING_LIMITED, set_condition};
use super::metrics::{MetricFailure, metric_proposal};
use super::scale_target::{scale_api, target_resource};
use super::{Context, HorizontalPodAutoscalerError, api_error_text, lock};
use crate::events::EventType;

/// An evaluation in progress: the autoscaler, the status being built, and the time.
struct Evaluation<'a> {
    context: &'a Context,
    autoscaler: &'a HorizontalPodAutoscaler,
    status: HorizontalPodAutoscalerStatus,
    now: Timestamp,
}

/// What the metrics proposed: the highest count and the metric that asked for it.
struct MetricsOutcome {
    replicas: i32,
    metric: String,
    statuses: Vec<MetricStatus>,
}

impl Evaluation<'_> {
    fn set(&mut self, condition: Condition) {
        set_condition(&mut self.status, condition, self.now);
    }

    async fn warn(&self, reason: &str, message: impl Into<String>) {
        self.context
            .events
            .publish(self.autoscaler, EventType::Warning, reason, message)
            .await;
    }

    /// A failure to read the target's scale: recorded, and evaluated again next period.
    async fn failed_get_scale(&mut self, error: &str) {
        self.warn("FailedGetScale", error).await;
        self.set(Condition::new(
            ABLE_TO_SCALE,
            false,
            "FailedGetScale",
            format!("the HPA controller was unable to get the target's current scale: {error}"),
        ));
    }

    /// Kubernetes' `computeReplicasForMetrics`.
    async fn compute_metrics(
        &mut self,
        spec: &HorizontalPodAutoscalerSpec,
        selector: &str,
        current_replicas: i32,
    ) -> Result<MetricsOutcome, (String, Vec<MetricStatus>)> {
        if selector.is_empty() {
            self.warn("SelectorRequired", "selector is required").await;
            self.set(Condition::new(
                SCALING_ACTIVE,
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            ));
            return Err(("selector is required".to_owned(), Vec::new()));
        }
        let namespace = self
            .autoscaler
            .metadata
            .namespace
            .clone()
            .unwrap_or_default();
        let metric_specs = spec.metrics.clone().unwrap_or_default();
        let mut statuses = Vec::with_capacity(metric_specs.len());
        let mut replicas = 0;
        let mut metric = String::new();
        let mut first_failure: Option<MetricFailure> = None;
        let mut failures = 0;
        for metric_spec in &metric_specs {
            match metric_proposal(
                self.context,
                &namespace,
                selector,
                current_replicas,
                metric_spec,
            )
            .await
            {
                Ok(proposal) => {
                    statuses.push(proposal.status);
                    if replicas == 0 || proposal.replicas > replicas {
                        replicas = proposal.replicas;
                        metric = proposal.name;
                    }
                }
                Err(failure) => {
                    // A failed metric's place in the status stays empty, as in Kubernetes.
                    statuses.push(MetricStatus::default());
                    self.warn(failure.event_reason, failure.error.clone()).await;
                    failures += 1;
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if let Some(failure) = first_failure
            && (failures >= metric_specs.len() || replicas < current_replicas)
        {
            self.set(failure.condition);
            let error = format!(
                "invalid metrics ({failures} invalid out of {}), first error is: {}",
                metric_specs.len(),
                failure.error
            );
            return Err((error, statuses));
        }
        self.set(Condition::new(
            SCALING_ACTIVE,
            true,
            "ValidMetricFound",
            format!("the HPA was able to successfully calculate a replica count from {metric}"),
        ));
        Ok(MetricsOutcome {
            replicas,
            metric,
            statuses,
        })
    }

    fn apply_normalization(&mut self, normalized: &Normalized) {
        self.set(Condition::new(
            ABLE_TO_SCALE,
            true,
            normalized.able_to_scale.reason,
            normalized.able_to_scale.message,
        ));
        self.set(Condition::new(
            SCALING_LIMITED,
            normalized.limited,
            normalized.scaling_limited.reason,
            normalized.scaling_limited.message,
        ));
    }

    /// Writes the status if it changed, with the autoscaler's resourceVersion: a write
    /// that lost a race is a conflict, and the autoscaler is evaluated again.
    async fn update_status(
        &self,
        api: &Api<HorizontalPodAutoscaler>,
    ) -> Result<(), HorizontalPodAutoscalerError> {
        if self.autoscaler.status.as_ref() == Some(&self.status) {
            return Ok(());
        }
        let mut updated = self.autoscaler.clone();
        updated.status = Some(self.status.clone());
        let name = updated.metadata.name.clone().unwrap_or_default();
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let text = api_error_text(&error);
                self.warn("FailedUpdateStatus", text.clone()).await;
                Err(HorizontalPodAutoscalerError::UpdateStatus { name, error: text })
            }
        }
    }
}

/// Evaluates one autoscaler and records the outcome in its status.
pub async fn evaluate(
    context: &Context,
    api: &Api<HorizontalPodAutoscaler>,
    autoscaler: &HorizontalPodAutoscaler,
    key: &str,
) -> Result<(), HorizontalPodAutoscalerError> {
    let spec = autoscaler.spec.clone().unwrap_or_default();
    let namespace = autoscaler.metadata.namespace.clone().unwrap_or_default();
    let target_name = spec.scale_target_ref.name.clone();
    let reference = format!("{}/{namespace}/{target_name}", spec.scale_target_ref.kind);
    let mut evaluation = Evaluation {
        context,
        autoscaler,
        status: autoscaler.status.clone().unwrap_or_default(),
        now: Timestamp::now(),
    };
    let resource = match target_resource(&spec.scale_target_ref) {
        Ok(resource) => resource,
        Err(error) => {
            evaluation.failed_get_scale(&error).await;
            return evaluation.update_status(api).await;
        }
    };
    let scale_api = scale_api(&context.client, &namespace, &resource);
    let mut scale = match scale_api.get_scale(&target_name).await {
        Ok(scale) => scale,
        Err(error) => {
            evaluation.failed_get_scale(&api_error_text(&error)).await;
            return evaluation.update_status(api).await;
        }
    };
    evaluation.set(Condition::new(
        ABLE_TO_SCALE,
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
    ));
    let current_replicas = scale
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(0);
    let selector = scale
        .status
        .as_ref()
        .and_then(|status| status.selector.clone())
        .unwrap_or_default();
    let now = evaluation.now;
    lock(&context.histories)
        .entry(key.to_owned())
        .or_default()
        .record_initial_recommendation(current_replicas, now);
    let min_replicas = spec.min_replicas.unwrap_or(1);
    let scale_up = scale_up_rules(spec.behavior.as_ref());
    let scale_down = scale_down_rules(
        spec.behavior.as_ref(),
        context
            .options
            .horizontal_pod_autoscaler_downscale_stabilization,
    );
    let mut metric_statuses = Vec::new();
    let mut rescale_reason = String::new();
    let desired = if current_replicas == 0 && min_replicas != 0 {
        evaluation.set(Condition::new(
            SCALING_ACTIVE,
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        ));
        0
    } else if current_replicas > spec.max_replicas {
        rescale_reason = "Current number of replicas above Spec.MaxReplicas".to_owned();
        spec.max_replicas
    } else if current_replicas < min_replicas {
        rescale_reason = "Current number of replicas below Spec.MinReplicas".to_owned();
        min_replicas
    } else {
        let outcome = match evaluation
            .compute_metrics(&spec, &selector, current_replicas)
            .await
        {
            Ok(outcome) => outcome,
            Err((error, statuses)) => {
                evaluation.status.current_replicas = Some(current_replicas);
                evaluation.status.current_metrics =
                    Some(statuses).filter(|statuses| !statuses.is_empty());
                evaluation.update_status(api).await?;
                evaluation
                    .warn("FailedComputeMetricsReplicas", error.clone())
                    .await;
                tracing::info!(%reference, %error, "failed to compute desired number of replicas based on listed metrics");
                return Ok(());
            }
        };
        metric_statuses = outcome.statuses;
        if outcome.replicas > current_replicas {
            rescale_reason = format!("{} above target", outcome.metric);
        } else if outcome.replicas < current_replicas {
            rescale_reason = "All metrics below target".to_owned();
        }
        let normalized = {
            let mut histories = lock(&context.histories);
            let history = histories.entry(key.to_owned()).or_default();
            if spec.behavior.is_none() {
                history.normalize_without_behavior(
                    current_replicas,
                    outcome.replicas,
                    min_replicas,
                    spec.max_replicas,
                    context
                        .options
                        .horizontal_pod_autoscaler_downscale_stabilization,
                    now,
                )
            } else {
                let bounds = Bounds {
                    min_replicas,
                    max_replicas: spec.max_replicas,
                    scale_up: &scale_up,
                    scale_down: &scale_down,
                };
                history.normalize_with_behavior(current_replicas, outcome.replicas, &bounds, now)
            }
        };
        evaluation.apply_normalization(&normalized);
        normalized.replicas
    };
    let rescale = desired != current_replicas;
    if rescale {
        scale.spec.get_or_insert_default().replicas = Some(desired);
        if let Err(error) = scale_api
            .replace_scale(&target_name, &PostParams::default(), &scale)
            .await
        {
            let text = api_error_text(&error);
            evaluation
                .warn(
                    "FailedRescale",
                    format!("New size: {desired}; reason: {rescale_reason}; error: {text}"),
                )
                .await;
            evaluation.set(Condition::new(
                ABLE_TO_SCALE,
                false,
                "FailedUpdateScale",
                format!("the HPA controller was unable to update the target scale: {text}"),
            ));
            evaluation.status.current_replicas = Some(current_replicas);
            evaluation.update_status(api).await?;
            return Err(HorizontalPodAutoscalerError::Rescale {
                reference,
                error: text,
            });
        }
        evaluation.set(Condition::new(
            ABLE_TO_SCALE,
            true,
            "SucceededRescale",
            format!("the HPA controller was able to update the target scale to {desired}"),
        ));
        context
            .events
            .publish(
                autoscaler,
                EventType::Normal,
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {rescale_reason}"),
            )
            .await;
        lock(&context.histories)
            .entry(key.to_owned())
            .or_default()
            .record_scale_event(
                spec.behavior.as_ref(),
                &scale_up,
                &scale_down,
                current_replicas,
                desired,
                now,
            );
        tracing::info!(%reference, old = current_replicas, new = desired, reason = %rescale_reason, "successful rescale");
    }
    let status = &mut evaluation.status;
    status.current_replicas = Some(current_replicas);
    status.desired_replicas = if rescale { desired } else { current_replicas };
    status.current_metrics = Some(metric_statuses).filter(|statuses| !statuses.is_empty());
    if rescale {
        status.last_scale_time = Some(Time(now));
    }
    evaluation.update_status(api).await
}
