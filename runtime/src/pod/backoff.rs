//! The kubelet's restart back-off: 10 s, doubling up to 5 minutes, forgotten once a
//! container has run well for twice the maximum.

use std::time::Duration;

use tokio::time::Instant;

/// The back-off's bounds; tests configure short ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffSettings {
    pub initial: Duration,
    pub maximum: Duration,
}

impl Default for BackoffSettings {
    fn default() -> BackoffSettings {
        BackoffSettings {
            initial: Duration::from_secs(10),
            maximum: Duration::from_secs(300),
        }
    }
}

/// One container's (or one image pull's) back-off.
#[derive(Clone, Debug)]
pub struct Backoff {
    settings: BackoffSettings,
    first_retry_is_immediate: bool,
    current: Option<Duration>,
}

impl Backoff {
    /// A container's restarts: the first restart after a crash is immediate, and the
    /// delays start with the second (so `CrashLoopBackOff` appears from the second crash
    /// on, as with the kubelet).
    pub fn for_restarts(settings: BackoffSettings) -> Backoff {
        Backoff {
            settings,
            first_retry_is_immediate: true,
            current: None,
        }
    }

    /// Image pulls: every failed pull waits before the next attempt.
    pub fn for_pulls(settings: BackoffSettings) -> Backoff {
        Backoff {
            settings,
            first_retry_is_immediate: false,
            current: None,
        }
    }

    /// The next delay: none or the initial one after a first failure, then twice the
    /// last, capped at the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let delay = match self.current {
            None if self.first_retry_is_immediate => Duration::ZERO,
            None => self.settings.initial,
            Some(last) if last.is_zero() => self.settings.initial,
            Some(last) => (last * 2).min(self.settings.maximum),
        };
        self.current = Some(delay);
        delay
    }

    /// A container that ran at least twice the maximum back-off before failing starts
    /// over from the initial delay, as the kubelet's back-off GC does.
    pub fn forget_if_ran_well(&mut self, started_at: Instant, finished_at: Instant) {
        if finished_at.duration_since(started_at) >= self.settings.maximum * 2 {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_reset_after_a_good_run() {
        let mut restarts = Backoff::for_restarts(BackoffSettings::default());
        let delays: Vec<u64> = (0..8).map(|_| restarts.next_delay().as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
        let start = Instant::now();
        restarts.forget_if_ran_well(start, start + Duration::from_secs(599));
        assert_eq!(restarts.next_delay().as_secs(), 300);
        restarts.forget_if_ran_well(start, start + Duration::from_secs(600));
        assert_eq!(restarts.next_delay().as_secs(), 0);
        let mut pulls = Backoff::for_pulls(BackoffSettings::default());
        let delays: Vec<u64> = (0..3).map(|_| pulls.next_delay().as_secs()).collect();
        assert_eq!(delays, [10, 20, 40]);
    }
}
