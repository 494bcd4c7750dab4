//! The one thread that writes the audit log: it takes events from the bounded channel,
//! appends them a batch at a time, flushes after each batch, and notes events that were
//! dropped while the channel was full. A thread, not a task, because file writes block.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::AuditError;
use super::event::{Event, micro_time};
use super::rotation::RotatingFile;

/// At most this many events are written between two flushes, so that a steady stream
/// of requests still reaches the disk regularly.
const MAX_BATCH: usize = 1024;

/// The line that notes dropped events. It is not an audit.k8s.io Event (it has no
/// request), so it has its own kind, which readers of audit events can tell apart.
pub const DROPPED_EVENTS_KIND: &str = "DroppedEvents";
pub const DROPPED_EVENTS_API_VERSION: &str = "audit.wasmkube.dev/v1";

pub enum Message {
    Event(Box<Event>),
    /// Answered once everything sent before it is written and flushed.
    Flush(oneshot::Sender<()>),
}

pub fn start(
    file: RotatingFile,
    receiver: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
) -> Result<(), AuditError> {
    let writer = Writer {
        file,
        dropped,
        failing: false,
    };
    std::thread::Builder::new()
        .name("audit-log-writer".to_owned())
        .spawn(move || writer.run(receiver))
        .map(|_| ())
        .map_err(AuditError::StartWriter)
}

struct Writer {
    file: RotatingFile,
    dropped: Arc<AtomicU64>,
    /// Whether the last write failed, so that a full disk logs one warning, not one per
    /// event.
    failing: bool,
}

impl Writer {
    /// Runs until every handle to the log is gone.
    fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut flushes = Vec::new();
        while let Some(first) = receiver.blocking_recv() {
            self.handle(first, &mut flushes);
            for _ in 1..MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => self.handle(next, &mut flushes),
                    Err(_) => break,
                }
            }
            self.finish_batch();
            for flush in flushes.drain(..) {
                // The one who asked may have stopped waiting; nothing is lost then.
                let _ = flush.send(());
            }
        }
        self.finish_batch();
    }

    fn handle(&mut self, message: Message, flushes: &mut Vec<oneshot::Sender<()>>) {
        match message {
            Message::Event(event) => self.write(&*event),
            Message::Flush(done) => flushes.push(done),
        }
    }

    /// Notes the events dropped since the last batch (the channel has room again now
    /// that it was drained), then flushes.
    fn finish_batch(&mut self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                path = %self.file.path().display(),
                "audit events were dropped because the audit log's buffer was full"
            );
            self.write(&serde_json::json!({
                "kind": DROPPED_EVENTS_KIND,
                "apiVersion": DROPPED_EVENTS_API_VERSION,
                "count": dropped,
                "message": format!("{dropped} audit events were dropped because the audit log's buffer was full"),
                "timestamp": micro_time(jiff::Timestamp::now()),
            }));
        }
        if let Err(error) = self.file.flush() {
            self.failed(&error);
        }
    }

    fn write(&mut self, record: &impl serde::Serialize) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(%error, "cannot serialize an audit event");
                return;
            }
        };
        line.push(b'\n');
        match self.file.write_line(&line) {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    tracing::info!(path = %self.file.path().display(), "writing the audit log again");
                }
            }
            Err(error) => self.failed(&error),
        }
    }

    fn failed(&mut self, error: &std::io::Error) {
        if !self.failing {
            self.failing = true;
            tracing::warn!(
                %error,
                path = %self.file.path().display(),
                "cannot write the audit log; events are lost until it can be written again"
            );
        }
    }
}
