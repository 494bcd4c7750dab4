//! A guest's stdout and stderr: written into its container's log, kept in memory
//! (what an exec probe printed, which goes into the probe's event instead of the log), or
//! streamed to a `kubectl exec` client.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmkube_container_logs::{ContainerLogWriter, LogStream};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Where a guest's stdout and stderr go.
#[derive(Clone, Debug)]
pub enum GuestOutput {
    /// The container's log.
    Log(ContainerLogWriter),
    /// Memory, up to a limit: both streams interleaved as they were written.
    Captured(CapturedOutput),
    /// An exec session's client, each stream apart (`crate::exec`).
    Streamed(crate::exec::ExecOutput),
}

impl From<ContainerLogWriter> for GuestOutput {
    fn from(log: ContainerLogWriter) -> GuestOutput {
        GuestOutput::Log(log)
    }
}

impl GuestOutput {
    fn write(&self, stream: LogStream, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            GuestOutput::Log(log) => log.write(stream, bytes),
            GuestOutput::Captured(captured) => {
                captured.append(bytes);
                Ok(())
            }
            GuestOutput::Streamed(streamed) => streamed.write(stream, bytes),
        }
    }

    /// How many bytes may be written now; None once the output is closed. Only a
    /// streamed output ever waits.
    fn writable_bytes(&self) -> Option<usize> {
        match self {
            GuestOutput::Streamed(streamed) => streamed.writable_bytes(),
            GuestOutput::Log(_) | GuestOutput::Captured(_) => Some(64 * 1024),
        }
    }

    async fn writable(&self) {
        if let GuestOutput::Streamed(streamed) = self {
            streamed.writable().await;
        }
    }

    /// Ends the output once the guest has exited: a log's unfinished lines are written.
    pub fn close(&self) {
        if let GuestOutput::Log(log) = self {
            log.close();
        }
    }
}

/// Output kept in memory. What comes after the limit is dropped without an error, so a
/// chatty guest is never failed for it (as the kubelet's LimitWriter does).
#[derive(Clone, Debug)]
pub struct CapturedOutput {
    bytes: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl CapturedOutput {
    pub fn new(limit: usize) -> CapturedOutput {
        CapturedOutput {
            bytes: Arc::default(),
            limit,
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut kept = self.lock();
        let room = self.limit.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was captured so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One of a guest's output streams. Log writes are buffered file writes and captures are
/// memory copies, quick enough to make inline, so those streams are always ready; only
/// an exec's streamed output applies back-pressure (its client reads at its own pace).
#[derive(Clone)]
pub struct GuestLogOutput {
    output: GuestOutput,
    stream: LogStream,
}

impl GuestLogOutput {
    pub fn new(output: GuestOutput, stream: LogStream) -> GuestLogOutput {
        GuestLogOutput { output, stream }
    }
}

impl IsTerminal for GuestLogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLogOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestLogOutput {
    async fn ready(&mut self) {
        self.output.writable().await;
    }
}

impl OutputStream for GuestLogOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.output
            .write(self.stream, &bytes)
            .map_err(|error| StreamError::LastOperationFailed(wasmtime::Error::new(error)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.output.writable_bytes().ok_or(StreamError::Closed)
    }
}

impl AsyncWrite for GuestLogOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            self.output
                .write(self.stream, buffer)
                .map(|()| buffer.len()),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
