//! Reading the store for a backup: one redb read transaction, so that the objects are
//! all as of one revision however many writes commit while they are read.

use redb::{Database, ReadableDatabase, ReadableTable};

use super::super::writer::{META, META_REVISION, OBJECTS};
use super::{BackupError, SnapshotSink};
use crate::store::StoreError;

fn backend(error: impl std::fmt::Display) -> BackupError {
    BackupError::Store(StoreError::Backend(error.to_string()))
}

/// Hands the store's revision, then every object, to `sink`; returns the revision.
pub(in crate::store) fn export_database(
    database: &Database,
    sink: &mut dyn SnapshotSink,
) -> Result<u64, BackupError> {
    let transaction = database.begin_read().map_err(backend)?;
    let revision = transaction
        .open_table(META)
        .map_err(backend)?
        .get(META_REVISION)
        .map_err(backend)?
        .map_or(0, |value| value.value());
    sink.begin(revision)?;
    let objects = transaction.open_table(OBJECTS).map_err(backend)?;
    for entry in objects.iter().map_err(backend)? {
        let (key, value) = entry.map_err(backend)?;
        let (object_revision, json) = value.value();
        sink.object(key.value(), object_revision, json)?;
    }
    Ok(revision)
}
