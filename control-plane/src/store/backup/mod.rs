//! Backups of a cluster, as `etcdctl snapshot save` and `etcdutl snapshot restore` make
//! and use them: a consistent copy of the store taken from one read transaction while
//! the server runs (every object at one revision), the image store's tags and blobs, and
//! optionally the data directory's identity files; and the restore that builds a new
//! store from one.
//!
//! The event history is not kept. A restored store starts well past the backup's
//! revision with everything before compacted, as `etcdutl snapshot restore
//! --bump-revision --mark-compacted` leaves etcd for Kubernetes: a client that still
//! holds a resourceVersion from before gets 410 Gone and lists again, rather than
//! waiting for revisions it believes it has seen.

mod data_dir;
mod export;
mod format;
mod restore;
mod snapshot;
#[cfg(test)]
mod tests;

pub use data_dir::{
    IMAGES_DIRECTORY, RestoreReport, RestoredIdentity, STORE_FILE, restore_data_dir,
};
pub use format::{
    BackupHeader, BackupReader, BackupRecord, BackupSummary, BackupWriter, FORMAT_VERSION, MAGIC,
};
pub use restore::{DEFAULT_REVISION_BUMP, RestoredStore, StoreRestorer};
pub use snapshot::{copy_backup, write_cluster_snapshot};

pub(super) use export::export_database;

use super::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a wasmkube backup: it does not start with the backup file's magic")]
    NotABackup,
    #[error("the backup has format version {0}; this wasmkube reads version {FORMAT_VERSION} only")]
    UnsupportedVersion(u32),
    #[error("the backup is truncated: it ends before its end record")]
    Truncated,
    #[error("the backup is corrupt: its checksum does not match its content")]
    ChecksumMismatch,
    #[error("the backup is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A file of the server's data directory that a backup may carry: what makes the
/// restored cluster the same cluster to its nodes and clients (its CA, its ServiceAccount
/// signing key, its static tokens and the nodes' join token). Nothing else is ever
/// written from a backup's file records.
#[derive(Debug, PartialEq, Eq)]
pub struct IdentityFile {
    /// Relative to the data directory, `/`-separated.
    pub path: &'static str,
    /// The permissions the server gives it (Unix).
    pub mode: u32,
}

pub const IDENTITY_FILES: &[IdentityFile] = &[
    IdentityFile {
        path: "tls/ca.crt",
        mode: 0o644,
    },
    IdentityFile {
        path: "tls/ca.key",
        mode: 0o600,
    },
    IdentityFile {
        path: "tls/service-account.key",
        mode: 0o600,
    },
    IdentityFile {
        path: "tokens.csv",
        mode: 0o600,
    },
    IdentityFile {
        path: "node-token",
        mode: 0o600,
    },
];

/// The identity file at `path`, if it is one.
pub fn identity_file(path: &str) -> Option<&'static IdentityFile> {
    IDENTITY_FILES.iter().find(|file| file.path == path)
}

/// Where a snapshot of the store goes: first the revision it is taken at, then every
/// object in key order with the revision that last wrote it and its stored JSON.
pub trait SnapshotSink {
    fn begin(&mut self, revision: u64) -> Result<(), BackupError>;
    fn object(&mut self, key: &str, revision: u64, json: &[u8]) -> Result<(), BackupError>;
}
