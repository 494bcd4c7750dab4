//! One direction of a virtual TCP connection: a bounded in-memory byte queue between a
//! writer and a reader, each of which may be a guest (through wasi:io streams) or the
//! node (through tokio's `AsyncRead`/`AsyncWrite`, for NodePorts, tunnels, probes and
//! port-forward). Nothing here touches a host socket.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many bytes one direction holds before its writer must wait: a socket buffer's
/// worth, large enough that a bulk transfer moves big chunks per wake-up.
pub const PIPE_CAPACITY: usize = 256 * 1024;

#[derive(Default)]
struct PipeState {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    /// The writer is gone or shut its side down: once drained, reads see end of stream.
    writer_closed: bool,
    /// The reader is gone: writes fail as a write to a closed socket does.
    reader_closed: bool,
    reader_waker: Option<Waker>,
    writer_waker: Option<Waker>,
}

struct Pipe {
    state: Mutex<PipeState>,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes exactly `wanted` bytes (no more than are queued) off the front of the queue,
/// without copying when they come from one chunk.
fn take_front(chunks: &mut VecDeque<Bytes>, wanted: usize) -> Bytes {
    match chunks.front_mut() {
        Some(front) if front.len() > wanted => return front.split_to(wanted),
        Some(front) if front.len() == wanted => return chunks.pop_front().unwrap_or_default(),
        _ => {}
    }
    let mut gathered = BytesMut::with_capacity(wanted);
    while gathered.len() < wanted {
        let Some(front) = chunks.front_mut() else {
            break;
        };
        let missing = wanted - gathered.len();
        if front.len() > missing {
            gathered.extend_from_slice(&front.split_to(missing));
        } else if let Some(chunk) = chunks.pop_front() {
            gathered.extend_from_slice(&chunk);
        }
    }
    gathered.freeze()
}

/// A new pipe's two ends.
pub fn pipe() -> (PipeWriter, PipeReader) {
    let pipe = Arc::new(Pipe {
        state: Mutex::new(PipeState::default()),
    });
    (
        PipeWriter {
            pipe: Arc::clone(&pipe),
        },
        PipeReader { pipe },
    )
}

/// What a non-blocking read found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(Bytes),
    /// Nothing buffered yet; the writer is still there.
    Empty,
    /// The writer closed and everything it wrote has been read.
    Closed,
}

pub struct PipeReader {
    pipe: Arc<Pipe>,
}

impl PipeReader {
    /// Takes up to `max` buffered bytes without waiting.
    pub fn try_read(&self, max: usize) -> ReadOutcome {
        let mut state = self.pipe.lock();
        if state.buffered == 0 {
            return if state.writer_closed {
                ReadOutcome::Closed
            } else {
                ReadOutcome::Empty
            };
        }
        let wanted = max.min(state.buffered);
        let data = take_front(&mut state.chunks, wanted);
        state.buffered -= data.len();
        if let Some(waker) = state.writer_waker.take() {
            waker.wake();
        }
        ReadOutcome::Data(data)
    }

    /// Ready when there is something to read or the writer has closed.
    pub fn poll_readable(&self, context: &mut Context<'_>) -> Poll<()> {
        let mut state = self.pipe.lock();
        if state.buffered > 0 || state.writer_closed {
            Poll::Ready(())
        } else {
            state.reader_waker = Some(context.waker().clone());
            Poll::Pending
        }
    }

    pub async fn readable(&self) {
        std::future::poll_fn(|context| self.poll_readable(context)).await
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut state = self.pipe.lock();
        state.reader_closed = true;
        state.chunks.clear();
        state.buffered = 0;
        if let Some(waker) = state.writer_waker.take() {
            waker.wake();
        }
    }
}

pub struct PipeWriter {
    pipe: Arc<Pipe>,
}

/// The reader has gone away: the peer closed its socket.
#[derive(Debug, PartialEq, Eq)]
pub struct ReaderClosed;

impl PipeWriter {
    /// How many bytes may be written now without waiting.
    pub fn capacity(&self) -> Result<usize, ReaderClosed> {
        let state = self.pipe.lock();
        if state.reader_closed {
            return Err(ReaderClosed);
        }
        Ok(PIPE_CAPACITY.saturating_sub(state.buffered))
    }

    /// Appends bytes; the caller has checked [`PipeWriter::capacity`], though going over
    /// it is harmless (the queue only grows).
    pub fn write(&self, data: Bytes) -> Result<(), ReaderClosed> {
        let mut state = self.pipe.lock();
        if state.reader_closed {
            return Err(ReaderClosed);
        }
        if data.is_empty() {
            return Ok(());
        }
        state.buffered += data.len();
        state.chunks.push_back(data);
        if let Some(waker) = state.reader_waker.take() {
            waker.wake();
        }
        Ok(())
    }

