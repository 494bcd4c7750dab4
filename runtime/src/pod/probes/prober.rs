//! The probes of one run of a container, each a task like the kubelet's probe worker:
//! it waits for the container to have started (all but the startup probe) and for the
//! initial delay, then runs its check every period, records an event for each failure,
//! counts results against the thresholds and reports a result to the pod worker when it
//! changes. A failed liveness or startup probe, and a startup probe that succeeded, stop
//! there: the container is restarted (with new probes) or has started for good.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Container;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::PodPortConnector;
use super::events::{ContainerReference, EventType, KubeletEvents};
use super::exec::{ExecSandbox, run_exec_probe};
use super::http_get::run_http_get_probe;
use super::results::{ContainerProbes, ProbeOutcome, ProbeReport, ThresholdCounter};
use super::spec::{ContainerProbeSpecs, ProbeHandler, ProbeKind, ProbeSpec};
use super::tcp_socket::run_tcp_socket_probe;

/// How often a probe that could not be run at all is tried again at once before the run
/// counts as errored (the kubelet's `maxProbeRetries`).
const MAX_PROBE_ATTEMPTS: usize = 3;

/// Everything the probes of one run of a container need.
pub struct ProbeTarget {
    pub container: Container,
    pub container_index: usize,
    pub run: u64,
    /// When this run of the container started; initial delays count from here.
    pub started_at: Instant,
    pub reference: ContainerReference,
    pub connector: Option<Arc<dyn PodPortConnector>>,
    pub sandbox: ExecSandbox,
    pub events: Arc<KubeletEvents>,
    pub reports: mpsc::UnboundedSender<ProbeReport>,
}

/// How a probe relates to the container having started.
enum StartGate {
    /// The startup probe: it says when the container has started.
    Opens(watch::Sender<bool>),
    /// Liveness and readiness probes run only once the container has started.
    WaitsFor(watch::Receiver<bool>),
}

/// Starts the probes of a container's run; `None` when it has none. The tasks stop when
/// the returned value is dropped.
pub fn start_container_probes(target: ProbeTarget) -> Option<ContainerProbes> {
    let specs = ContainerProbeSpecs::of(&target.container);
    if specs.is_empty() {
        return None;
    }
    let started = specs.startup.is_none();
    // Without a readiness probe a started container is ready; with one, not until it
    // succeeds.
    let ready = specs.readiness.is_none();
    let target = Arc::new(target);
    let (opens, waits_for) = watch::channel(started);
    let mut tasks = Vec::new();
    if let Some(spec) = specs.startup {
        tasks.push(tokio::spawn(probe_loop(
            spec,
            Arc::clone(&target),
            StartGate::Opens(opens),
        )));
    }
    for spec in [specs.liveness, specs.readiness].into_iter().flatten() {
        let gate = StartGate::WaitsFor(waits_for.clone());
        tasks.push(tokio::spawn(probe_loop(spec, Arc::clone(&target), gate)));
    }
    let tasks = tasks
        .iter()
        .map(tokio::task::JoinHandle::abort_handle)
        .collect();
    Some(ContainerProbes::new(started, ready, tasks))
}

async fn probe_loop(spec: ProbeSpec, target: Arc<ProbeTarget>, gate: StartGate) {
    if let StartGate::WaitsFor(started) = &gate {
        let mut started = started.clone();
        if started.wait_for(|started| *started).await.is_err() {
            // The startup probe ended without success: the container is being restarted.
            return;
        }
    }
    let first_probe = (target.started_at + spec.initial_delay).max(Instant::now());
    let mut ticks = tokio::time::interval_at(first_probe, spec.period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut counter = ThresholdCounter::new(spec.success_threshold, spec.failure_threshold);
    // What the pod worker assumes before the first report: a live container, one not
    // ready, and one whose startup is undecided.
    let mut reported = match spec.kind {
        ProbeKind::Liveness => Some(true),
        ProbeKind::Readiness => Some(false),
        ProbeKind::Startup => None,
    };
    loop {
        ticks.tick().await;
        let outcome = probe_with_retries(&spec, &target).await;
        record_event(&spec, &target, &outcome);
        let Some(result) = outcome.passed().and_then(|passed| counter.observe(passed)) else {
            continue;
        };
        if reported != Some(result) {
            reported = Some(result);
            let report = ProbeReport {
                container_index: target.container_index,
                run: target.run,
                kind: spec.kind,
                passed: result,
            };
            if target.reports.send(report).is_err() {
                // The pod worker is gone.
                return;
            }
        }
        match (spec.kind, result) {
            (ProbeKind::Startup, true) => {
                if let StartGate::Opens(opens) = &gate {
                    opens.send_replace(true);
                }
                return;
            }
            // The container is stopped and restarted with new probes, or stays stopped.
            (ProbeKind::Startup | ProbeKind::Liveness, false) => return,
            _ => {}
        }
    }
}

async fn probe_with_retries(spec: &ProbeSpec, target: &ProbeTarget) -> ProbeOutcome {
    let mut outcome = probe_once(spec, target).await;
    for _ in 1..MAX_PROBE_ATTEMPTS {
        if !matches!(outcome, ProbeOutcome::Errored(_)) {
            break;
        }
        outcome = probe_once(spec, target).await;
    }
    outcome
}

async fn probe_once(spec: &ProbeSpec, target: &ProbeTarget) -> ProbeOutcome {
    let connector = target.connector.as_deref();
    match &spec.handler {
        ProbeHandler::Exec(command) => run_exec_probe(&target.sandbox, command, spec.timeout).await,
        ProbeHandler::HttpGet(probe) => run_http_get_probe(probe, connector, spec.timeout).await,
        ProbeHandler::TcpSocket(probe) => {
            run_tcp_socket_probe(probe, connector, spec.timeout).await
        }
        ProbeHandler::Grpc => {
            ProbeOutcome::Errored("gRPC probes are not supported on this node".to_owned())
        }
        ProbeHandler::Missing => {
            let reference = &target.reference;
            ProbeOutcome::Errored(format!(
                "missing probe handler for {}_{}({}):{}",
                reference.pod_name,
                reference.namespace,
                reference.pod_uid,
                reference.container_name
            ))
        }
    }
}

/// The kubelet's events for a probe's run: `Unhealthy` for a failure or an error,
/// `ProbeWarning` for a success with a warning.
fn record_event(spec: &ProbeSpec, target: &ProbeTarget, outcome: &ProbeOutcome) {
    let kind = spec.kind.title();
    let (reason, message) = match outcome {
        ProbeOutcome::Success => return,
        ProbeOutcome::Warning(output) => {
            ("ProbeWarning", format!("{kind} probe warning: {output}"))
        }
        ProbeOutcome::Failure(output) => ("Unhealthy", format!("{kind} probe failed: {output}")),
        ProbeOutcome::Errored(error) => (
            "Unhealthy",
            format!("{kind} probe errored and resulted in unknown state: {error}"),
        ),
    };
    tracing::debug!(pod = %target.reference.pod_name, container = %target.reference.container_name, %message, "probe");
    target
        .events
        .record(&target.reference, EventType::Warning, reason, message);
}
