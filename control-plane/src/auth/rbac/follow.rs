//! Keeping the index current from the store, as an informer would: list a kind, then
//! follow the store's watch on its key prefix from the revision of that list; list again
//! when the watch fails (its revision was compacted away) or ends.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use super::index::{PolicyIndex, PolicyKind};
use crate::store::{EventType, ListRequest, ObjectKey, Storage, StoreError};

/// How long to wait before listing again after a failed list or an ended watch, so a
/// store in trouble is not hammered.
const RELIST_DELAY: Duration = Duration::from_secs(1);

/// Lists every object of `kind` into the index; answers the revision of the list.
pub fn load(
    storage: &dyn Storage,
    kind: PolicyKind,
    index: &RwLock<PolicyIndex>,
) -> Result<u64, StoreError> {
    let page = storage.list(&ListRequest {
        prefix: kind.key_prefix(),
        ..ListRequest::default()
    })?;
    let keys: Vec<(ObjectKey, &serde_json::Value)> = page
        .items
        .iter()
        .filter_map(|(key, stored)| Some((ObjectKey::decode(key)?, stored.object.as_ref())))
        .collect();
    let mut index = index
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    index.replace_all(
        kind,
        keys.iter()
            .map(|(key, object)| (key.namespace.as_str(), key.name.as_str(), *object)),
    );
    Ok(page.revision)
}

/// How following a watch ended.
enum WatchEnd {
    /// The store is gone: nothing more will change.
    StoreGone,
    /// The index must be listed again.
    Relist,
}

/// Follows `kind` from `revision` until the store goes away. Holds the store weakly so
/// the authorizer never keeps a closed store open.
pub async fn follow(
    storage: Weak<dyn Storage>,
    kind: PolicyKind,
    index: Arc<RwLock<PolicyIndex>>,
    mut revision: u64,
) {
    loop {
        if let WatchEnd::StoreGone = follow_watch(&storage, kind, &index, revision).await {
            return;
        }
        loop {
            tokio::time::sleep(RELIST_DELAY).await;
            let Some(store) = storage.upgrade() else {
                return;
            };
            match load(store.as_ref(), kind, &index) {
                Ok(listed) => {
                    revision = listed;
                    break;
                }
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::warn!(kind = kind.plural(), %error, "RBAC: listing the policy failed");
                }
            }
        }
    }
}

async fn follow_watch(
    storage: &Weak<dyn Storage>,
    kind: PolicyKind,
    index: &RwLock<PolicyIndex>,
    revision: u64,
) -> WatchEnd {
    let prefix = kind.key_prefix();
    let watched = match storage.upgrade() {
        Some(store) => store.watch(&prefix, revision),
        None => return WatchEnd::StoreGone,
    };
    let mut stream = match watched {
        Ok(stream) => stream,
        Err(StoreError::Closed) => return WatchEnd::StoreGone,
        Err(error) => {
            tracing::warn!(kind = kind.plural(), %error, "RBAC: watching the policy failed");
            return WatchEnd::Relist;
        }
    };
    loop {
        let event = match stream.next().await {
            Some(Ok(event)) => event,
            Some(Err(StoreError::Closed)) => return WatchEnd::StoreGone,
            Some(Err(error)) => {
                tracing::info!(kind = kind.plural(), %error, "RBAC: the policy watch failed; listing again");
                return WatchEnd::Relist;
            }
            None => return WatchEnd::Relist,
        };
        let Some(key) = ObjectKey::decode(&event.key) else {
            continue;
        };
        let mut index = index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match event.event_type {
            EventType::Added | EventType::Modified => {
                index.upsert(kind, &key.namespace, &key.name, &event.object);
            }
            EventType::Deleted => index.remove(kind, &key.namespace, &key.name),
        }
    }
}
