//! The pod worker's side of container probes: starting a run's probes, taking their
//! reports into the containers' records (started, ready), and stopping a container that
//! failed its liveness or startup probe, to be restarted as its pod's restart policy says.

use std::time::Duration;

use k8s_openapi::api::core::v1::Container;

use tokio::time::Instant;

use super::PodWorker;
use crate::pod::probes::{
    ContainerProbeSpecs, ContainerReference, EventType, ExecSandbox, ProbeKind, ProbeReport,
    ProbeTarget, start_container_probes,
};
use crate::pod::status::Restart;

impl PodWorker {
    /// The spec of an app container (`init` false) or an init container.
    fn container_spec(&self, init: bool, index: usize) -> Option<Container> {
        let spec = self.pod.spec.as_ref()?;
        let containers = if init {
            spec.init_containers.as_ref()?
        } else {
            &spec.containers
        };
        containers.get(index).cloned()
    }

    /// Starts the probes of the run `run` of the app container or sidecar at `index`,
    /// which just started.
    pub(super) fn start_probes(
        &mut self,
        init: bool,
        index: usize,
        run: u64,
        sandbox: ExecSandbox,
    ) {
        let Some(container) = self.container_spec(init, index) else {
            return;
        };
        let target = ProbeTarget {
            reference: ContainerReference::of(&self.pod, &container.name, init),
            container,
            container_index: index,
            run,
            started_at: Instant::now(),
            connector: self.port_connector.clone(),
            sandbox,
            events: std::sync::Arc::clone(&self.events),
            reports: self.probe_reports_sender.clone(),
        };
        let records = if init { &mut self.init } else { &mut self.app };
        if let Some(record) = records.get_mut(index) {
            record.probes = start_container_probes(target);
        }
    }

    /// Takes a probe's result into its container's record, unless it is about a run that
    /// has ended since.
    pub(super) async fn probe_reported(&mut self, report: ProbeReport) {
        // Runs are numbered across the pod's containers, so the run names the container.
        let Some(&(init, index, _)) = self.runs.iter().find(|(_, _, run)| *run == report.run)
        else {
            return;
        };
        let Some(probes) = self.record_mut(init, index).probes.as_mut() else {
            return;
        };
        match (report.kind, report.passed) {
            (ProbeKind::Startup, true) => probes.started = true,
            (ProbeKind::Readiness, ready) => probes.ready = ready,
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Startup | ProbeKind::Liveness, false) => {
                self.stop_unhealthy(init, index, report.kind).await;
            }
        }
    }

    /// Stops a container that failed its liveness or startup probe as the kubelet does:
    /// a `Killing` event, its preStop hook within the grace period (the probe's own
    /// `terminationGracePeriodSeconds`, or the pod's), then the guest is stopped. It is
    /// restarted (after its back-off) unless the restart policy is Never.
    async fn stop_unhealthy(&mut self, init: bool, index: usize, kind: ProbeKind) {
        let Some(container) = self.container_spec(init, index) else {
            return;
        };
        // A sidecar is restarted whatever the pod's restartPolicy.
        let restarts = init || self.restart != Restart::Never;
        let probe = match kind {
            ProbeKind::Startup => "startup",
            ProbeKind::Liveness | ProbeKind::Readiness => "liveness",
        };
        let mut message = format!("Container {} failed {probe} probe", container.name);
        if restarts {
            message.push_str(", will be restarted");
        }
        tracing::info!(pod = %self.name(), container = %container.name, %message, "stopping an unhealthy container");
        self.record_event(
            init,
            &container.name,
            EventType::Normal,
            "Killing",
            message.clone(),
        );
        let specs = ContainerProbeSpecs::of(&container);
        let probe_grace_period = match kind {
            ProbeKind::Startup => specs.startup,
            ProbeKind::Liveness | ProbeKind::Readiness => specs.liveness,
        }
        .and_then(|spec| spec.termination_grace_period);
        let grace_period: Duration = probe_grace_period.unwrap_or_else(|| self.grace_period());
        if let Some(hook) = container
            .lifecycle
            .as_ref()
            .and_then(|lifecycle| lifecycle.pre_stop.as_ref())
            && tokio::time::timeout(grace_period, self.run_hook(&container, hook))
                .await
                .is_err()
        {
            tracing::info!(pod = %self.name(), container = %container.name, "the preStop hook outlasted the grace period");
        }
        // A container that its hook told to stop may have ended by itself meanwhile; then
        // its own exit stands.
        while let Ok(exit) = self.exits.try_recv() {
            self.container_exited(exit);
        }
        let uid = self.uid.clone();
        let record = self.record_mut(init, index);
        if !record.is_running() {
            return;
        }
        record.kill(&uid, &message);
        // The stopped run is no longer current, so an exit it sent meanwhile is ignored.
        self.runs
            .retain(|&(is_init, at, _)| !(is_init == init && at == index));
        if restarts {
            self.back_off_restart(init, index);
        }
    }
}
