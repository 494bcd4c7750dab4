//! Stopping a pod's containers as the kubelet kills them, with its `Killing` events:
//! the app containers first, then the sidecars in reverse order; and the events the
//! worker records about its containers.

use super::{PodWorker, Stage};
use crate::pod::probes::{ContainerReference, EventType};

impl PodWorker {
    /// Ends the pod's life on the node: whatever still runs (the sidecars, after the
    /// app containers) is stopped, and nothing starts again.
    pub(super) fn finish(&mut self) {
        self.stop_everything("");
        self.stage = Stage::Finished;
    }

    /// Stops every running container as the kubelet kills a pod: the app containers
    /// first, then the sidecars in reverse order. `message` goes into their terminated
    /// state (none when empty).
    pub(super) fn stop_everything(&mut self, message: &str) {
        for index in 0..self.app.len() {
            self.stop_container(false, index, message);
        }
        for index in (0..self.init.len()).rev() {
            self.stop_container(true, index, message);
        }
    }

    /// Stops one container if it runs, with the kubelet's `Killing` event.
    pub(super) fn stop_container(&mut self, init: bool, index: usize, message: &str) {
        if self.record_mut(init, index).is_running() {
            self.record_killing(init, index);
            self.kill_container(init, index, message);
        }
    }

    /// The kubelet's `Killing` event for a container it is stopping.
    pub(super) fn record_killing(&mut self, init: bool, index: usize) {
        let name = self.record_mut(init, index).name.clone();
        self.record_event(
            init,
            &name,
            EventType::Normal,
            "Killing",
            format!("Stopping container {name}"),
        );
    }

    /// Stops one container if it runs; its run is no longer current, so an exit it sent
    /// meanwhile is ignored.
    pub(super) fn kill_container(&mut self, init: bool, index: usize, message: &str) {
        let uid = self.uid.clone();
        let record = self.record_mut(init, index);
        if record.is_running() {
            record.kill(&uid, message);
            self.runs
                .retain(|&(is_init, at, _)| !(is_init == init && at == index));
        }
    }

    /// Records one of the kubelet's events about a container of this pod.
    pub(super) fn record_event(
        &self,
        init: bool,
        container_name: &str,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let reference = ContainerReference::of(&self.pod, container_name, init);
        self.events.record(&reference, event_type, reason, message);
    }
}
