//! The delay before a failed pod is replaced: 10 s after the first failure since the last
//! success, doubling per further failure up to a maximum (`backoff_utils.go`). Kubernetes
//! keeps the failure count in memory and loses it on a restart; here it is read from the
//! Job's finished pods on every reconcile, which gives the same answer while the pods
//! exist and survives a restart of the controller manager.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;

/// The back-off's base and ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodFailureBackoff {
    pub base: Duration,
    pub maximum: Duration,
}

/// When the pod finished (`getFinishedTime`): the last container's finish time once all
/// have terminated, else when Ready turned False, else when it was deleted, else when it
/// was created.
pub fn finished_time(pod: &Pod) -> Timestamp {
    finish_time_from_containers(pod)
        .or_else(|| finish_time_from_ready_false(pod))
        .or_else(|| finish_time_from_deletion(pod))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|time| time.0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn finish_time_from_containers(pod: &Pod) -> Option<Timestamp> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let mut latest: Option<Timestamp> = None;
    for status in statuses {
        let finished = status
            .state
            .as_ref()?
            .terminated
            .as_ref()?
            .finished_at
            .as_ref()?
            .0;
        latest = Some(latest.map_or(finished, |latest| latest.max(finished)));
    }
    latest
}

fn finish_time_from_ready_false(pod: &Pod) -> Option<Timestamp> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == "Ready")?;
    if condition.status != "False" {
        return None;
    }
    condition.last_transition_time.as_ref().map(|time| time.0)
}

fn finish_time_from_deletion(pod: &Pod) -> Option<Timestamp> {
    let deleted = pod.metadata.deletion_timestamp.as_ref()?.0;
    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
    deleted.checked_sub(SignedDuration::from_secs(grace)).ok()
}

impl PodFailureBackoff {
    /// How long to wait before creating pods again, given the Job's finished pods split
    /// into succeeded and failed ones.
    pub fn remaining(&self, succeeded: &[&Pod], failed: &[&Pod], now: Timestamp) -> Duration {
        let last_success = succeeded.iter().map(|pod| finished_time(pod)).max();
        let failures_after_success: Vec<Timestamp> = failed
            .iter()
            .map(|pod| finished_time(pod))
            .filter(|finished| last_success.is_none_or(|success| *finished > success))
            .collect();
        let Some(last_failure) = failures_after_success.iter().max().copied() else {
            return Duration::ZERO;
        };
        self.remaining_for(failures_after_success.len(), last_failure, now)
    }

    /// `getRemainingTimeForFailuresCount`.
    fn remaining_for(&self, failures: usize, last_failure: Timestamp, now: Timestamp) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let mut delay = self.base;
        for _ in 1..failures {
            delay = delay.saturating_mul(2);
            if delay >= self.maximum {
                delay = self.maximum;
                break;
            }
        }
        let elapsed = Duration::try_from(now.duration_since(last_failure)).unwrap_or_default();
        delay.saturating_sub(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished_pod(phase: &str, finished_at: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": phase, "containerStatuses": [{
                "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "finishedAt": finished_at}},
            }]},
        }))
        .expect("a pod")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    const BACKOFF: PodFailureBackoff = PodFailureBackoff {
        base: Duration::from_secs(10),
        maximum: Duration::from_secs(360),
    };

    #[test]
    fn the_delay_doubles_per_failure_after_the_last_success() {
        let failures: Vec<Pod> = ["00:00:10", "00:00:20", "00:00:30"]
            .iter()
            .map(|time| finished_pod("Failed", &format!("2025-01-01T{time}Z")))
            .collect();
        let failed: Vec<&Pod> = failures.iter().collect();
        let now = at("2025-01-01T00:00:35Z");
        assert_eq!(
            BACKOFF.remaining(&[], &failed, now),
            Duration::from_secs(35)
        );
        let success = finished_pod("Succeeded", "2025-01-01T00:00:25Z");
        assert_eq!(
            BACKOFF.remaining(&[&success], &failed, now),
            Duration::from_secs(5)
        );
        let late_success = finished_pod("Succeeded", "2025-01-01T00:00:31Z");
        assert_eq!(
            BACKOFF.remaining(&[&late_success], &failed, now),
            Duration::ZERO
        );
    }

    #[test]
    fn the_delay_is_capped_and_runs_out() {
        let last = at("2025-01-01T00:00:00Z");
        assert_eq!(
            BACKOFF.remaining_for(30, last, last),
            Duration::from_secs(360)
        );
        assert_eq!(
            BACKOFF.remaining_for(1, last, at("2025-01-01T00:01:00Z")),
            Duration::ZERO
        );
    }

    #[test]
    fn a_pod_without_finished_containers_finished_when_ready_turned_false() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2025-01-01T00:05:00Z"}]},
        }))
        .expect("a pod");
        assert_eq!(finished_time(&pod), at("2025-01-01T00:05:00Z"));
    }
}
