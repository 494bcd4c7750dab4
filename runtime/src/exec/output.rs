//! An exec'ed guest's stdout and stderr, kept apart and streamed to the client as they
//! are written, with back-pressure: the guest may only write when the queue to the
//! client has room, so a guest that prints faster than the client reads waits (at its
//! next write) instead of growing the node's memory.

use std::io;

use bytes::Bytes;
use tokio::sync::mpsc;
use wasmkube_container_logs::LogStream;

/// How many bytes one write may carry: each write is one chunk of the queue.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// How many chunks wait for the client at most (so at most 1 MiB per exec).
const QUEUED_CHUNKS: usize = 16;

/// One write of the guest.
#[derive(Debug)]
pub struct OutputChunk {
    pub stream: LogStream,
    pub bytes: Bytes,
}

/// The guest's side of the queue: both streams write into it, in order.
#[derive(Clone, Debug)]
pub struct ExecOutput {
    sender: mpsc::Sender<OutputChunk>,
}

impl ExecOutput {
    /// The guest's side and the session's side of a new queue.
    pub fn channel() -> (ExecOutput, mpsc::Receiver<OutputChunk>) {
        let (sender, receiver) = mpsc::channel(QUEUED_CHUNKS);
        (ExecOutput { sender }, receiver)
    }

    /// How many bytes the guest may write now: a chunk while the queue has room, none
    /// while it is full; None once the session is gone (the stream is closed).
    pub fn writable_bytes(&self) -> Option<usize> {
        if self.sender.is_closed() {
            return None;
        }
        Some(if self.sender.capacity() > 0 {
            CHUNK_BYTES
        } else {
            0
        })
    }

    /// Waits until the queue has room (or the session is gone). The guest is the only
    /// writer, so the room is still there when it writes.
    pub async fn writable(&self) {
        // The reservation is given back at once: it only waits for room.
        let _ = self.sender.reserve().await;
    }

    /// Queues one write. Only what [`Self::writable_bytes`] allowed fits; anything more
    /// is the guest breaking the stream's contract, reported to it as a failed write.
    pub fn write(&self, stream: LogStream, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > CHUNK_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a write larger than the stream allowed",
            ));
        }
        let chunk = OutputChunk {
            stream,
            bytes: Bytes::copy_from_slice(bytes),
        };
        self.sender.try_send(chunk).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => io::Error::new(
                io::ErrorKind::WouldBlock,
                "the output was written before the stream was ready",
            ),
            mpsc::error::TrySendError::Closed(_) => {
                io::Error::new(io::ErrorKind::BrokenPipe, "the exec session has ended")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_makes_the_guest_wait_and_a_closed_one_ends_the_stream() {
        let (output, mut chunks) = ExecOutput::channel();
        for _ in 0..QUEUED_CHUNKS {
            assert_eq!(output.writable_bytes(), Some(CHUNK_BYTES));
            output.write(LogStream::Stdout, b"x").expect("room");
        }
        assert_eq!(output.writable_bytes(), Some(0));
        assert_eq!(
            output
                .write(LogStream::Stderr, b"y")
                .map_err(|error| error.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        let first = chunks.recv().await.expect("a chunk");
        assert_eq!(first.bytes.as_ref(), b"x");
        output.writable().await;
        assert_eq!(output.writable_bytes(), Some(CHUNK_BYTES));
        output.write(LogStream::Stderr, b"y").expect("room again");
        drop(chunks);
        assert_eq!(output.writable_bytes(), None);
        output.writable().await;
    }
}
