//! The embedded store on redb: reads open their own read transactions; writes go to the
//! single group-committing writer thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use redb::{Database, ReadableDatabase, ReadableTable};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::event_ring::EventRing;
use super::snapshot::rewind_to_revision;
use super::watch::WatchStream;
use super::writer::{Command, EVENTS, META, META_COMPACTED, META_REVISION, OBJECTS, Writer};
use super::{ListPage, ListRequest, ObjectKey, Storage, StoreError, StoredObject, WriteRequest};

/// Tuning knobs of the embedded store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How many recent events stay in memory for watchers; older ones are read from disk.
    pub ring_capacity: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            ring_capacity: 65_536,
        }
    }
}
/// How many requests may wait for the writer before callers wait to enqueue.
const QUEUE_DEPTH: usize = 16_384;

pub struct RedbStore {
    database: Arc<Database>,
    ring: Arc<EventRing>,
    compacted: Arc<AtomicU64>,
    committed_batches: Arc<AtomicU64>,
    /// Taken on drop: closing the channel ends the writer thread, which is then joined so
    /// that the database file is released when the store is gone.
    commands: Option<mpsc::Sender<Command>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

pub(super) fn decode_object(key: &str, bytes: &[u8]) -> Result<Arc<Value>, StoreError> {
    serde_json::from_slice(bytes)
        .map(Arc::new)
        .map_err(|error| StoreError::Corrupt {
            key: key.to_owned(),
            reason: error.to_string(),
        })
}

impl RedbStore {
    /// Opens (or creates) the store at `path` and starts its writer thread. A store that
    /// was cut off mid-write (a crash, kill -9) opens at its last committed transaction.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let database = Arc::new(Database::create(path).map_err(backend)?);
        let (revision, compacted) = {
            let transaction = database.begin_write().map_err(backend)?;
            let (revision, compacted) = {
                transaction.open_table(OBJECTS).map_err(backend)?;
                transaction.open_table(EVENTS).map_err(backend)?;
                let meta = transaction.open_table(META).map_err(backend)?;
                let read = |name| -> Result<u64, StoreError> {
                    Ok(meta
                        .get(name)
                        .map_err(backend)?
                        .map_or(0, |value| value.value()))
                };
                (read(META_REVISION)?, read(META_COMPACTED)?)
            };
            transaction.commit().map_err(backend)?;
            (revision, compacted)
        };
        let ring = Arc::new(EventRing::new(options.ring_capacity, revision));
        let compacted = Arc::new(AtomicU64::new(compacted));
        let committed_batches = Arc::new(AtomicU64::new(0));
        let (commands, receiver) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer {
            database: Arc::clone(&database),
            ring: Arc::clone(&ring),
            compacted: Arc::clone(&compacted),
            committed_batches: Arc::clone(&committed_batches),
            revision,
        };
        let writer_thread = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || writer.run(receiver))
            .map_err(backend)?;
        Ok(Self {
            database,
            ring,
            compacted,
            committed_batches,
            commands: Some(commands),
            writer_thread: Some(writer_thread),
        })
    }

    /// How many transactions the writer has committed since the store opened: with
    /// concurrent writers, far fewer than the writes, since they share commits.
    pub fn committed_batches(&self) -> u64 {
        self.committed_batches.load(Ordering::SeqCst)
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        let commands = self.commands.as_ref().ok_or(StoreError::Closed)?;
        commands.send(command).await.map_err(|_| StoreError::Closed)
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(writer_thread) = self.writer_thread.take() {
            let _ = writer_thread.join();
        }
    }
}

impl Storage for RedbStore {
    fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StoreError> {
        let encoded = key.encode();
        let transaction = self.database.begin_read().map_err(backend)?;
        let objects = transaction.open_table(OBJECTS).map_err(backend)?;
        let Some(guard) = objects.get(encoded.as_str()).map_err(backend)? else {
            return Ok(None);
        };
        let (revision, bytes) = guard.value();
        Ok(Some(StoredObject {
            revision,
            object: decode_object(&encoded, bytes)?,
        }))
    }

