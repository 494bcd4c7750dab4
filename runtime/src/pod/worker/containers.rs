//! Starting a pod's containers and following their ends: preparing each start (pull,
//! compile, environment, mounts) when its back-off has passed, running the guest on the
//! node's guest runtime, recording a failed start as the kubelet's Waiting reason, and
//! a container's exit with the restart it leads to under the pod's restartPolicy.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{ContainerExitMessage, PodWorker, go_duration};
use crate::container::libtest_shards::{requested_shard, run_shard};
use crate::pod::container_record::{ContainerPhase, ContainerRecord};
use crate::pod::launch::{
    LogTarget, PreparedContainer, StartEvents, StartFailure, prepare_container,
};
use crate::pod::probes::{ContainerReference, EventType, ExecSandbox};
use crate::pod::status::Restart;
use crate::resource_usage::ContainerIdentity;

impl PodWorker {
    /// Starts the containers at `indices` whose back-off has passed (all at once: their
    /// images are pulled and compiled concurrently).
    pub(super) async fn start_due(
        &mut self,
        init: bool,
        indices: Vec<usize>,
        mut wake: Instant,
    ) -> Instant {
        if indices.is_empty() {
            return wake;
        }
        let now = Instant::now();
        let mut ready = Vec::new();
        for index in indices {
            let record = self.record_mut(init, index);
            match record.not_before {
                Some(not_before) if not_before > now => {
                    if let ContainerPhase::Waiting { reason, message } = &record.phase
                        && reason == "ErrImagePull"
                    {
                        let back_off = format!("Back-off pulling image \"{}\"", record.image);
                        let message =
                            format!("{back_off}: {}", message.clone().unwrap_or_default());
                        record.wait("ImagePullBackOff", Some(message));
                        let name = record.name.clone();
                        self.record_event(init, &name, EventType::Normal, "BackOff", back_off);
                        self.record_event(
                            init,
                            &name,
                            EventType::Warning,
                            "Failed",
                            "Error: ImagePullBackOff".to_owned(),
                        );
                    }
                    wake = wake.min(not_before);
                }
                _ => ready.push(index),
            }
        }
        let Some(volumes) = self.volumes.as_ref() else {
            return wake;
        };
        let spec = self.pod.spec.clone().unwrap_or_default();
        let containers = if init {
            spec.init_containers.unwrap_or_default()
        } else {
            spec.containers
        };
        let start_events: Vec<StartEvents<'_>> = ready
            .iter()
            .map(|&index| StartEvents {
                events: &self.events,
                reference: ContainerReference::of(&self.pod, &containers[index].name, init),
            })
            .collect();
        let preparations = ready.iter().zip(&start_events).map(|(&index, events)| {
            let record = if init {
                &self.init[index]
            } else {
                &self.app[index]
            };
            let log_target = LogTarget {
                name: &record.name,
                instance: record.restart_count + i32::from(record.ever_started),
            };
            prepare_container(
                &self.context,
                &self.pod,
                &containers[index],
                volumes,
                log_target,
                Arc::clone(&record.cpu_usage),
                Some(events),
            )
        });
        let prepared = futures::future::join_all(preparations).await;
        for (index, result) in ready.into_iter().zip(prepared) {
            match result {
                Ok(mut prepared) => {
                    prepared.launch.network = self.pod_network();
                    self.spawn_guest(init, index, prepared);
                }
                Err(failure) => {
                    let retry_at = self.start_failed(init, index, failure);
                    // ErrImagePull turns into ImagePullBackOff shortly, as the kubelet shows it.
                    wake = wake
                        .min(retry_at)
                        .min(Instant::now() + Duration::from_millis(500));
                }
            }
        }
        wake
    }

    pub(super) fn record_mut(&mut self, init: bool, index: usize) -> &mut ContainerRecord {
        if init {
            &mut self.init[index]
        } else {
            &mut self.app[index]
        }
    }

