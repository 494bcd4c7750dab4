//! A watch: the events under a key prefix after a revision, in order, with no gaps and
//! no duplicates. Recent events come from the in-memory ring; a watcher that fell behind
//! the ring reads the history table; one that fell behind compaction gets `Compacted`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, ReadableDatabase};
use tokio::sync::watch;

use super::event_codec::decode_event;
use super::event_ring::{EventRing, RingRead};
use super::writer::{EVENTS, META, META_COMPACTED};
use super::{Event, StoreError};

/// How many events one read takes from the ring or the disk.
const READ_BATCH: usize = 1024;

pub struct WatchStream {
    prefix: String,
    last_revision: u64,
    ring: Arc<EventRing>,
    database: Arc<Database>,
    compacted: Arc<AtomicU64>,
    latest: watch::Receiver<u64>,
    pending: VecDeque<Arc<Event>>,
}

impl WatchStream {
    pub(super) fn new(
        prefix: String,
        after_revision: u64,
        ring: Arc<EventRing>,
        database: Arc<Database>,
        compacted: Arc<AtomicU64>,
    ) -> Self {
        let latest = ring.subscribe();
        Self {
            prefix,
            last_revision: after_revision,
            ring,
            database,
            compacted,
            latest,
            pending: VecDeque::new(),
        }
    }

    /// The revision up to which every event has been handed out or was outside the
    /// prefix: what a bookmark may promise.
    pub fn position(&self) -> u64 {
        self.pending
            .front()
            .map_or(self.last_revision, |event| event.revision - 1)
    }

    /// The next event. `None` only when the store shuts down.
    pub async fn next(&mut self) -> Option<Result<Arc<Event>, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            // Mark the current value seen before reading, so a publish that happens
            // after this read wakes the wait below.
            self.latest.borrow_and_update();
            let batch = match self.ring.read_after(self.last_revision, READ_BATCH) {
                RingRead::Events(events) => events,
                RingRead::NotInRing => match self.read_from_disk() {
                    Ok(events) => events,
                    Err(error) => return Some(Err(error)),
                },
            };
            if batch.is_empty() {
                if self.latest.changed().await.is_err() {
                    return None;
                }
                continue;
            }
            for event in batch {
                self.last_revision = event.revision;
                if event.key.starts_with(&self.prefix) {
                    self.pending.push_back(event);
                }
            }
        }
    }

    fn read_from_disk(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        let backend = |error: &dyn std::fmt::Display| StoreError::Backend(error.to_string());
        let transaction = self
            .database
            .begin_read()
            .map_err(|error| backend(&error))?;
        let meta = transaction
            .open_table(META)
            .map_err(|error| backend(&error))?;
        let compacted = meta
            .get(META_COMPACTED)
            .map_err(|error| backend(&error))?
            .map_or(0, |value| value.value());
        let compacted = compacted.max(self.compacted.load(Ordering::SeqCst));
        if self.last_revision < compacted {
            return Err(StoreError::Compacted {
                requested: self.last_revision,
                compacted,
            });
        }
        let events = transaction
            .open_table(EVENTS)
            .map_err(|error| backend(&error))?;
        let mut batch = Vec::new();
        for entry in events
            .range(self.last_revision + 1..)
            .map_err(|error| backend(&error))?
            .take(READ_BATCH)
        {
            let (revision, record) = entry.map_err(|error| backend(&error))?;
            batch.push(Arc::new(decode_event(revision.value(), record.value())?));
        }
        Ok(batch)
    }
}
