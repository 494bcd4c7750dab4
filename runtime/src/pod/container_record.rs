//! One container of a pod as the node agent tracks it: its state machine (Waiting →
//! Running → Terminated → Waiting again when it restarts), its restart count and its
//! back-offs, and how that reads as a Kubernetes `ContainerStatus`.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffSettings};
use super::probes::ContainerProbes;
use crate::guest::GuestExit;
use crate::limits::cpu::CpuUsage;

#[derive(Clone, Debug, PartialEq)]
pub struct TerminatedRecord {
    pub exit_code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    pub container_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContainerPhase {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(TerminatedRecord),
}

pub struct ContainerRecord {
    pub name: String,
    /// A native sidecar: an init container with `restartPolicy: Always`, which keeps
    /// running beside the app containers and is restarted whenever it ends.
    pub sidecar: bool,
    pub image: String,
    pub image_id: Option<String>,
    pub phase: ContainerPhase,
    pub last_terminated: Option<TerminatedRecord>,
    pub restart_count: i32,
    /// Whether this container has ever been started on this node (or, after an agent
    /// restart, before it): the first start is not a restart.
    pub ever_started: bool,
    pub restart_backoff: Backoff,
    pub pull_backoff: Backoff,
    /// The container may not be started again before this instant (a back-off).
    pub not_before: Option<Instant>,
    pub started_instant: Option<Instant>,
    pub running: Option<AbortHandle>,
    pub cpu_usage: Arc<CpuUsage>,
    /// The current run's probes (none when the container has none, or is not running).
    pub probes: Option<ContainerProbes>,
}

impl ContainerRecord {
    pub fn new(name: &str, image: &str, backoff: BackoffSettings) -> ContainerRecord {
        ContainerRecord {
            name: name.to_owned(),
            sidecar: false,
            image: image.to_owned(),
            image_id: None,
            phase: ContainerPhase::Waiting {
                reason: "ContainerCreating".to_owned(),
                message: None,
            },
            last_terminated: None,
            restart_count: 0,
            ever_started: false,
            restart_backoff: Backoff::for_restarts(backoff),
            pull_backoff: Backoff::for_pulls(backoff),
            not_before: None,
            started_instant: None,
            running: None,
            cpu_usage: Arc::new(CpuUsage::default()),
            probes: None,
        }
    }

    pub fn container_id(&self, pod_uid: &str) -> String {
        format!("wasmkube://{pod_uid}-{}-{}", self.name, self.restart_count)
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, ContainerPhase::Running { .. })
    }

    /// Whether the container runs and its startup probe, if it has one, has succeeded:
    /// its `started` status, and the gate for its liveness and readiness probes.
    pub fn is_started(&self) -> bool {
        self.is_running() && self.probes.as_ref().is_none_or(|probes| probes.started)
    }

    /// Whether an app container is ready: started, and its readiness probe, if it has
    /// one, has succeeded.
    pub fn is_ready(&self) -> bool {
        self.is_started() && self.probes.as_ref().is_none_or(|probes| probes.ready)
    }

    /// Whether a sidecar lets the next init container start: it has started (and its
    /// startup probe, if any, succeeded), or it had and has ended since, to be restarted
    /// beside the rest as the kubelet does.
    pub fn sidecar_has_started(&self) -> bool {
        self.is_started() || (self.ever_started && !self.is_running())
    }

    /// Whether an init container is out of the way of the next one: a regular one
    /// succeeded, a sidecar started.
    pub fn initialized(&self) -> bool {
        if self.sidecar {
            self.sidecar_has_started()
        } else {
            self.succeeded()
        }
    }

    pub fn terminated(&self) -> Option<&TerminatedRecord> {
        match &self.phase {
            ContainerPhase::Terminated(record) => Some(record),
            _ => None,
        }
    }

    /// Whether the container ran to completion with exit code 0 (what an init container
    /// must do before the next one starts).
    pub fn succeeded(&self) -> bool {
        self.terminated()
            .is_some_and(|terminated| terminated.exit_code == 0)
    }

    pub fn wait(&mut self, reason: &str, message: Option<String>) {
        self.phase = ContainerPhase::Waiting {
            reason: reason.to_owned(),
            message,
        };
    }

    /// Marks the container started. A start after an earlier run counts as a restart, and
    /// the earlier run becomes `lastState`.
    pub fn started(&mut self, running: AbortHandle) {
        if self.ever_started {
            self.restart_count += 1;
        }
        if let ContainerPhase::Terminated(record) = &self.phase {
            self.last_terminated = Some(record.clone());
        }
        self.ever_started = true;
        self.phase = ContainerPhase::Running {
            started_at: Timestamp::now(),
        };
        self.started_instant = Some(Instant::now());
        self.running = Some(running);
        self.not_before = None;
    }

    /// Records how the running guest ended.
    pub fn exited(&mut self, exit: GuestExit, pod_uid: &str) {
        let started_at = match &self.phase {
            ContainerPhase::Running { started_at } => Some(*started_at),
            _ => None,
        };
        if let Some(started) = self.started_instant {
            self.restart_backoff
                .forget_if_ran_well(started, Instant::now());
        }
        self.running = None;
        // The run's probes stop with it.
        self.probes = None;
        self.phase = ContainerPhase::Terminated(TerminatedRecord {
            exit_code: exit.exit_code,
            reason: exit.reason.to_owned(),
            message: exit.message,
            started_at,
            finished_at: Timestamp::now(),
            container_id: Some(self.container_id(pod_uid)),
        });
    }

    /// Stops the running guest (the pod is being deleted or failed), recording it as
    /// ended by SIGTERM: a process without a SIGTERM handler, which is what every WASI
    /// guest is, exits with 143.
    pub fn kill(&mut self, pod_uid: &str, reason: &str) {
        if let Some(running) = self.running.take() {
            running.abort();
            self.exited(
                GuestExit {
                    exit_code: 143,
                    reason: "Error",
                    message: (!reason.is_empty()).then(|| reason.to_owned()),
                },
                pod_uid,
            );
        }
    }

    pub fn status(&self, pod_uid: &str, ready: bool) -> ContainerStatus {
        let state = match &self.phase {
            ContainerPhase::Waiting { reason, message } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..Default::default()
            },
            ContainerPhase::Running { started_at } => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*started_at)),
                }),
                ..Default::default()
            },
            ContainerPhase::Terminated(record) => ContainerState {
                terminated: Some(terminated_state(record)),
                ..Default::default()
            },
        };
        let last_state = self.last_terminated.as_ref().map(|record| ContainerState {
            terminated: Some(terminated_state(record)),
            ..Default::default()
        });
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone().unwrap_or_default(),
            container_id: self.ever_started.then(|| self.container_id(pod_uid)),
            ready,
            started: Some(self.is_started()),
            restart_count: self.restart_count,
            state: Some(state),
            last_state: Some(last_state.unwrap_or_default()),
            ..Default::default()
        }
    }
}

fn terminated_state(record: &TerminatedRecord) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: record.exit_code,
        reason: Some(record.reason.clone()),
        message: record.message.clone(),
        started_at: record.started_at.map(Time),
        finished_at: Some(Time(record.finished_at)),
        container_id: record.container_id.clone(),
        ..Default::default()
    }
}