    pub(super) fn spawn_guest(&mut self, init: bool, index: usize, prepared: PreparedContainer) {
        let run = self.next_run;
        self.next_run += 1;
        let guests = Arc::clone(&self.context.guests);
        let exits = self.exits_sender.clone();
        let identity = ContainerIdentity {
            namespace: self.namespace().to_owned(),
            pod: self.name().to_owned(),
            container: self.record_mut(init, index).name.clone(),
        };
        // The run is reported from now until its task ends, whether the guest exited or
        // the task was stopped.
        let registration = self.context.resource_usage.register(
            identity,
            Arc::clone(&prepared.launch.cpu_usage),
            Arc::clone(&prepared.launch.memory_usage),
        );
        // Exec probes run the container's image again in its sandbox. Init containers
        // have no probes, except sidecars.
        let has_probes = !init || self.record_mut(init, index).sidecar;
        let probe_sandbox = has_probes.then(|| {
            ExecSandbox::for_launch(
                Arc::clone(&self.context.guests),
                self.context.guest_executor.clone(),
                Arc::clone(&prepared.compiled),
                &prepared.launch,
            )
        });
        // An app container of a pod that asks for it runs as one shard of a libtest binary.
        let shard = (!init).then(|| requested_shard(&self.pod)).flatten();
        // `kubectl exec` runs commands in the same sandbox while this run lasts.
        let exec_container = self.record_mut(init, index).name.clone();
        let exec_registration = self.context.exec_sandboxes.register(
            &self.uid,
            &exec_container,
            ExecSandbox::for_launch(
                Arc::clone(&self.context.guests),
                self.context.guest_executor.clone(),
                Arc::clone(&prepared.compiled),
                &prepared.launch,
            ),
        );
        let task = self.context.guest_executor.spawn(async move {
            let _registration = registration;
            let _exec_registration = exec_registration;
            let exit = match shard {
                None => guests.run(&prepared.compiled, prepared.launch).await,
                Some(shard) => run_shard(&guests, &prepared.compiled, prepared.launch, shard).await,
            };
            // The worker may be gone (the pod was deleted); then nobody needs the exit.
            let _ = exits.send(ContainerExitMessage {
                init,
                index,
                run,
                exit,
            });
        });
        self.runs
            .retain(|(is_init, at, _)| !(*is_init == init && *at == index));
        self.runs.push((init, index, run));
        let record = self.record_mut(init, index);
        record.image_id = Some(prepared.image_id);
        record.started(task.abort_handle());
        let name = record.name.clone();
        self.record_event(
            init,
            &name,
            EventType::Normal,
            "Created",
            format!("Created container: {name}"),
        );
        self.record_event(
            init,
            &name,
            EventType::Normal,
            "Started",
            format!("Started container {name}"),
        );
        if let Some(sandbox) = probe_sandbox {
            self.start_probes(init, index, run, sandbox);
        }
    }

    pub(super) fn start_failed(
        &mut self,
        init: bool,
        index: usize,
        failure: StartFailure,
    ) -> Instant {
        // Image failures recorded their events while pulling; the others are the
        // kubelet's "Error: MESSAGE".
        if let StartFailure::Config(message) | StartFailure::Create(message) = &failure {
            let name = self.record_mut(init, index).name.clone();
            self.record_event(
                init,
                &name,
                EventType::Warning,
                "Failed",
                format!("Error: {message}"),
            );
        }
        let record = self.record_mut(init, index);
        let (reason, message, delay) = match failure {
            StartFailure::Image { reason, message } => {
                (reason, message, record.pull_backoff.next_delay())
            }
            StartFailure::Config(message) => (
                "CreateContainerConfigError",
                message,
                record.pull_backoff.next_delay(),
            ),
            StartFailure::Create(message) => (
                "CreateContainerError",
                message,
                record.pull_backoff.next_delay(),
            ),
        };
        tracing::info!(container = %record.name, reason, %message, "container cannot start");
        record.wait(reason, Some(message));
        let retry_at = Instant::now() + delay;
        record.not_before = Some(retry_at);
        retry_at
    }

    /// Whether an exit is from the container's current run (not one stopped before).
    pub(super) fn is_current_run(&self, message: &ContainerExitMessage) -> bool {
        self.is_current(message.init, message.index, message.run)
    }

    pub(super) fn is_current(&self, init: bool, index: usize, run: u64) -> bool {
        self.runs.contains(&(init, index, run))
    }

    pub(super) fn container_exited(&mut self, message: ContainerExitMessage) {
        if !self.is_current_run(&message) {
            return;
        }
        let uid = self.uid.clone();
        let restart = self.restart;
        let record = self.record_mut(message.init, message.index);
        let exit_code = message.exit.exit_code;
        record.exited(message.exit, &uid);
        // A sidecar is restarted whenever it ends, whatever the pod's restartPolicy.
        let restarts = if record.sidecar {
            true
        } else if message.init {
            exit_code != 0 && restart != Restart::Never
        } else {
            restart.restarts(exit_code)
        };
        if restarts {
            self.back_off_restart(message.init, message.index);
        }
    }

    /// Holds back the restart of a container that ended for its restart back-off (none
    /// the first time), showing `CrashLoopBackOff` meanwhile.
    pub(super) fn back_off_restart(&mut self, init: bool, index: usize) {
        let pod_key = format!("{}_{}({})", self.name(), self.namespace(), self.uid);
        let record = self.record_mut(init, index);
        let delay = record.restart_backoff.next_delay();
        if delay.is_zero() {
            return;
        }
        if let ContainerPhase::Terminated(terminated) = &record.phase {
            record.last_terminated = Some(terminated.clone());
        }
        let message = format!(
            "back-off {} restarting failed container={} pod={pod_key}",
            go_duration(delay),
            record.name
        );
        record.wait("CrashLoopBackOff", Some(message));
        record.not_before = Some(Instant::now() + delay);
        let name = record.name.clone();
        self.record_event(
            init,
            &name,
            EventType::Warning,
            "BackOff",
            format!("Back-off restarting failed container {name} in pod {pod_key}"),
        );
    }
}
