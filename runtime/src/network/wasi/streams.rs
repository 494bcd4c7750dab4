//! A connected socket's two wasi:io streams over the connection's pipes.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use crate::network::pipe::{PipeReader, PipeWriter, ReadOutcome, ReaderClosed};

pub struct SocketInputStream {
    pub reader: Arc<PipeReader>,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for SocketInputStream {
    async fn ready(&mut self) {
        self.reader.readable().await;
    }
}

impl InputStream for SocketInputStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        match self.reader.try_read(size) {
            ReadOutcome::Data(data) => Ok(data),
            ReadOutcome::Empty => Ok(Bytes::new()),
            ReadOutcome::Closed => Err(StreamError::Closed),
        }
    }
}

pub struct SocketOutputStream {
    pub writer: Arc<PipeWriter>,
}

fn connection_reset() -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::msg(
        "the connection was closed by the peer",
    ))
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for SocketOutputStream {
    async fn ready(&mut self) {
        self.writer.writable().await;
    }
}

impl OutputStream for SocketOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.writer
            .write(bytes)
            .map_err(|ReaderClosed| connection_reset())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Bytes are in the peer's queue as soon as they are written: nothing to push.
        self.writer
            .capacity()
            .map(|_| ())
            .map_err(|ReaderClosed| connection_reset())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.writer
            .capacity()
            .map_err(|ReaderClosed| connection_reset())
    }
}
