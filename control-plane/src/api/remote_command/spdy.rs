//! Attach and exec over SPDY/3.1 with the `v4.channel.k8s.io` stream protocol, what
//! kubectl before 1.30 speaks: the client opens one stream per channel, named by its
//! `streamType` header (`error`, `stdin`, `stdout`, `stderr`, `resize`); stdin's data
//! (and its FIN, the end of stdin) go to the node, the node's output comes back on the
//! stdout and stderr streams (as `Routing` sends it), and the end is a Status on the
//! error stream, after which every stream the server writes is finished.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::node_stream::{NodeFraming, OutputStream, Routing, forward_output};
use super::{StreamOptions, final_status};
use crate::api::port_forward::spdy::frame::{
    Frame, FrameError, FrameReader, FrameWriter, data_frame, ping_frame,
};

/// How long the client has to open the streams its request asked for, as the kubelet's
/// stream creation timeout.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
const QUEUE: usize = 64;
const STREAM_TYPE_HEADER: &str = "streamtype";

enum Outgoing {
    /// Encoded by the writer, since header blocks share one zlib stream.
    SynReply(u32),
    Frame(Vec<u8>),
}

/// The client's streams, by type.
#[derive(Default)]
struct Streams {
    error: Option<u32>,
    stdin: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
}

impl Streams {
    fn complete(&self, options: &StreamOptions) -> bool {
        self.error.is_some()
            && (!options.stdin || self.stdin.is_some())
            && (!options.stdout || self.stdout.is_some())
            && (!options.stderr || self.stderr.is_some())
    }
}

/// What the client's frames mean for the session.
enum Event {
    Stdin(bytes::Bytes),
    /// The last of stdin, with its end.
    StdinThenEnd(bytes::Bytes),
    StdinEnd,
    ClientGone,
    Nothing,
}

struct Session {
    outgoing: mpsc::Sender<Outgoing>,
    frames: mpsc::Receiver<Result<Frame, FrameError>>,
    streams: Streams,
}

impl Session {
    async fn send(&self, frame: Vec<u8>) {
        let _ = self.outgoing.send(Outgoing::Frame(frame)).await;
    }

    /// Acts on the client's next frame: opens streams, answers pings, and says what it
    /// means for stdin.
    async fn next_event(&mut self) -> Event {
        let frame = match self.frames.recv().await {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                tracing::debug!(%error, "a remote command's connection broke the SPDY protocol");
                return Event::ClientGone;
            }
            None => return Event::ClientGone,
        };
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
            } => {
                let _ = self.outgoing.send(Outgoing::SynReply(stream_id)).await;
                let stream_type = headers
                    .iter()
                    .find(|(name, _)| name == STREAM_TYPE_HEADER)
                    .map(|(_, value)| value.as_str());
                let slot = match stream_type {
                    Some("error") => &mut self.streams.error,
                    Some("stdin") => &mut self.streams.stdin,
                    Some("stdout") => &mut self.streams.stdout,
                    Some("stderr") => &mut self.streams.stderr,
                    // Resizes mean nothing to a guest, which has no terminal.
                    _ => return Event::Nothing,
                };
                slot.get_or_insert(stream_id);
                if fin && stream_type == Some("stdin") {
                    return Event::StdinEnd;
                }
                Event::Nothing
            }
            Frame::Data {
                stream_id,
                fin,
                data,
            } if Some(stream_id) == self.streams.stdin => match (fin, data.is_empty()) {
                (true, true) => Event::StdinEnd,
                (true, false) => Event::StdinThenEnd(data),
                (false, _) => Event::Stdin(data),
            },
            Frame::RstStream { stream_id } if Some(stream_id) == self.streams.stdin => {
                Event::StdinEnd
            }
            Frame::Ping { id } if id % 2 == 1 => {
                self.send(ping_frame(id)).await;
                Event::Nothing
            }
            Frame::GoAway => Event::ClientGone,
            _ => Event::Nothing,
        }
    }
}

