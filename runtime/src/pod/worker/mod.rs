//! One pod's worker: a task that owns the pod's state on this node and moves it through
//! its stages — volumes, init containers in order, app containers in parallel with
//! restarts and back-off, then the end — publishing status through `pods/status`.

mod containers;
mod network;
mod probing;
mod publish;
mod stopping;
mod termination;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodCondition};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use wasmkube_volumes::PodVolumes;

use crate::guest::GuestExit;
use crate::network::PodNetwork;
use crate::pod::NodeContext;
use crate::pod::adoption::adopt_container_status;
use crate::pod::container_record::{ContainerPhase, ContainerRecord};
use crate::pod::probes::{
    ContainerReference, EventType, KubeletEvents, PodPortConnector, ProbeReport,
};
use crate::pod::status::{Restart, pod_phase};

/// How often a running pod's projected volumes are refreshed and its emptyDirs measured.
const VOLUME_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How soon a failed step that has no back-off of its own (mounting volumes, publishing
/// status) is retried.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How soon a pod waiting for the node's podCIDR looks again: the node IPAM controller
/// gives one within moments of the node registering.
const NETWORK_RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// The agent's handle on a pod's worker. Dropping it (the agent is stopping) stops the
/// worker where it is, leaving the pod's volumes and logs for the next agent to adopt.
pub struct PodWorkerHandle {
    updates: watch::Sender<Pod>,
    gone: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PodWorkerHandle {
    fn drop(&mut self) {
        if self.gone.is_some() {
            self.task.abort();
        }
    }
}

impl PodWorkerHandle {
    /// Passes a newer version of the pod (a deletion timestamp, changed labels) on.
    pub fn update(&self, pod: Pod) {
        self.updates.send_replace(pod);
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the worker because the pod is gone from the API; its containers are
    /// stopped and its volumes and logs removed.
    pub fn forget(mut self) {
        if let Some(gone) = self.gone.take() {
            // A worker that already ended has nothing left to stop.
            let _ = gone.send(());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    MountingVolumes,
    Initializing,
    Running,
    Finished,
}

struct ContainerExitMessage {
    init: bool,
    index: usize,
    run: u64,
    exit: GuestExit,
}

struct PodWorker {
    context: Arc<NodeContext>,
    pod: Pod,
    uid: String,
    restart: Restart,
    init: Vec<ContainerRecord>,
    app: Vec<ContainerRecord>,
    /// Which run of each container is current, so a stale exit is never mistaken for it.
    runs: Vec<(bool, usize, u64)>,
    next_run: u64,
    volumes: Option<PodVolumes>,
    stage: Stage,
    /// Whether the pod has been initialized (its Initialized condition turned True): from
    /// then on a restarting sidecar does not hold it in Pending.
    initialized: bool,
    /// Why the pod failed as a whole (`DeadlineExceeded`, `Evicted`), with a message.
    failure: Option<(String, String)>,
    start_time: Timestamp,
    conditions: Vec<PodCondition>,
    published: Option<Value>,
    next_volume_check: Instant,
    exits_sender: mpsc::UnboundedSender<ContainerExitMessage>,
    exits: mpsc::UnboundedReceiver<ContainerExitMessage>,
    /// The kubelet's events about this pod's containers (probe failures, kills).
    events: Arc<KubeletEvents>,
    /// How httpGet and tcpSocket probes reach the pod's ports. The pod network provides
    /// it; until then such probes report that they cannot run.
    port_connector: Option<Arc<dyn PodPortConnector>>,
    /// The pod's network (its IP and sockets), from when it is attached; its IP returns
    /// to the node's pool when the last holder lets go.
    network: Option<Arc<PodNetwork>>,
    probe_reports_sender: mpsc::UnboundedSender<ProbeReport>,
    probe_reports: mpsc::UnboundedReceiver<ProbeReport>,
}

pub fn start_pod_worker(context: Arc<NodeContext>, pod: Pod) -> PodWorkerHandle {
    let (updates, receiver) = watch::channel(pod.clone());
    let (gone, gone_receiver) = oneshot::channel();
    let worker = PodWorker::new(context, pod);
    let task = tokio::spawn(worker.run(receiver, gone_receiver));
    PodWorkerHandle {
        updates,
        gone: Some(gone),
        task,
    }
}

fn records(containers: Option<&Vec<Container>>, context: &NodeContext) -> Vec<ContainerRecord> {
    containers
        .into_iter()
        .flatten()
        .map(|container| {
            let mut record = ContainerRecord::new(
                &container.name,
                container.image.as_deref().unwrap_or_default(),
                context.backoff,
            );
            // Only an init container may carry a restartPolicy, and Always is its only
            // value: a native sidecar.
            record.sidecar = container.restart_policy.as_deref() == Some("Always");
            record
        })
        .collect()
}

impl PodWorker {
    fn new(context: Arc<NodeContext>, pod: Pod) -> PodWorker {
        let spec = pod.spec.clone().unwrap_or_default();
        let mut init = records(spec.init_containers.as_ref(), &context);
        // As the kubelet shows them, init containers that have not been created yet wait
        // in PodInitializing, like the app containers.
        for record in &mut init {
            record.wait("PodInitializing", None);
        }
        let mut app = records(Some(&spec.containers), &context);
        let status = pod.status.clone().unwrap_or_default();
        for (records, statuses) in [
            (
                &mut init,
                status.init_container_statuses.unwrap_or_default(),
            ),
            (&mut app, status.container_statuses.unwrap_or_default()),
        ] {
            for record in records.iter_mut() {
                if let Some(status) = statuses.iter().find(|status| status.name == record.name) {
                    adopt_container_status(record, status);
                }
            }
        }
        let already_over = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let initialized = status
            .conditions
            .iter()
            .flatten()
            .any(|condition| condition.type_ == "Initialized" && condition.status == "True");
        let (exits_sender, exits) = mpsc::unbounded_channel();
        let (probe_reports_sender, probe_reports) = mpsc::unbounded_channel();
        PodWorker {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            restart: Restart::from_spec(spec.restart_policy.as_deref()),
            init,
            app,
            runs: Vec::new(),
            next_run: 0,
            volumes: None,
            stage: if already_over {
                Stage::Finished
            } else {
                Stage::MountingVolumes
            },
            initialized,
            failure: already_over
                .then(|| {
                    Some((
                        status.reason.clone()?,
                        status.message.clone().unwrap_or_default(),
                    ))
                })
                .flatten(),
            start_time: status.start_time.map_or_else(Timestamp::now, |time| time.0),
            conditions: status.conditions.unwrap_or_default(),
            published: None,
            next_volume_check: Instant::now() + VOLUME_CHECK_INTERVAL,
            exits_sender,
            exits,
            events: Arc::new(KubeletEvents::new(
                context.client.clone(),
                context.node_name.clone(),
            )),
            port_connector: None,
            network: None,
            probe_reports_sender,
            probe_reports,
            context,
            pod,
        }
    }

    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    async fn run(mut self, mut updates: watch::Receiver<Pod>, mut gone: oneshot::Receiver<()>) {
        loop {
            if self.pod.metadata.deletion_timestamp.is_some() {
                self.finish_deletion().await;
                return;
            }
            let mut wake = self.advance().await;
            if !self.publish().await {
                wake = wake.min(Instant::now() + RETRY_INTERVAL);
            }
            tokio::select! {
                Some(message) = self.exits.recv() => self.container_exited(message),
                Some(report) = self.probe_reports.recv() => self.probe_reported(report).await,
                Ok(()) = &mut gone => {
                    // The pod is gone from the API without a graceful deletion.
                    self.stop_everything("the pod was deleted");
                    self.clean_up();
                    return;
                }
                changed = updates.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.pod = updates.borrow_and_update().clone();
                    self.resend_if_conditions_were_overwritten();
                }
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Does whatever can be done now and says when to look again.
    async fn advance(&mut self) -> Instant {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(3600);
        if self.stage == Stage::Finished {
            return wake;
        }
        if let Some(deadline) = self.active_deadline(now) {
            if now >= deadline {
                self.fail(
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                );
                return wake;
            }
            wake = wake.min(deadline);
        }
        if !self.attach_network() {
            return now + NETWORK_RETRY_INTERVAL;
        }
        if self.stage == Stage::MountingVolumes {
            if !self.mount_volumes().await {
                return now + RETRY_INTERVAL;
            }
            self.stage = Stage::Initializing;
        }
        if self.stage != Stage::MountingVolumes && now >= self.next_volume_check {
            self.check_volumes().await;
            if self.stage == Stage::Finished {
                return wake;
            }
        }
        wake = wake.min(self.next_volume_check);
        if self.stage == Stage::Initializing {
            if self.phase() == "Failed" {
                self.finish();
                return wake;
            }
            match self.init.iter().position(|record| !record.initialized()) {
                None => {
                    self.stage = Stage::Running;
                    self.initialized = true;
                }
                Some(index) => {
                    for record in &mut self.app {
                        if !record.ever_started {
                            record.wait("PodInitializing", None);
                        }
                    }
                    // The sidecars before it keep running (restarted when they end)
                    // while this one starts or runs.
                    let mut due = self.sidecars_due(index);
                    if !self.init[index].is_running() {
                        due.push(index);
                    }
                    return self.start_due(true, due, wake).await;
                }
            }
        }
        let due: Vec<usize> = (0..self.app.len())
            .filter(|&index| self.app_container_should_run(index))
            .collect();
        if due.is_empty() && self.app.iter().all(|record| !record.is_running()) {
            // The app containers are done for good: the sidecars are stopped and the pod
            // completes, as a Job's pod with a sidecar does.
            self.finish();
            return wake;
        }
        let sidecars = self.sidecars_due(self.init.len());
        wake = self.start_due(true, sidecars, wake).await;
        self.start_due(false, due, wake).await
    }

    /// The sidecars among the first `before` init containers that are not running: each
    /// is started again (after its back-off) whatever the pod's restartPolicy.
    fn sidecars_due(&self, before: usize) -> Vec<usize> {
        (0..before.min(self.init.len()))
            .filter(|&index| self.init[index].sidecar && !self.init[index].is_running())
            .collect()
    }

    fn phase(&self) -> &'static str {
        pod_phase(&self.init, &self.app, self.restart, self.initialized)
    }

    fn app_container_should_run(&self, index: usize) -> bool {
        let record = &self.app[index];
        match &record.phase {
            ContainerPhase::Running { .. } => false,
            ContainerPhase::Terminated(terminated) => self.restart.restarts(terminated.exit_code),
            ContainerPhase::Waiting { .. } => true,
        }
    }

    /// When the pod's `activeDeadlineSeconds` runs out, counted from its start time.
    fn active_deadline(&self, now: Instant) -> Option<Instant> {
        let seconds = self.pod.spec.as_ref()?.active_deadline_seconds?;
        let elapsed = Timestamp::now().duration_since(self.start_time);
        let remaining = jiff::SignedDuration::from_secs(seconds) - elapsed;
        let remaining = Duration::try_from(remaining).unwrap_or(Duration::ZERO);
        Some(now + remaining)
    }

    /// Ends the pod as a whole: every container is stopped and the pod fails.
    fn fail(&mut self, reason: &str, message: &str) {
        self.stop_everything(message);
        self.failure = Some((reason.to_owned(), message.to_owned()));
        self.stage = Stage::Finished;
    }

    /// Sets up the pod's volumes; a failure leaves the containers waiting in
    /// `ContainerCreating` with the reason, and is retried.
    async fn mount_volumes(&mut self) -> bool {
        let result = PodVolumes::prepare(
            &self.context.volume_host,
            &self.pod,
            &self.context.allocatable,
            self.context.volume_sources.as_ref(),
        )
        .await;
        match result {
            Ok(volumes) => {
                self.volumes = Some(volumes);
                true
            }
            Err(error) => {
                let message = error.to_string();
                tracing::info!(pod = %self.name(), %message, "cannot mount the pod's volumes");
                self.events.record(
                    &ContainerReference::pod(&self.pod),
                    EventType::Warning,
                    "FailedMount",
                    message.clone(),
                );
                for record in self.init.iter_mut().chain(self.app.iter_mut()) {
                    if !record.ever_started {
                        record.wait("ContainerCreating", Some(message.clone()));
                    }
                }
                false
            }
        }
    }

    /// Propagates ConfigMap, Secret and downward API changes into the pod's volumes and
    /// evicts the pod if an emptyDir outgrew its sizeLimit, as the kubelet does.
    async fn check_volumes(&mut self) {
        self.next_volume_check = Instant::now() + VOLUME_CHECK_INTERVAL;
        let Some(volumes) = &self.volumes else {
            return;
        };
        if let Err(error) = volumes
            .refresh(&self.pod, self.context.volume_sources.as_ref())
            .await
        {
            tracing::info!(pod = %self.name(), %error, "cannot refresh the pod's volumes");
        }
        if let Some(over_limit) = volumes.empty_dir_usage_over_limit() {
            self.fail("Evicted", &over_limit.eviction_message());
        }
    }
}

/// A duration as Go prints it in the kubelet's messages (`10s`, `1m20s`, `5m0s`).
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 {
        format!("{}m{}s", seconds / 60, seconds % 60)
    } else if seconds > 0 {
        format!("{seconds}s")
    } else {
        format!("{}ms", duration.as_millis())
    }
}
