//! The single writer. Requests queue on a channel; the writer takes every request that is
//! waiting, applies them in one redb transaction, commits once (one fsync for the whole
//! batch: group commit), and only then answers each request and publishes its event.

use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::event_codec::encode_event;
use super::event_ring::EventRing;
use super::{Event, EventType, StoreError, StoredObject, WriteRequest};

pub(super) const OBJECTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("objects");
pub(super) const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const META_REVISION: &str = "revision";
pub(super) const META_COMPACTED: &str = "compacted";

/// The most requests one transaction takes, so that one batch's latency stays bounded.
const MAX_BATCH: usize = 4096;

pub(super) enum Command {
    Write(
        WriteRequest,
        oneshot::Sender<Result<StoredObject, StoreError>>,
    ),
    Compact(u64, oneshot::Sender<Result<(), StoreError>>),
}

pub(super) struct Writer {
    pub(super) database: Arc<Database>,
    pub(super) ring: Arc<EventRing>,
    pub(super) compacted: Arc<std::sync::atomic::AtomicU64>,
    pub(super) committed_batches: Arc<std::sync::atomic::AtomicU64>,
    pub(super) revision: u64,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Stamps the revision into the object, as Kubernetes exposes it.
fn stamp_resource_version(object: &mut Value, revision: u64) {
    if let Some(object) = object.as_object_mut() {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert(
                "resourceVersion".to_owned(),
                Value::String(revision.to_string()),
            );
        }
    }
}

fn check_expected(expected: Option<u64>, found: u64) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != found => Err(StoreError::Conflict { expected, found }),
        _ => Ok(()),
    }
}

/// The outcome of one request inside a batch, before the batch commits.
struct Applied {
    result: Result<StoredObject, StoreError>,
    event: Option<Event>,
}

