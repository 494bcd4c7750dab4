//! Lists at an older revision. The objects table holds only the latest state, but every
//! event keeps the state before it, so undoing the events after a revision, newest
//! first, gives the exact state at that revision (as long as history is not compacted).

use std::collections::BTreeMap;
use std::sync::Arc;

use redb::ReadableTable;

use super::event_codec::decode_event;
use super::{EventType, ListRequest, StoreError, StoredObject};

fn revision_of(object: &serde_json::Value) -> u64 {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(serde_json::Value::as_str)
        .and_then(|revision| revision.parse().ok())
        .unwrap_or(0)
}

pub(super) fn rewind_to_revision(
    items: Vec<(String, StoredObject)>,
    events: &impl ReadableTable<u64, &'static [u8]>,
    request: &ListRequest,
    at_revision: u64,
) -> Result<Vec<(String, StoredObject)>, StoreError> {
    let backend = |error: redb::StorageError| StoreError::Backend(error.to_string());
    let mut state: BTreeMap<String, StoredObject> = items.into_iter().collect();
    let in_range = |key: &str| {
        key.starts_with(&request.prefix)
            && request.after_key.as_deref().is_none_or(|after| key > after)
    };
    for entry in events.range(at_revision + 1..).map_err(backend)?.rev() {
        let (revision, record) = entry.map_err(backend)?;
        let event = decode_event(revision.value(), record.value())?;
        if !in_range(&event.key) {
            continue;
        }
        match (event.event_type, event.previous) {
            (EventType::Added, _) => {
                state.remove(&event.key);
            }
            (_, Some(previous)) => {
                let revision = revision_of(&previous);
                state.insert(
                    event.key,
                    StoredObject {
                        revision,
                        object: Arc::clone(&previous),
                    },
                );
            }
            (_, None) => {
                return Err(StoreError::Corrupt {
                    key: event.key,
                    reason: format!(
                        "event {revision:?} has no previous state",
                        revision = event.revision
                    ),
                });
            }
        }
    }
    Ok(state.into_iter().collect())
}
