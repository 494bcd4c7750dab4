//! Graceful termination. A WASI guest has no signals: stopping it is like sending
//! SIGTERM to a process without a handler, which ends at once. So the grace period is
//! for `preStop` hooks, as in Kubernetes: each running container with a hook runs it
//! (an `exec` hook is the container's binary run again with the hook's argv, in the same
//! sandbox; a `sleep` hook waits), and may then finish on its own — a hook is how such a
//! container is told to stop — until the grace period ends. What still runs then is
//! stopped.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler};
use tokio::time::Instant;

use super::PodWorker;
use crate::pod::launch::{LogTarget, prepare_container};

/// The message a container stopped by the pod's deletion ends with.
const POD_DELETED: &str = "the pod is being deleted";

/// Kubernetes' default terminationGracePeriodSeconds.
const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 30;

impl PodWorker {
    pub(super) fn grace_period(&self) -> Duration {
        let seconds = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.termination_grace_period_seconds)
            })
            .unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS);
        Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
    }

    /// Stops the pod's containers as the kubelet does on deletion: a `Killing` event for
    /// each running one, the app containers' preStop hooks, then the app containers, then
    /// the sidecars in reverse order, each after its own preStop hook, all within the
    /// grace period.
    pub(super) async fn stop_gracefully(&mut self) {
        let deadline = Instant::now() + self.grace_period();
        for index in 0..self.app.len() {
            if self.app[index].is_running() {
                self.record_killing(false, index);
            }
        }
        for index in (0..self.init.len()).rev() {
            if self.init[index].is_running() {
                self.record_killing(true, index);
            }
        }
        let (containers, init_containers) = self
            .pod
            .spec
            .as_ref()
            .map(|spec| {
                (
                    spec.containers.clone(),
                    spec.init_containers.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        let with_hooks: Vec<(usize, &Container, &LifecycleHandler)> = containers
            .iter()
            .enumerate()
            .filter(|(index, _)| {
                self.app
                    .get(*index)
                    .is_some_and(|record| record.is_running())
            })
            .filter_map(|(index, container)| {
                let hook = container.lifecycle.as_ref()?.pre_stop.as_ref()?;
                Some((index, container, hook))
            })
            .collect();
        let hooks = with_hooks
            .iter()
            .map(|(_, container, hook)| self.run_hook(container, hook));
        if tokio::time::timeout_at(deadline, join_all(hooks))
            .await
            .is_err()
        {
            tracing::info!(pod = %self.name(), "preStop hooks outlasted the grace period");
        }
        let hooked: Vec<usize> = with_hooks.iter().map(|(index, _, _)| *index).collect();
        while hooked.iter().any(|&index| self.app[index].is_running()) {
            tokio::select! {
                Some(message) = self.exits.recv() => {
                    if self.is_current_run(&message) {
                        let uid = self.uid.clone();
                        let record = self.record_mut(message.init, message.index);
                        record.exited(message.exit, &uid);
                    }
                }
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        for index in 0..self.app.len() {
            self.kill_container(false, index, POD_DELETED);
        }
        for index in (0..self.init.len()).rev() {
            if !self.init[index].is_running() {
                continue;
            }
            let hook = init_containers.get(index).and_then(|container| {
                Some((container, container.lifecycle.as_ref()?.pre_stop.as_ref()?))
            });
            if let Some((container, hook)) = hook
                && tokio::time::timeout_at(deadline, self.run_hook(container, hook))
                    .await
                    .is_err()
            {
                tracing::info!(pod = %self.name(), container = %container.name, "the sidecar's preStop hook outlasted the grace period");
            }
            self.kill_container(true, index, POD_DELETED);
        }
    }

    /// Runs one preStop hook to its end. `httpGet` and `tcpSocket` hooks need the pod
    /// network, which does not exist yet; they are skipped with a log line.
    pub(super) async fn run_hook(&self, container: &Container, hook: &LifecycleHandler) {
        if let Some(sleep) = &hook.sleep {
            tokio::time::sleep(Duration::from_secs(
                u64::try_from(sleep.seconds).unwrap_or(0),
            ))
            .await;
            return;
        }
        let Some(command) = hook.exec.as_ref().and_then(|exec| exec.command.clone()) else {
            tracing::info!(pod = %self.name(), container = %container.name, "preStop hooks other than exec and sleep need the pod network; skipped");
            return;
        };
        let Some(volumes) = &self.volumes else {
            return;
        };
        let hook_container = Container {
            command: Some(command),
            args: None,
            ..container.clone()
        };
        let log_name = format!("{}-prestop", container.name);
        let prepared = prepare_container(
            &self.context,
            &self.pod,
            &hook_container,
            volumes,
            LogTarget {
                name: &log_name,
                instance: 0,
            },
            Arc::default(),
            None,
        )
        .await;
        match prepared {
            Ok(prepared) => {
                let guests = Arc::clone(&self.context.guests);
                let run = self
                    .context
                    .guest_executor
                    .spawn(async move { guests.run(&prepared.compiled, prepared.launch).await });
                match run.await {
                    Ok(exit) if exit.exit_code == 0 => {}
                    Ok(exit) => {
                        tracing::info!(pod = %self.name(), container = %container.name, code = exit.exit_code, "the preStop hook failed")
                    }
                    Err(error) => {
                        tracing::info!(pod = %self.name(), %error, "the preStop hook was stopped")
                    }
                }
            }
            Err(_) => {
                tracing::info!(pod = %self.name(), container = %container.name, "the preStop hook cannot start")
            }
        }
    }
}
