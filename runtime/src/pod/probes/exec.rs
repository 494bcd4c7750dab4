//! exec probes. A WASI guest cannot run a second process inside itself, so "running a
//! command in the container" is the container's image run again as a new guest with the
//! probe's command as its argv, in the container's sandbox: the same mounts, environment,
//! working directory, limits and pod network. Exit code 0 passes; otherwise the guest's output (stdout
//! and stderr, up to 10 KiB, kept out of the container's log) is the failure message.

use std::sync::Arc;
use std::time::Duration;

use crate::attach::GuestStdin;
use crate::guest::{
    CapturedOutput, CompiledGuest, GuestExit, GuestLaunch, GuestMount, GuestOutput, GuestRuntime,
};
use crate::limits::cpu::CpuQuota;
use crate::network::PodNetwork;

use super::results::ProbeOutcome;

/// How much of an exec probe's output is kept: the kubelet's limit.
const MAX_OUTPUT_BYTES: usize = 10 * 1024;

/// What an exec probe's guest shares with its container's run.
#[derive(Clone)]
pub struct ExecSandbox {
    pub guests: Arc<GuestRuntime>,
    /// The guests' own runtime, where the probe's guest runs like the container's.
    pub executor: tokio::runtime::Handle,
    pub compiled: Arc<CompiledGuest>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub mounts: Vec<GuestMount>,
    pub memory_limit_bytes: u64,
    pub cpu_quota: Option<CpuQuota>,
    /// The pod's network, so that a probe's command reaches the pod's own ports on
    /// localhost as a command run in the container would.
    pub network: Option<Arc<PodNetwork>>,
}

impl ExecSandbox {
    /// Takes what a container's launch shares with its probes.
    pub fn for_launch(
        guests: Arc<GuestRuntime>,
        executor: tokio::runtime::Handle,
        compiled: Arc<CompiledGuest>,
        launch: &GuestLaunch,
    ) -> ExecSandbox {
        ExecSandbox {
            guests,
            executor,
            compiled,
            env: launch.env.clone(),
            working_dir: launch.working_dir.clone(),
            mounts: launch.mounts.clone(),
            memory_limit_bytes: launch.memory_limit_bytes,
            cpu_quota: launch.cpu_quota,
            network: launch.network.clone(),
        }
    }

    /// A launch of `argv` in this sandbox, the container's image run again as a new
    /// guest: an exec probe's, or `kubectl exec`'s (`crate::exec`). It has limits of its
    /// own, equal to the container's, and serves no HTTP port.
    pub fn command_launch(
        &self,
        argv: Vec<String>,
        output: GuestOutput,
        stdin: Option<Arc<GuestStdin>>,
    ) -> GuestLaunch {
        GuestLaunch {
            argv,
            env: self.env.clone(),
            working_dir: self.working_dir.clone(),
            mounts: self.mounts.clone(),
            output,
            memory_limit_bytes: self.memory_limit_bytes,
            cpu_quota: self.cpu_quota,
            cpu_usage: Arc::default(),
            memory_usage: Arc::default(),
            network: self.network.clone(),
            http_port: None,
            stdin,
        }
    }

    /// Runs a launch on the guests' runtime.
    pub fn spawn(&self, launch: GuestLaunch) -> tokio::task::JoinHandle<GuestExit> {
        let guests = Arc::clone(&self.guests);
        let compiled = Arc::clone(&self.compiled);
        self.executor
            .spawn(async move { guests.run(&compiled, launch).await })
    }
}

pub async fn run_exec_probe(
    sandbox: &ExecSandbox,
    command: &[String],
    timeout: Duration,
) -> ProbeOutcome {
    if command.is_empty() {
        return ProbeOutcome::Errored("the exec probe has no command".to_owned());
    }
    let output = CapturedOutput::new(MAX_OUTPUT_BYTES);
    let launch = sandbox.command_launch(
        command.to_vec(),
        GuestOutput::Captured(output.clone()),
        None,
    );
    let mut run = sandbox.spawn(launch);
    match tokio::time::timeout(timeout, &mut run).await {
        Err(_) => {
            // Stopping the task drops the guest at its next yield point.
            run.abort();
            // The kubelet's wording for an exec probe that outlived timeoutSeconds.
            ProbeOutcome::Failure(format!("command {:?} timed out", command.join(" ")))
        }
        Ok(Err(error)) => ProbeOutcome::Errored(format!("the probe's guest stopped: {error}")),
        Ok(Ok(exit)) if exit.reason == "StartError" => ProbeOutcome::Errored(
            exit.message
                .unwrap_or_else(|| "the probe's guest could not start".to_owned()),
        ),
        Ok(Ok(exit)) if exit.exit_code == 0 => ProbeOutcome::Success,
        Ok(Ok(exit)) => {
            let text = output.text();
            // A guest that trapped or ran out of memory may have printed nothing; then
            // the trap is the message. A plain failing exit without output has none, as
            // with the kubelet.
            if text.is_empty() {
                ProbeOutcome::Failure(exit.message.unwrap_or_default())
            } else {
                ProbeOutcome::Failure(text)
            }
        }
    }
}