    /// Ready when there is room to write or the reader has gone.
    pub fn poll_writable(&self, context: &mut Context<'_>) -> Poll<()> {
        let mut state = self.pipe.lock();
        if state.reader_closed || state.buffered < PIPE_CAPACITY {
            Poll::Ready(())
        } else {
            state.writer_waker = Some(context.waker().clone());
            Poll::Pending
        }
    }

    pub async fn writable(&self) {
        std::future::poll_fn(|context| self.poll_writable(context)).await
    }

    /// Ready once the reader has taken everything written (or has gone): a flush.
    pub fn poll_drained(&self, context: &mut Context<'_>) -> Poll<()> {
        let mut state = self.pipe.lock();
        if state.reader_closed || state.buffered == 0 {
            Poll::Ready(())
        } else {
            state.writer_waker = Some(context.waker().clone());
            Poll::Pending
        }
    }

    /// Ends the stream: the reader sees end of stream after the buffered bytes.
    pub fn close(&self) {
        let mut state = self.pipe.lock();
        state.writer_closed = true;
        if let Some(waker) = state.reader_waker.take() {
            waker.wake();
        }
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// Both directions of a connection as the node sees one end: what tokio's copy
/// helpers, hyper and the tunnels work with.
pub struct VirtualStream {
    pub reader: PipeReader,
    pub writer: PipeWriter,
}

/// A connected pair of ends: what one side writes, the other reads.
pub fn connected_pair() -> (VirtualStream, VirtualStream) {
    let (a_writer, b_reader) = pipe();
    let (b_writer, a_reader) = pipe();
    (
        VirtualStream {
            reader: a_reader,
            writer: a_writer,
        },
        VirtualStream {
            reader: b_reader,
            writer: b_writer,
        },
    )
}

impl AsyncRead for VirtualStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            match self.reader.try_read(buffer.remaining()) {
                ReadOutcome::Data(data) => {
                    buffer.put_slice(&data);
                    return Poll::Ready(Ok(()));
                }
                ReadOutcome::Closed => return Poll::Ready(Ok(())),
                ReadOutcome::Empty => {
                    if self.reader.poll_readable(context).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

impl AsyncWrite for VirtualStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.writer.capacity() {
                Err(ReaderClosed) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Ok(0) => {
                    if self.writer.poll_writable(context).is_pending() {
                        return Poll::Pending;
                    }
                }
                Ok(room) => {
                    let length = room.min(data.len());
                    let written = self
                        .writer
                        .write(Bytes::copy_from_slice(&data[..length]))
                        .map(|()| length)
                        .map_err(|ReaderClosed| io::Error::from(io::ErrorKind::BrokenPipe));
                    return Poll::Ready(written);
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_written_at_one_end_are_read_at_the_other_then_end_of_stream() {
        let (mut left, mut right) = connected_pair();
        left.write_all(b"hello").await.expect("write");
        left.shutdown().await.expect("shutdown");
        let mut received = Vec::new();
        right.read_to_end(&mut received).await.expect("read");
        assert_eq!(received, b"hello");
        right
            .write_all(b"back")
            .await
            .expect("the other direction stays open");
        drop(right);
        let mut answer = Vec::new();
        left.read_to_end(&mut answer).await.expect("read");
        assert_eq!(answer, b"back");
    }

    #[tokio::test]
    async fn a_writer_waits_for_room_and_a_large_transfer_arrives_whole() {
        let (mut left, mut right) = connected_pair();
        let payload: Vec<u8> = (0..PIPE_CAPACITY * 3).map(|index| index as u8).collect();
        let expected = payload.clone();
        let sender = tokio::spawn(async move {
            left.write_all(&payload).await.expect("write");
            left.shutdown().await.expect("shutdown");
        });
        let mut received = Vec::new();
        right.read_to_end(&mut received).await.expect("read");
        sender.await.expect("sender");
        assert_eq!(received, expected);
    }

    #[test]
    fn writing_to_a_closed_reader_fails_and_reads_split_chunks() {
        let (writer, reader) = pipe();
        writer.write(Bytes::from_static(b"abcdef")).expect("write");
        writer.write(Bytes::from_static(b"gh")).expect("write");
        assert_eq!(
            reader.try_read(4),
            ReadOutcome::Data(Bytes::from_static(b"abcd"))
        );
        assert_eq!(
            reader.try_read(10),
            ReadOutcome::Data(Bytes::from_static(b"efgh"))
        );
        assert_eq!(reader.try_read(10), ReadOutcome::Empty);
        drop(reader);
        assert_eq!(writer.capacity(), Err(ReaderClosed));
        assert_eq!(writer.write(Bytes::from_static(b"x")), Err(ReaderClosed));
    }
}
