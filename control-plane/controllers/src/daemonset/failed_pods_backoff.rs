//! The back-off between deleting a node's failed daemon pods, client-go's
//! `flowcontrol.Backoff` as the DaemonSet controller uses it (1 s doubling up to 15 min):
//! a kubelet that keeps rejecting a pod must not make the controller delete and re-create
//! it in a hot loop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const INITIAL_DELAY: Duration = Duration::from_secs(1);
const MAXIMUM_DELAY: Duration = Duration::from_secs(15 * 60);

struct Entry {
    delay: Duration,
    last_update: Instant,
}

#[derive(Default)]
pub struct FailedPodsBackoff {
    entries: HashMap<String, Entry>,
}

impl FailedPodsBackoff {
    /// How long the key must still wait, if its last deletion was less than its delay ago
    /// (`IsInBackOffSinceUpdate`).
    pub fn remaining(&self, key: &str, now: Instant) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let elapsed = now.saturating_duration_since(entry.last_update);
        (elapsed < entry.delay).then(|| entry.delay - elapsed)
    }

    /// Records a deletion for the key: the first waits the initial delay, each later one
    /// twice the one before, until the key has been quiet for twice the maximum (`Next`).
    pub fn next(&mut self, key: &str, now: Instant) {
        self.entries.retain(|_, entry| !is_expired(entry, now));
        match self.entries.get_mut(key) {
            Some(entry) => {
                entry.delay = (entry.delay * 2).min(MAXIMUM_DELAY);
                entry.last_update = now;
            }
            None => {
                self.entries.insert(
                    key.to_owned(),
                    Entry {
                        delay: INITIAL_DELAY,
                        last_update: now,
                    },
                );
            }
        }
    }
}

fn is_expired(entry: &Entry, now: Instant) -> bool {
    now.saturating_duration_since(entry.last_update) > MAXIMUM_DELAY * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_deletion_doubles_the_wait_and_a_long_quiet_resets_it() {
        let mut backoff = FailedPodsBackoff::default();
        let start = Instant::now();
        assert_eq!(backoff.remaining("ds/1/n1", start), None);
        backoff.next("ds/1/n1", start);
        assert_eq!(
            backoff.remaining("ds/1/n1", start + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        assert_eq!(backoff.remaining("ds/1/n1", start + INITIAL_DELAY), None);
        backoff.next("ds/1/n1", start + INITIAL_DELAY);
        assert_eq!(
            backoff.remaining("ds/1/n1", start + INITIAL_DELAY),
            Some(Duration::from_secs(2))
        );
        assert_eq!(backoff.remaining("ds/1/n2", start), None);
        let much_later = start + MAXIMUM_DELAY * 3;
        backoff.next("ds/1/n1", much_later);
        assert_eq!(
            backoff.remaining("ds/1/n1", much_later),
            Some(INITIAL_DELAY)
        );
    }
}
