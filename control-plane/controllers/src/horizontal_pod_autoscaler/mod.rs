//! The horizontal pod autoscaler (kube-controller-manager's `horizontal-pod-autoscaler`):
//! every sync period each HorizontalPodAutoscaler's target is read through its scale
//! subresource, its pods' metrics are read from metrics.k8s.io, and the count the metrics
//! ask for, stabilized and held to the autoscaler's bounds and rates, is written back to
//! the scale subresource. The status says what was measured and decided.
//!
//! Kubernetes evaluates each autoscaler once per sync period whatever changes; here a
//! change to an autoscaler's spec is evaluated at once, and every other wake-up (its own
//! status writes among them) waits for the period to pass.

mod behavior;
mod conditions;
mod evaluate;
mod metrics;
mod replica_calculator;
mod scale_target;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio::time::Instant;

use crate::ControllerManagerOptions;
use crate::events::EventRecorder;
use crate::retry::RetryBackoff;
use behavior::AutoscalerHistory;
use replica_calculator::CalculatorSettings;

/// The component name events carry.
const COMPONENT: &str = "horizontal-pod-autoscaler";

/// `--horizontal-pod-autoscaler-tolerance`.
const TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-cpu-initialization-period`.
const CPU_INITIALIZATION_PERIOD: Duration = Duration::from_secs(300);
/// `--horizontal-pod-autoscaler-initial-readiness-delay`.
const INITIAL_READINESS_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HorizontalPodAutoscalerError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("failed to rescale {reference}: {error}")]
    Rescale { reference: String, error: String },
    #[error("failed to update status for {name}: {error}")]
    UpdateStatus { name: String, error: String },
}

/// When an autoscaler was last evaluated, and at which generation of its spec.
#[derive(Clone, Copy, Debug)]
struct Evaluation {
    generation: Option<i64>,
    at: Instant,
}

pub struct Context {
    client: Client,
    options: Arc<ControllerManagerOptions>,
    events: EventRecorder,
    retry: RetryBackoff,
    calculator: CalculatorSettings,
    /// By namespace/name: what each autoscaler's stabilization and rates remember.
    histories: Mutex<HashMap<String, AutoscalerHistory>>,
    evaluations: Mutex<HashMap<String, Evaluation>>,
    /// The autoscalers that exist, so that what is remembered of deleted ones is dropped.
    autoscalers: Store<HorizontalPodAutoscaler>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The message of an API error (a Status's own words), else the error as text.
pub(crate) fn api_error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

fn key_of(autoscaler: &HorizontalPodAutoscaler) -> String {
    format!(
        "{}/{}",
        autoscaler.namespace().unwrap_or_default(),
        autoscaler.name_any()
    )
}

impl Context {
    /// How long until the autoscaler is due again, if its spec is the one last evaluated
    /// and the sync period has not passed.
    fn not_due_for(&self, key: &str, generation: Option<i64>) -> Option<Duration> {
        let evaluation = *lock(&self.evaluations).get(key)?;
        if evaluation.generation != generation {
            return None;
        }
        self.options
            .horizontal_pod_autoscaler_sync_period
            .checked_sub(evaluation.at.elapsed())
            .filter(|remaining| !remaining.is_zero())
    }

    fn forget(&self, key: &str) {
        lock(&self.histories).remove(key);
        lock(&self.evaluations).remove(key);
    }

    /// Drops what is remembered of autoscalers that were deleted (a deletion is never
    /// reconciled, since the object is gone).
    fn forget_deleted(&self) {
        let existing: std::collections::HashSet<String> = self
            .autoscalers
            .state()
            .iter()
            .map(|autoscaler| key_of(autoscaler))
            .collect();
        lock(&self.histories).retain(|key, _| existing.contains(key));
        lock(&self.evaluations).retain(|key, _| existing.contains(key));
    }
}

pub async fn reconcile(
    cached: Arc<HorizontalPodAutoscaler>,
    context: Arc<Context>,
) -> Result<Action, HorizontalPodAutoscalerError> {
    let key = key_of(&cached);
    context.forget_deleted();
    let sync_period = context.options.horizontal_pod_autoscaler_sync_period;
    if let Some(remaining) = context.not_due_for(&key, cached.metadata.generation) {
        return Ok(Action::requeue(remaining));
    }
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(
        context.client.clone(),
        &cached.namespace().unwrap_or_default(),
    );
    let Some(autoscaler) = api.get_opt(&cached.name_any()).await? else {
        context.forget(&key);
        return Ok(Action::await_change());
    };
    evaluate::evaluate(&context, &api, &autoscaler, &key).await?;
    lock(&context.evaluations).insert(
        key,
        Evaluation {
            generation: autoscaler.metadata.generation,
            at: Instant::now(),
        },
    );
    context.retry.succeeded(&*cached);
    Ok(Action::requeue(sync_period))
}

fn error_policy(
    autoscaler: Arc<HorizontalPodAutoscaler>,
    error: &HorizontalPodAutoscalerError,
    context: Arc<Context>,
) -> Action {
    tracing::warn!(autoscaler = %key_of(&autoscaler), %error, "horizontal pod autoscaler reconcile failed");
    context.retry.requeue_after_failure(&*autoscaler)
}

pub async fn run(client: Client, options: Arc<ControllerManagerOptions>) {
    let api: Api<HorizontalPodAutoscaler> = Api::all(client.clone());
    let controller = Controller::new(api, watcher::Config::default());
    let context = Arc::new(Context {
        autoscalers: controller.store(),
        events: EventRecorder::new(client.clone(), COMPONENT),
        client,
        options,
        retry: RetryBackoff::default(),
        calculator: CalculatorSettings {
            tolerance: TOLERANCE,
            cpu_initialization_period: CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay: INITIAL_READINESS_DELAY,
        },
        histories: Mutex::new(HashMap::new()),
        evaluations: Mutex::new(HashMap::new()),
    });
    controller
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()))
        .await;
}
