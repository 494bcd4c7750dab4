//! What comes back from the node on a session's upgraded connection, and where it goes.
//! An attach's answer is the container's log as raw bytes, stdout and stderr merged; an
//! exec's is frames of `[kind, length (u32, big-endian), payload]`: 1 stdout, 2 stderr,
//! 3 the command's Status, the last one (the runtime crate's `exec::wire`).

use std::future::Future;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

const READ_BUFFER_BYTES: usize = 32 * 1024;
/// The largest frame a node sends is one guest write (64 KiB) or a Status; anything
/// much larger is a broken stream.
const MAX_FRAME_BYTES: usize = 1024 * 1024;
const STDOUT_FRAME: u8 = 1;
const STDERR_FRAME: u8 = 2;
const STATUS_FRAME: u8 = 3;

/// How the node's answer is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeFraming {
    /// Raw bytes, stdout and stderr merged (attach).
    Merged,
    /// Frames with the streams apart and a final Status (exec).
    Frames,
}

/// One of the client's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Which output streams the client asked for, and whether what the node sends may go to
/// either (merged output, or a tty's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    pub stdout: bool,
    pub stderr: bool,
    pub merged: bool,
}

impl Routing {
    /// The client's stream for output the node sent as `from`, if the client wants it:
    /// merged output goes to stdout, or to stderr when only that was asked for.
    pub fn destination(&self, from: OutputStream) -> Option<OutputStream> {
        if !self.merged {
            let wanted = match from {
                OutputStream::Stdout => self.stdout,
                OutputStream::Stderr => self.stderr,
            };
            return wanted.then_some(from);
        }
        if self.stdout {
            Some(OutputStream::Stdout)
        } else if self.stderr {
            Some(OutputStream::Stderr)
        } else {
            None
        }
    }
}

/// What the node sent next.
#[derive(Debug, PartialEq)]
pub enum NodeEvent {
    Output(OutputStream, Vec<u8>),
    /// The end: the command's Status if the node sent one, or why the session failed.
    End(Result<Option<Value>, String>),
}

/// Reads the node's answer event by event.
pub struct NodeReader<Reader> {
    reader: Reader,
    framing: NodeFraming,
    buffer: Vec<u8>,
}

impl<Reader: AsyncRead + Unpin> NodeReader<Reader> {
    pub fn new(reader: Reader, framing: NodeFraming) -> Self {
        NodeReader {
            reader,
            framing,
            buffer: vec![0; READ_BUFFER_BYTES],
        }
    }

    pub async fn next(&mut self) -> NodeEvent {
        match self.framing {
            NodeFraming::Merged => match self.reader.read(&mut self.buffer).await {
                Ok(0) | Err(_) => NodeEvent::End(Ok(None)),
                Ok(read) => NodeEvent::Output(OutputStream::Stdout, self.buffer[..read].to_vec()),
            },
            NodeFraming::Frames => self.next_frame().await,
        }
    }

    async fn next_frame(&mut self) -> NodeEvent {
        let lost = || {
            NodeEvent::End(Err(
                "error executing command in container: the node's connection ended before the command's status"
                    .to_owned(),
            ))
        };
        loop {
            let mut header = [0u8; 5];
            if self.reader.read_exact(&mut header).await.is_err() {
                return lost();
            }
            let [kind, length @ ..] = header;
            let length = u32::from_be_bytes(length) as usize;
            if length > MAX_FRAME_BYTES {
                return NodeEvent::End(Err(format!(
                    "error executing command in container: the node sent a frame of {length} bytes"
                )));
            }
            let mut payload = vec![0u8; length];
            if self.reader.read_exact(&mut payload).await.is_err() {
                return lost();
            }
            match kind {
                STDOUT_FRAME => return NodeEvent::Output(OutputStream::Stdout, payload),
                STDERR_FRAME => return NodeEvent::Output(OutputStream::Stderr, payload),
                STATUS_FRAME => {
                    return NodeEvent::End(serde_json::from_slice(&payload).map(Some).map_err(
                        |error| {
                            format!(
                                "error executing command in container: the node's status: {error}"
                            )
                        },
                    ));
                }
                // A kind this server does not know is skipped, not fatal.
                _ => {}
            }
        }
    }
}

/// Sends the node's output where the client wants it with `send` (which answers false
/// once the client is gone), until the node's end.
pub async fn forward_output<Reader, Send, Sent>(
    reader: Reader,
    framing: NodeFraming,
    routing: Routing,
    mut send: Send,
) -> Result<Option<Value>, String>
where
    Reader: AsyncRead + Unpin,
    Send: FnMut(OutputStream, Vec<u8>) -> Sent,
    Sent: Future<Output = bool>,
{
    let mut events = NodeReader::new(reader, framing);
    loop {
        match events.next().await {
            NodeEvent::End(end) => return end,
            NodeEvent::Output(from, bytes) => {
                if let Some(to) = routing.destination(from)
                    && !send(to, bytes).await
                {
                    return Ok(None);
                }
            }
        }
    }
}