    fn list(&self, request: &ListRequest) -> Result<ListPage, StoreError> {
        let transaction = self.database.begin_read().map_err(backend)?;
        let meta = transaction.open_table(META).map_err(backend)?;
        let current = meta
            .get(META_REVISION)
            .map_err(backend)?
            .map_or(0, |value| value.value());
        let objects = transaction.open_table(OBJECTS).map_err(backend)?;
        let start = request
            .after_key
            .clone()
            .unwrap_or_else(|| request.prefix.clone());
        let mut items = Vec::new();
        let mut more = false;
        let mut remaining = 0;
        // A list at an older revision reads the current state of the range in full and
        // rewinds it with the history; only then is the limit applied.
        let rewinding = request
            .at_revision
            .is_some_and(|revision| revision < current);
        for entry in objects.range(start.as_str()..).map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            let key = key.value();
            if !key.starts_with(&request.prefix) {
                break;
            }
            if request.after_key.as_deref() == Some(key) {
                continue;
            }
            if !rewinding && request.limit.is_some_and(|limit| items.len() == limit) {
                more = true;
                if !request.count_remaining {
                    break;
                }
                remaining += 1;
                continue;
            }
            let (revision, bytes) = value.value();
            items.push((
                key.to_owned(),
                StoredObject {
                    revision,
                    object: decode_object(key, bytes)?,
                },
            ));
        }
        let revision = match request.at_revision {
            Some(at) if at > current => {
                return Err(StoreError::FutureRevision {
                    requested: at,
                    current,
                });
            }
            Some(at) if rewinding => {
                let compacted = meta
                    .get(META_COMPACTED)
                    .map_err(backend)?
                    .map_or(0, |value| value.value());
                if at < compacted {
                    return Err(StoreError::Compacted {
                        requested: at,
                        compacted,
                    });
                }
                let events = transaction.open_table(EVENTS).map_err(backend)?;
                items = rewind_to_revision(items, &events, request, at)?;
                if let Some(limit) = request.limit
                    && items.len() > limit
                {
                    remaining = items.len() - limit;
                    items.truncate(limit);
                    more = true;
                }
                at
            }
            _ => current,
        };
        Ok(ListPage {
            items,
            revision,
            more,
            remaining,
        })
    }

    fn write(&self, request: WriteRequest) -> BoxFuture<'_, Result<StoredObject, StoreError>> {
        async move {
            let (reply, answer) = oneshot::channel();
            self.send(Command::Write(request, reply)).await?;
            answer.await.map_err(|_| StoreError::Closed)?
        }
        .boxed()
    }

    fn watch(&self, prefix: &str, after_revision: u64) -> Result<WatchStream, StoreError> {
        let compacted = self.compacted_revision();
        if after_revision < compacted {
            return Err(StoreError::Compacted {
                requested: after_revision,
                compacted,
            });
        }
        Ok(WatchStream::new(
            prefix.to_owned(),
            after_revision,
            Arc::clone(&self.ring),
            Arc::clone(&self.database),
            Arc::clone(&self.compacted),
        ))
    }

    fn current_revision(&self) -> u64 {
        self.ring.latest_revision()
    }

    fn compacted_revision(&self) -> u64 {
        self.compacted.load(Ordering::SeqCst)
    }

    fn compact(&self, revision: u64) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let (reply, answer) = oneshot::channel();
            self.send(Command::Compact(revision, reply)).await?;
            answer.await.map_err(|_| StoreError::Closed)?
        }
        .boxed()
    }

    fn export(
        &self,
        sink: &mut dyn super::backup::SnapshotSink,
    ) -> Result<u64, super::backup::BackupError> {
        super::backup::export_database(&self.database, sink)
    }
}
