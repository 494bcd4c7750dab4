//! A guest's stdout and stderr, written into its container's log.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmkube_container_logs::{ContainerLogWriter, LogStream};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// One of a guest's output streams. Log writes are buffered file writes, quick enough to
/// make inline, so the stream is always ready and never applies back-pressure.
#[derive(Clone)]
pub struct GuestLogOutput {
    log: ContainerLogWriter,
    stream: LogStream,
}

impl GuestLogOutput {
    pub fn new(log: ContainerLogWriter, stream: LogStream) -> GuestLogOutput {
        GuestLogOutput { log, stream }
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
    async fn ready(&mut self) {}
}

impl OutputStream for GuestLogOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log
            .write(self.stream, &bytes)
            .map_err(|error| StreamError::LastOperationFailed(wasmtime::Error::new(error)))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl AsyncWrite for GuestLogOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.log.write(self.stream, buffer).map(|()| buffer.len()))
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