/// Serves one SPDY session, joined to the node's stream.
pub async fn serve<Io, Node>(
    io: Io,
    node: Result<Node, String>,
    options: StreamOptions,
    routing: Routing,
    framing: NodeFraming,
) where
    Io: AsyncRead + AsyncWrite + Send + 'static,
    Node: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let (outgoing, queue) = mpsc::channel(QUEUE);
    tokio::spawn(write_frames(writer, queue));
    let (frame_sender, frames) = mpsc::channel(QUEUE);
    let reading = tokio::spawn(read_frames(reader, frame_sender));
    let mut session = Session {
        outgoing,
        frames,
        streams: Streams::default(),
    };
    let mut early_stdin = Vec::new();
    let mut stdin_ended = false;
    let waited = tokio::time::timeout(STREAM_CREATION_TIMEOUT, async {
        while !session.streams.complete(&options) {
            match session.next_event().await {
                Event::Stdin(data) => early_stdin.extend_from_slice(&data),
                Event::StdinThenEnd(data) => {
                    early_stdin.extend_from_slice(&data);
                    stdin_ended = true;
                }
                Event::StdinEnd => stdin_ended = true,
                Event::ClientGone => return false,
                Event::Nothing => {}
            }
        }
        true
    })
    .await;
    if waited != Ok(true) {
        tracing::debug!("a remote command's client did not open its streams");
        reading.abort();
        return;
    }
    let stdin = EarlyStdin {
        bytes: early_stdin,
        ended: stdin_ended,
    };
    let end = match node {
        Ok(node) => pump(&mut session, node, routing, framing, stdin).await,
        Err(message) => Err(message),
    };
    let status = final_status(end).to_string();
    if let Some(error_stream) = session.streams.error {
        session
            .send(data_frame(error_stream, true, status.as_bytes()))
            .await;
    }
    for stream in [session.streams.stdout, session.streams.stderr]
        .into_iter()
        .flatten()
    {
        session.send(data_frame(stream, true, &[])).await;
    }
    reading.abort();
}

/// The stdin that arrived while the client opened its streams.
struct EarlyStdin {
    bytes: Vec<u8>,
    ended: bool,
}

async fn pump<Node>(
    session: &mut Session,
    node: Node,
    routing: Routing,
    framing: NodeFraming,
    early_stdin: EarlyStdin,
) -> Result<Option<Value>, String>
where
    Node: AsyncRead + AsyncWrite + Send,
{
    let (from_node, mut to_node) = tokio::io::split(node);
    let outgoing = session.outgoing.clone();
    let (stdout_stream, stderr_stream) = (session.streams.stdout, session.streams.stderr);
    let inbound = async {
        let mut open = to_node.write_all(&early_stdin.bytes).await.is_ok();
        if early_stdin.ended {
            let _ = to_node.shutdown().await;
        }
        loop {
            match session.next_event().await {
                Event::Stdin(data) => {
                    open = open && to_node.write_all(&data).await.is_ok();
                }
                Event::StdinThenEnd(data) => {
                    if open {
                        let _ = to_node.write_all(&data).await;
                    }
                    let _ = to_node.shutdown().await;
                }
                Event::StdinEnd => {
                    let _ = to_node.shutdown().await;
                }
                Event::ClientGone => break,
                Event::Nothing => {}
            }
        }
        let _ = to_node.shutdown().await;
        std::future::pending::<()>().await;
    };
    let outbound = forward_output(from_node, framing, routing, |to, bytes| {
        let stream = match to {
            OutputStream::Stdout => stdout_stream,
            OutputStream::Stderr => stderr_stream,
        };
        let outgoing = outgoing.clone();
        async move {
            let Some(stream) = stream else {
                return true;
            };
            let frame = data_frame(stream, false, &bytes);
            outgoing.send(Outgoing::Frame(frame)).await.is_ok()
        }
    });
    // The node's end (the container's exit, the command's) ends the session.
    tokio::select! {
        () = inbound => Ok(None),
        end = outbound => end,
    }
}

async fn read_frames<Reader: AsyncRead + Unpin>(
    reader: Reader,
    frames: mpsc::Sender<Result<Frame, FrameError>>,
) {
    let mut reader = FrameReader::new(tokio::io::BufReader::new(reader));
    loop {
        let next = reader.next().await;
        let stop = !matches!(next, Ok(Some(_)));
        let sent = match next {
            Ok(Some(frame)) => frames.send(Ok(frame)).await,
            Ok(None) => return,
            Err(error) => frames.send(Err(error)).await,
        };
        if stop || sent.is_err() {
            return;
        }
    }
}

/// Writes frames in the order they were queued, then closes the connection once the
/// session is done with it.
async fn write_frames<Writer: AsyncWrite + Unpin>(
    mut writer: Writer,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    let mut encoder = FrameWriter::default();
    while let Some(message) = outgoing.recv().await {
        let frame = match message {
            Outgoing::SynReply(stream_id) => encoder.syn_reply(stream_id),
            Outgoing::Frame(frame) => frame,
        };
        if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
