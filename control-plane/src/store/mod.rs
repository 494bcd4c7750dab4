//! The store: every object of the cluster, keyed by (resource, namespace, name), and the
//! history of changes that watches resume from.
//!
//! Only the API server opens the store. Everything else goes through the API.

pub mod backup;
mod event_codec;
mod event_ring;
mod redb_store;
mod snapshot;
mod watch;
mod writer;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

pub use redb_store::{RedbStore, StoreOptions};
pub use watch::WatchStream;

/// Where an object lives in the store. `resource` includes the group for non-core
/// resources ("deployments.apps"); `namespace` is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The encoded key. Names and namespaces cannot contain '/', so the encoding is
    /// unambiguous and every object of a (resource, namespace) pair shares a prefix.
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.resource, self.namespace, self.name)
    }

    pub fn decode(encoded: &str) -> Option<Self> {
        let mut parts = encoded.splitn(3, '/');
        Some(Self::new(parts.next()?, parts.next()?, parts.next()?))
    }
}

/// The key prefix of a resource's objects, in one namespace or (with `None`) in all.
pub fn key_prefix(resource: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("{resource}/{namespace}/"),
        None => format!("{resource}/"),
    }
}

/// An object as stored, with the revision that last wrote it.
#[derive(Clone, Debug)]
pub struct StoredObject {
    pub revision: u64,
    pub object: Arc<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change. `object` is the object after the change (for a deletion: the last state,
/// stamped with the deletion's revision); `previous` is the state before it, which lets
/// a filtered watch see an object leave its selector and lets a list be rebuilt at an
/// older revision.
#[derive(Debug)]
pub struct Event {
    pub revision: u64,
    pub event_type: EventType,
    pub key: String,
    pub object: Arc<Value>,
    /// `object` as JSON, encoded once by the writer and shared by every watcher.
    pub object_json: bytes::Bytes,
    pub previous: Option<Arc<Value>>,
}

/// A write. Each write takes the next global revision, which becomes the object's
/// `metadata.resourceVersion`.
#[derive(Clone, Debug)]
pub enum WriteRequest {
    /// Fails with `AlreadyExists` when the key is taken.
    Create { key: ObjectKey, object: Value },
    /// Fails with `NotFound`, or with `Conflict` when `expected_revision` is given and is
    /// not the stored object's revision.
    Update {
        key: ObjectKey,
        object: Value,
        expected_revision: Option<u64>,
    },
    /// Fails like an update; answers with the deleted object.
    Delete {
        key: ObjectKey,
        expected_revision: Option<u64>,
    },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("the object already exists")]
    AlreadyExists,
    #[error("the object was not found")]
    NotFound,
    #[error("the object has been modified: expected revision {expected}, found {found}")]
    Conflict { expected: u64, found: u64 },
    #[error("too old resource version: {requested} ({compacted})")]
    Compacted { requested: u64, compacted: u64 },
    #[error("too large resource version: {requested}, current: {current}")]
    FutureRevision { requested: u64, current: u64 },
    #[error("the stored value of {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("the store is shut down")]
    Closed,
}

/// One page of a list: the items in key order, the revision the page was read at, and
/// whether more items follow the last one.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<(String, StoredObject)>,
    pub revision: u64,
    pub more: bool,
    /// With `ListRequest::count_remaining`: how many keys of the prefix follow the page.
    pub remaining: usize,
}

/// What a list reads.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub prefix: String,
    /// Only keys strictly after this one (paging).
    pub after_key: Option<String>,
    pub limit: Option<usize>,
    /// Read the state as of this revision instead of the latest.
    pub at_revision: Option<u64>,
    /// Also count the keys after a limited page, as etcd's count does for Kubernetes'
    /// `remainingItemCount`. It costs a walk over the rest of the range, so it is asked for.
    pub count_remaining: bool,
}

/// The storage the API server is built on. redb is the embedded implementation; the
/// trait leaves room for etcd without touching the API layer.
pub trait Storage: Send + Sync + 'static {
    fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StoreError>;
    fn list(&self, request: &ListRequest) -> Result<ListPage, StoreError>;
    /// Resolves once the write is durable.
    fn write(&self, request: WriteRequest) -> BoxFuture<'_, Result<StoredObject, StoreError>>;
    /// Every change to keys under `prefix` after `after_revision`, in revision order.
    fn watch(&self, prefix: &str, after_revision: u64) -> Result<WatchStream, StoreError>;
    fn current_revision(&self) -> u64;
    fn compacted_revision(&self) -> u64;
    /// Forgets history up to and including `revision`.
    fn compact(&self, revision: u64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Hands the revision, then every object as of it, to `sink` (a backup); returns the
    /// revision.
    fn export(&self, sink: &mut dyn backup::SnapshotSink) -> Result<u64, backup::BackupError>;
}

pub type SharedStorage = Arc<dyn Storage>;
