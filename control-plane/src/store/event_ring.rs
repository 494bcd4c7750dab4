//! The most recent events, kept in memory so that watchers that keep up never read the
//! disk, plus the notification that wakes them when new events arrive.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::Event;

pub(super) struct EventRing {
    capacity: usize,
    events: RwLock<VecDeque<Arc<Event>>>,
    latest_revision: watch::Sender<u64>,
}

/// What a watcher finds after a revision.
pub(super) enum RingRead {
    /// The ring holds everything after the revision (possibly nothing yet).
    Events(Vec<Arc<Event>>),
    /// Events after the revision have already left the ring: read them from disk.
    NotInRing,
}

impl EventRing {
    pub(super) fn new(capacity: usize, current_revision: u64) -> Self {
        Self {
            capacity,
            events: RwLock::new(VecDeque::with_capacity(capacity)),
            latest_revision: watch::Sender::new(current_revision),
        }
    }

    /// Called by the single writer, in revision order, after the events are durable.
    pub(super) fn publish(&self, new_events: Vec<Arc<Event>>) {
        let Some(last) = new_events.last().map(|event| event.revision) else {
            return;
        };
        {
            let mut events = self
                .events
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for event in new_events {
                if events.len() == self.capacity {
                    events.pop_front();
                }
                events.push_back(event);
            }
        }
        self.latest_revision.send_replace(last);
    }

    /// Up to `max` events with revision greater than `after`, when the ring covers them.
    pub(super) fn read_after(&self, after: u64, max: usize) -> RingRead {
        let events = self
            .events
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = *self.latest_revision.borrow();
        if after >= latest {
            return RingRead::Events(Vec::new());
        }
        match events.front() {
            // The ring covers `after + 1` when its oldest event is no newer than that.
            Some(oldest) if oldest.revision <= after + 1 => {
                let start = events.partition_point(|event| event.revision <= after);
                RingRead::Events(events.range(start..).take(max).cloned().collect())
            }
            _ => RingRead::NotInRing,
        }
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest_revision.subscribe()
    }

    pub(super) fn latest_revision(&self) -> u64 {
        *self.latest_revision.borrow()
    }
}
