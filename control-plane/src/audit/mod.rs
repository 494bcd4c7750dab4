//! The API server's audit log of mutating requests, as kube-apiserver's log backend
//! writes it (`--audit-log-path`): one audit.k8s.io/v1 Event per line at the Metadata
//! level, rotated by size (`--audit-log-maxsize`, `--audit-log-maxbackup`).
//!
//! Recording never holds a request up: [`AuditLog::record`] hands the event to a bounded
//! channel, and one writer thread appends and flushes. When the channel is full the
//! event is dropped and counted, and the writer notes the count in the log once it has
//! room again. [`audit_mutations`] is the middleware that records requests; it runs
//! after authentication (it reads the request's [`crate::auth::UserInfo`]) and before
//! authorization (refused requests are recorded too, as kube-apiserver does).

mod event;
mod middleware;
mod rotation;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

pub use event::{AuditUser, Event, ObjectReference, ResponseStatus};

/// The name of the object a create made, which only its body knew: the create handler
/// puts it into the response's extensions, and the audit event names the object with it,
/// as kube-apiserver fills `objectRef.name` from the request body.
#[derive(Clone, Debug)]
pub struct CreatedObjectName(pub String);

/// The user a request acted as through impersonation: the impersonation middleware puts
/// it into the response's extensions, and the audit event records it as
/// `impersonatedUser` beside the real requester.
#[derive(Clone, Debug)]
pub struct ImpersonatedUser(pub crate::auth::UserInfo);
pub use middleware::{AUDIT_ID_HEADER, audit_mutations};
pub use rotation::DEFAULT_MAX_SIZE_BYTES;
pub use writer::{DROPPED_EVENTS_API_VERSION, DROPPED_EVENTS_KIND};

use rotation::RotatingFile;
use writer::Message;

/// How many events may wait for the writer: kube-apiserver's default audit buffer
/// (`--audit-log-batch-buffer-size`).
const BUFFER_CAPACITY: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot create the audit log's directory {}: {source}", path.display())]
    CreateDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the audit log {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the audit log's writer thread: {0}")]
    StartWriter(#[source] std::io::Error),
    #[error("the audit log's writer has stopped")]
    WriterStopped,
}

/// A handle to the audit log; clones share one writer, which stops when the last handle
/// is dropped (after writing what it was given).
#[derive(Clone, Debug)]
pub struct AuditLog {
    sender: mpsc::Sender<Message>,
    /// Events dropped since the writer last noted them.
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Opens (or creates, with its directory) the log at `path` for appending and starts
    /// its writer. The log rotates when a line would take it past `max_size_bytes` (0:
    /// lumberjack's 100 MiB), keeping `max_backups` old files (0: all of them).
    pub fn open(
        path: &Path,
        max_size_bytes: u64,
        max_backups: usize,
    ) -> Result<AuditLog, AuditError> {
        let file = RotatingFile::open(path, max_size_bytes, max_backups)?;
        let (log, receiver) = Self::channel(BUFFER_CAPACITY);
        writer::start(file, receiver, Arc::clone(&log.dropped))?;
        Ok(log)
    }

    fn channel(capacity: usize) -> (AuditLog, mpsc::Receiver<Message>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let log = AuditLog {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (log, receiver)
    }

    /// Hands the event to the writer without waiting; when the writer is behind and the
    /// buffer full, the event is dropped and counted instead.
    pub fn record(&self, event: Event) {
        match self.sender.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
                // One warning per run of drops; the writer logs the run's total.
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "the audit log's buffer is full: audit events are dropped until the writer catches up"
                    );
                }
            }
        }
    }

    /// Waits until every event recorded before is written and flushed (for a clean
    /// shutdown, and for tests that read the log).
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, written) = oneshot::channel();
        self.sender
            .send(Message::Flush(done))
            .await
            .map_err(|_| AuditError::WriterStopped)?;
        written.await.map_err(|_| AuditError::WriterStopped)
    }
}

#[cfg(test)]
mod tests;
