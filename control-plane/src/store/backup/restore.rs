//! Building a new store from a backup's objects.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTableMetadata};
use serde_json::Value;

use super::super::writer::{EVENTS, META, META_COMPACTED, META_REVISION, OBJECTS};
use super::BackupError;
use crate::store::{ObjectKey, StoreError};

/// How far past the backup's revision a restored store starts, as Kubernetes' etcd
/// restore procedure recommends (`etcdutl snapshot restore --bump-revision 1000000000
/// --mark-compacted`): further than any client can have seen on the server the backup
/// was taken from, so that every resourceVersion a client still holds is older than the
/// restored store's history and answered with 410 Gone.
pub const DEFAULT_REVISION_BUMP: u64 = 1_000_000_000;

/// How many objects one transaction of the restore writes.
const BATCH_OBJECTS: usize = 1000;

fn backend(error: impl std::fmt::Display) -> BackupError {
    BackupError::Store(StoreError::Backend(error.to_string()))
}

/// What a restore made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredStore {
    /// The revision the backup was taken at.
    pub backup_revision: u64,
    /// The restored store's revision, also its compacted revision: the next write takes
    /// the one after.
    pub revision: u64,
    pub objects: u64,
}

/// Writes a backup's objects into a new store file, in batches; only `finish` makes the
/// store whole (its revision and compaction mark), so a restore cut short leaves a file
/// that the caller removes.
pub struct StoreRestorer {
    database: Database,
    backup_revision: u64,
    pending: Vec<(String, u64, Vec<u8>)>,
    objects: u64,
}

impl StoreRestorer {
    /// Creates the store file `path`, which must not exist yet, for a backup taken at
    /// `backup_revision`.
    pub fn create(path: &Path, backup_revision: u64) -> Result<Self, BackupError> {
        if path.exists() {
            return Err(BackupError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            )));
        }
        let database = Database::create(path).map_err(backend)?;
        Ok(Self {
            database,
            backup_revision,
            pending: Vec::new(),
            objects: 0,
        })
    }

    /// Adds one object, after checking that it is one: a well-formed key, a revision
    /// no later than the backup's, and a JSON object.
    pub fn insert(&mut self, key: &str, revision: u64, json: Vec<u8>) -> Result<(), BackupError> {
        let well_formed_key = ObjectKey::decode(key)
            .is_some_and(|decoded| !decoded.resource.is_empty() && !decoded.name.is_empty());
        if !well_formed_key {
            return Err(BackupError::Corrupt(format!(
                "an object has the malformed key {key:?}"
            )));
        }
        if revision == 0 || revision > self.backup_revision {
            return Err(BackupError::Corrupt(format!(
                "the object {key} has revision {revision}, outside the backup's 1..={}",
                self.backup_revision
            )));
        }
        match serde_json::from_slice::<Value>(&json) {
            Ok(Value::Object(_)) => {}
            Ok(_) => {
                return Err(BackupError::Corrupt(format!(
                    "the object {key} is not a JSON object"
                )));
            }
            Err(error) => {
                return Err(BackupError::Corrupt(format!(
                    "the object {key} is not JSON: {error}"
                )));
            }
        }
        self.pending.push((key.to_owned(), revision, json));
        if self.pending.len() >= BATCH_OBJECTS {
            self.write_pending(None)?;
        }
        Ok(())
    }

    /// Writes the waiting objects in one transaction; with `revision`, also the store's
    /// revision and compaction mark, durably. Earlier batches skip the flush to disk: the
    /// last commit makes everything durable, and an unfinished store is thrown away.
    fn write_pending(&mut self, revision: Option<u64>) -> Result<(), BackupError> {
        let mut transaction = self.database.begin_write().map_err(backend)?;
        let durability = if revision.is_some() {
            Durability::Immediate
        } else {
            Durability::None
        };
        transaction.set_durability(durability).map_err(backend)?;
        {
            let mut objects = transaction.open_table(OBJECTS).map_err(backend)?;
            for (key, object_revision, json) in self.pending.drain(..) {
                let replaced = objects
                    .insert(key.as_str(), (object_revision, json.as_slice()))
                    .map_err(backend)?
                    .is_some();
                if replaced {
                    return Err(BackupError::Corrupt(format!(
                        "the object {key} appears twice"
                    )));
                }
                self.objects += 1;
            }
            transaction.open_table(EVENTS).map_err(backend)?;
            if let Some(revision) = revision {
                let mut meta = transaction.open_table(META).map_err(backend)?;
                meta.insert(META_REVISION, revision).map_err(backend)?;
                meta.insert(META_COMPACTED, revision).map_err(backend)?;
            }
        }
        transaction.commit().map_err(backend)
    }

    /// Writes the rest, and starts the store's history `revision_bump` revisions after
    /// the backup's, everything before compacted.
    pub fn finish(mut self, revision_bump: u64) -> Result<RestoredStore, BackupError> {
        let revision = self
            .backup_revision
            .checked_add(revision_bump)
            .ok_or_else(|| {
                BackupError::Corrupt(format!(
                    "the backup's revision {} cannot be bumped by {revision_bump}",
                    self.backup_revision
                ))
            })?;
        self.write_pending(Some(revision))?;
        // Counted again from the file, so that what is reported is what is there.
        let stored = self
            .database
            .begin_read()
            .map_err(backend)?
            .open_table(OBJECTS)
            .map_err(backend)?
            .len()
            .map_err(backend)?;
        if stored != self.objects {
            return Err(BackupError::Corrupt(format!(
                "{} objects were restored but the store holds {stored}",
                self.objects
            )));
        }
        Ok(RestoredStore {
            backup_revision: self.backup_revision,
            revision,
            objects: self.objects,
        })
    }
}
