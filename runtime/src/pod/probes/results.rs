//! What probes find: one run's outcome, the consecutive-result counting that turns
//! outcomes into a result once a threshold is met, and what a container's probes have
//! established so far (started, ready).

use tokio::task::AbortHandle;

use super::spec::ProbeKind;

/// One run of a probe, as the kubelet's `probe.Result` with its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// A success worth a warning event: an httpGet answered with a redirect the probe
    /// did not follow.
    Warning(String),
    /// The check ran and failed; the text goes into the `Unhealthy` event.
    Failure(String),
    /// The check could not be run at all (no pod network, an unknown port name, an
    /// unsupported handler). Like the kubelet's "unknown" result it is reported in an
    /// event and otherwise thrown away: it counts neither as a success nor as a failure.
    Errored(String),
}

impl ProbeOutcome {
    /// Whether the run counts as passed or failed; `None` for an errored run.
    pub fn passed(&self) -> Option<bool> {
        match self {
            ProbeOutcome::Success | ProbeOutcome::Warning(_) => Some(true),
            ProbeOutcome::Failure(_) => Some(false),
            ProbeOutcome::Errored(_) => None,
        }
    }
}

/// A probe's result once its threshold was met, sent to the pod worker (the only writer
/// of the pod's status). `run` tells a report about an earlier run of the container,
/// which is ignored, from one about the current run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    pub container_index: usize,
    pub run: u64,
    pub kind: ProbeKind,
    pub passed: bool,
}

/// Consecutive results, as the kubelet's probe worker counts them: a result stands once
/// it has come `successThreshold` (or `failureThreshold`) times in a row.
#[derive(Clone, Debug)]
pub struct ThresholdCounter {
    success_threshold: u32,
    failure_threshold: u32,
    last: Option<bool>,
    run: u32,
}

impl ThresholdCounter {
    pub fn new(success_threshold: u32, failure_threshold: u32) -> ThresholdCounter {
        ThresholdCounter {
            success_threshold: success_threshold.max(1),
            failure_threshold: failure_threshold.max(1),
            last: None,
            run: 0,
        }
    }

    /// Counts one passed or failed run; the result when the run of equal results has
    /// reached its threshold (again on every further equal run), `None` below it.
    pub fn observe(&mut self, passed: bool) -> Option<bool> {
        if self.last == Some(passed) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(passed);
            self.run = 1;
        }
        let threshold = if passed {
            self.success_threshold
        } else {
            self.failure_threshold
        };
        (self.run >= threshold).then_some(passed)
    }
}

/// The probes of one run of a container: their tasks, stopped when this is dropped (the
/// container stopped), and what they established.
#[derive(Debug)]
pub struct ContainerProbes {
    /// Whether the startup probe has succeeded (true from the start without one).
    pub started: bool,
    /// Whether the readiness probe's result is success (true from the start without one).
    pub ready: bool,
    tasks: Vec<AbortHandle>,
}

impl ContainerProbes {
    pub fn new(started: bool, ready: bool, tasks: Vec<AbortHandle>) -> ContainerProbes {
        ContainerProbes {
            started,
            ready,
            tasks,
        }
    }
}

impl Drop for ContainerProbes {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_stands_once_it_came_threshold_times_in_a_row() {
        let mut counter = ThresholdCounter::new(2, 3);
        let results: Vec<Option<bool>> = [
            true, true, true, false, false, true, false, false, false, false,
        ]
        .into_iter()
        .map(|passed| counter.observe(passed))
        .collect();
        assert_eq!(
            results,
            [
                None,
                Some(true),
                Some(true),
                None,
                None,
                None,
                None,
                None,
                Some(false),
                Some(false)
            ]
        );
    }

    #[test]
    fn thresholds_of_one_take_every_result_at_once() {
        let mut counter = ThresholdCounter::new(1, 1);
        assert_eq!(counter.observe(false), Some(false));
        assert_eq!(counter.observe(true), Some(true));
        let mut zero = ThresholdCounter::new(0, 0);
        assert_eq!(zero.observe(false), Some(false));
    }

    #[test]
    fn errored_runs_count_neither_way() {
        assert_eq!(ProbeOutcome::Errored("no network".into()).passed(), None);
        assert_eq!(
            ProbeOutcome::Warning("redirect".into()).passed(),
            Some(true)
        );
        assert_eq!(ProbeOutcome::Failure("503".into()).passed(), Some(false));
    }
}