impl Writer {
    pub(super) fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut batch = Vec::new();
        while let Some(first) = commands.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.commit_batch(std::mem::take(&mut batch));
        }
    }

    fn commit_batch(&mut self, batch: Vec<Command>) {
        let revision_before = self.revision;
        let outcome = self
            .database
            .begin_write()
            .map_err(backend)
            .and_then(|transaction| {
                let applied = self.apply_all(&transaction, &batch)?;
                transaction.commit().map_err(backend)?;
                Ok(applied)
            });
        match outcome {
            Ok(applied) => {
                self.committed_batches
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut events = Vec::new();
                let mut answers = Vec::new();
                for applied in applied {
                    if let Some(event) = applied.event {
                        events.push(Arc::new(event));
                    }
                    answers.push(applied.result);
                }
                // Watchers learn of a change before its writer does, so a client that
                // watches from the revision it was given can never miss its own write.
                self.ring.publish(events);
                for (command, answer) in batch.into_iter().zip(answers) {
                    match (command, answer) {
                        (Command::Write(_, reply), answer) => {
                            let _ = reply.send(answer);
                        }
                        (Command::Compact(_, reply), answer) => {
                            let _ = reply.send(answer.map(|_| ()));
                        }
                    }
                }
            }
            Err(error) => {
                self.revision = revision_before;
                for command in batch {
                    match command {
                        Command::Write(_, reply) => {
                            let _ = reply.send(Err(error.clone()));
                        }
                        Command::Compact(_, reply) => {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            }
        }
    }

    fn apply_all(
        &mut self,
        transaction: &WriteTransaction,
        batch: &[Command],
    ) -> Result<Vec<Applied>, StoreError> {
        let mut objects = transaction.open_table(OBJECTS).map_err(backend)?;
        let mut events = transaction.open_table(EVENTS).map_err(backend)?;
        let mut meta = transaction.open_table(META).map_err(backend)?;
        let mut applied = Vec::with_capacity(batch.len());
        for command in batch {
            match command {
                Command::Write(request, _) => {
                    let outcome = self.apply_write(&mut objects, &mut events, request)?;
                    applied.push(outcome);
                }
                Command::Compact(up_to, _) => {
                    let up_to = (*up_to).min(self.revision);
                    let compacted = self.compacted.load(std::sync::atomic::Ordering::SeqCst);
                    if up_to > compacted {
                        events.retain_in(..=up_to, |_, _| false).map_err(backend)?;
                        meta.insert(META_COMPACTED, up_to).map_err(backend)?;
                        self.compacted
                            .store(up_to, std::sync::atomic::Ordering::SeqCst);
                    }
                    applied.push(Applied {
                        result: Ok(StoredObject {
                            revision: up_to,
                            object: Arc::new(Value::Null),
                        }),
                        event: None,
                    });
                }
            }
        }
        meta.insert(META_REVISION, self.revision).map_err(backend)?;
        Ok(applied)
    }

    /// Applies one write. A failed precondition answers that request only; a backend
    /// failure aborts the whole batch.
    fn apply_write(
        &mut self,
        objects: &mut redb::Table<&str, (u64, &[u8])>,
        events: &mut redb::Table<u64, &[u8]>,
        request: &WriteRequest,
    ) -> Result<Applied, StoreError> {
        let (key, new_object, expected) = match request {
            WriteRequest::Create { key, object } => (key, Some(object), None),
            WriteRequest::Update {
                key,
                object,
                expected_revision,
            } => (key, Some(object), *expected_revision),
            WriteRequest::Delete {
                key,
                expected_revision,
            } => (key, None, *expected_revision),
        };
        let encoded_key = key.encode();
        let current: Option<(u64, Vec<u8>)> = objects
            .get(encoded_key.as_str())
            .map_err(backend)?
            .map(|guard| {
                let (revision, bytes) = guard.value();
                (revision, bytes.to_vec())
            });
        let refuse = |error| {
            Ok(Applied {
                result: Err(error),
                event: None,
            })
        };
        let event_type = match (request, &current) {
            (WriteRequest::Create { .. }, Some(_)) => return refuse(StoreError::AlreadyExists),
            (WriteRequest::Create { .. }, None) => EventType::Added,
            (_, None) => return refuse(StoreError::NotFound),
            (_, Some((found, _))) => {
                if let Err(conflict) = check_expected(expected, *found) {
                    return refuse(conflict);
                }
                if new_object.is_some() {
                    EventType::Modified
                } else {
                    EventType::Deleted
                }
            }
        };
        let previous_bytes = current.map(|(_, bytes)| bytes);
        let previous = match &previous_bytes {
            Some(bytes) => Some(Arc::new(serde_json::from_slice::<Value>(bytes).map_err(
                |error| StoreError::Corrupt {
                    key: encoded_key.clone(),
                    reason: error.to_string(),
                },
            )?)),
            None => None,
        };
        let revision = self.revision + 1;
        let mut object = match new_object {
            Some(object) => object.clone(),
            None => previous.as_deref().cloned().unwrap_or(Value::Null),
        };
        stamp_resource_version(&mut object, revision);
        let object_bytes = serde_json::to_vec(&object).map_err(backend)?;
        if new_object.is_some() {
            objects
                .insert(encoded_key.as_str(), (revision, object_bytes.as_slice()))
                .map_err(backend)?;
        } else {
            objects.remove(encoded_key.as_str()).map_err(backend)?;
        }
        let record = encode_event(
            event_type,
            &encoded_key,
            &object_bytes,
            previous_bytes.as_deref(),
        );
        events
            .insert(revision, record.as_slice())
            .map_err(backend)?;
        self.revision = revision;
        let object = Arc::new(object);
        Ok(Applied {
            result: Ok(StoredObject {
                revision,
                object: Arc::clone(&object),
            }),
            event: Some(Event {
                revision,
                event_type,
                key: encoded_key,
                object,
                object_json: object_bytes.into(),
                previous,
            }),
        })
    }
}
