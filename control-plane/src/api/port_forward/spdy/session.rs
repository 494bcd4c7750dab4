//! One SPDY port-forward connection, as the kubelet serves it: the client opens a pair of
//! streams per forwarded connection (an error stream, then a data stream, both with the
//! same `requestID` and `port` headers); once both are there, the data stream is joined
//! to a tunnel to the pod's port, and the error stream carries what went wrong, if
//! anything. Both are closed when the forwarding ends.
//!
//! Three tasks share the connection: one reads and decodes frames, one writes frames in
//! order, and the session loop between them tracks the streams and hands data to each
//! pair's forwarder task.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame::{
    Frame, FrameError, FrameReader, FrameWriter, GOAWAY_PROTOCOL_ERROR, RST_CANCEL,
    RST_PROTOCOL_ERROR, data_frame, goaway_frame, ping_frame, rst_stream_frame,
};
use crate::api::port_forward::node_tunnel::{PodTunnels, Tunnel};

/// Frames waiting for the writer; a slow client holds the forwarders back.
const OUTGOING_QUEUE: usize = 64;
/// Data frames from the client waiting for the pod; a slow pod holds the client back.
const INBOUND_QUEUE: usize = 16;
/// How much of the pod's answer one DATA frame carries at most.
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// The headers of a port-forward stream (`k8s.io/api/core/v1`'s constants, lowercased as
/// SPDY carries header names).
const STREAM_TYPE_HEADER: &str = "streamtype";
const PORT_HEADER: &str = "port";
const REQUEST_ID_HEADER: &str = "requestid";

enum Outgoing {
    /// The reply that accepts a stream; encoded by the writer, since header blocks share
    /// one zlib stream and must be encoded in the order they are sent.
    SynReply(u32),
    Frame(Vec<u8>),
}

/// What the client sent on a data stream, for its forwarder.
enum Inbound {
    Data(Bytes),
    Fin,
}

enum OpenStream {
    Error,
    Data {
        inbound: mpsc::Sender<Inbound>,
        /// Whether its pair is complete and a forwarder reads `inbound`; until then data
        /// is only queued, never waited on.
        forwarding: bool,
    },
}

/// A data stream waiting for its error stream, or the other way round.
#[derive(Default)]
struct PendingPair {
    error_stream: Option<u32>,
    data_stream: Option<(u32, u16, mpsc::Receiver<Inbound>)>,
}

struct Session {
    tunnels: Arc<PodTunnels>,
    outgoing: mpsc::Sender<Outgoing>,
    finished: mpsc::UnboundedSender<[u32; 2]>,
    last_stream_id: u32,
    streams: HashMap<u32, OpenStream>,
    pairs: HashMap<String, PendingPair>,
}

/// Serves a connection that has switched to SPDY/3.1 until the client closes it.
pub async fn serve<Io>(io: Io, tunnels: Arc<PodTunnels>)
where
    Io: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let (outgoing, outgoing_queue) = mpsc::channel(OUTGOING_QUEUE);
    tokio::spawn(write_frames(writer, outgoing_queue));
    let (frame_sender, mut frames) = mpsc::channel(INBOUND_QUEUE);
    let reading = tokio::spawn(read_frames(reader, frame_sender));
    let (finished, mut finished_pairs) = mpsc::unbounded_channel();
    let mut session = Session {
        tunnels,
        outgoing,
        finished,
        last_stream_id: 0,
        streams: HashMap::new(),
        pairs: HashMap::new(),
    };
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(Ok(frame)) => session.handle(frame).await,
                Some(Err(error)) => {
                    tracing::debug!(%error, "a port-forward connection broke the SPDY protocol");
                    let goaway = goaway_frame(session.last_stream_id, GOAWAY_PROTOCOL_ERROR);
                    session.send(goaway).await;
                    break;
                }
                None => break,
            },
            Some(streams) = finished_pairs.recv() => {
                for stream_id in streams {
                    session.streams.remove(&stream_id);
                }
            }
        }
    }
    reading.abort();
}

async fn read_frames<Reader: AsyncRead + Unpin>(
    reader: Reader,
    frames: mpsc::Sender<Result<Frame, FrameError>>,
) {
    let mut reader = FrameReader::new(tokio::io::BufReader::new(reader));
    loop {
        match reader.next().await {
            Ok(Some(frame)) => {
                if frames.send(Ok(frame)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                let _ = frames.send(Err(error)).await;
                return;
            }
        }
    }
}

/// Writes frames in the order they were queued, several per write when they queue up.
async fn write_frames<Writer: AsyncWrite + Unpin>(
    mut writer: Writer,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    let mut encoder = FrameWriter::default();
    let mut encode = |message: Outgoing| match message {
        Outgoing::SynReply(stream_id) => encoder.syn_reply(stream_id),
        Outgoing::Frame(frame) => frame,
    };
    while let Some(first) = outgoing.recv().await {
        let mut batch = encode(first);
        while batch.len() < READ_BUFFER_BYTES {
            let Ok(next) = outgoing.try_recv() else { break };
            batch.extend(encode(next));
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    // Best effort: the client may have gone already.
    let _ = writer.shutdown().await;
}

impl Session {
    async fn send(&self, frame: Vec<u8>) {
        // The writer stops only when the client is gone; then nothing needs sending.
        let _ = self.outgoing.send(Outgoing::Frame(frame)).await;
    }

    async fn handle(&mut self, frame: Frame) {
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
            } => self.open_stream(stream_id, fin, &headers).await,
            Frame::Data {
                stream_id,
                fin,
                data,
            } => self.receive_data(stream_id, fin, data).await,
            // Dropping the stream's queue tells its forwarder the client gave up on it.
            Frame::RstStream { stream_id } => {
                self.streams.remove(&stream_id);
            }
            // Pings the client starts have odd ids and are answered with the same frame.
            Frame::Ping { id } if id % 2 == 1 => self.send(ping_frame(id)).await,
            Frame::Ping { .. } | Frame::GoAway | Frame::Ignored => {}
        }
    }

    async fn open_stream(&mut self, stream_id: u32, fin: bool, headers: &[(String, String)]) {
        // spdystream's rule: the client's stream ids are odd and only go up.
        if stream_id.is_multiple_of(2) || stream_id <= self.last_stream_id {
            self.send(rst_stream_frame(stream_id, RST_PROTOCOL_ERROR))
                .await;
            return;
        }
        self.last_stream_id = stream_id;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(candidate, _)| candidate == name)
                .map(|(_, value)| value.as_str())
        };
        let (stream_type, port) =
            match validate_stream(header(STREAM_TYPE_HEADER), header(PORT_HEADER)) {
                Ok(valid) => valid,
                Err(why) => {
                    tracing::debug!(stream_id, why, "port-forward stream rejected");
                    self.send(rst_stream_frame(stream_id, RST_CANCEL)).await;
                    return;
                }
            };
        let _ = self.outgoing.send(Outgoing::SynReply(stream_id)).await;
        let request_id = match header(REQUEST_ID_HEADER).filter(|id| !id.is_empty()) {
            Some(request_id) => request_id.to_owned(),
            // Clients older than request ids send each pair's streams one after the
            // other, so the kubelet pairs an error stream's id with the data stream's
            // id less two.
            None if stream_type == StreamType::Data => stream_id.saturating_sub(2).to_string(),
            None => stream_id.to_string(),
        };
        let pair = self.pairs.entry(request_id.clone()).or_default();
        let pair_error_stream = pair.error_stream;
        let assigned = match stream_type {
            StreamType::Error if pair.error_stream.is_none() => {
                pair.error_stream = Some(stream_id);
                self.streams.insert(stream_id, OpenStream::Error);
                true
            }
            StreamType::Data if pair.data_stream.is_none() => {
                let (inbound, queue) = mpsc::channel(INBOUND_QUEUE);
                if fin {
                    let _ = inbound.try_send(Inbound::Fin);
                }
                pair.data_stream = Some((stream_id, port, queue));
                let forwarding = false;
                self.streams.insert(
                    stream_id,
                    OpenStream::Data {
                        inbound,
                        forwarding,
                    },
                );
                true
            }
            _ => false,
        };
        if !assigned {
            let message = format!(
                "error processing stream for request {request_id}: {} stream already assigned",
                stream_type.name()
            );
            if let Some(error_stream) = pair_error_stream {
                self.send(data_frame(error_stream, false, message.as_bytes()))
                    .await;
            }
            self.send(rst_stream_frame(stream_id, RST_CANCEL)).await;
            return;
        }
        self.start_when_paired(&request_id);
    }

    fn start_when_paired(&mut self, request_id: &str) {
        let complete = self
            .pairs
            .get(request_id)
            .is_some_and(|pair| pair.error_stream.is_some() && pair.data_stream.is_some());
        if !complete {
            return;
        }
        let Some(PendingPair {
            error_stream: Some(error_stream),
            data_stream: Some((data_stream, port, inbound)),
        }) = self.pairs.remove(request_id)
        else {
            return;
        };
        if let Some(OpenStream::Data { forwarding, .. }) = self.streams.get_mut(&data_stream) {
            *forwarding = true;
        }
        let forwarder = Forwarder {
            tunnels: Arc::clone(&self.tunnels),
            outgoing: self.outgoing.clone(),
            data_stream,
            error_stream,
            port,
        };
        let finished = self.finished.clone();
        tokio::spawn(async move {
            forwarder.run(inbound).await;
            let _ = finished.send([data_stream, error_stream]);
        });
    }

    async fn receive_data(&mut self, stream_id: u32, fin: bool, data: Bytes) {
        let Some(OpenStream::Data {
            inbound,
            forwarding,
        }) = self.streams.get(&stream_id)
        else {
            // Data on an error stream, or on a stream that is gone, goes nowhere.
            return;
        };
        let (inbound, forwarding) = (inbound.clone(), *forwarding);
        let messages = (!data.is_empty())
            .then_some(Inbound::Data(data))
            .into_iter()
            .chain(fin.then_some(Inbound::Fin));
        for message in messages {
            if forwarding {
                // A forwarder that has finished no longer reads; what it is sent is moot.
                let _ = inbound.send(message).await;
            } else if inbound.try_send(message).is_err() {
                // More data than the queue holds before the pair is complete: the
                // client is not following the protocol.
                self.streams.remove(&stream_id);
                self.send(rst_stream_frame(stream_id, RST_CANCEL)).await;
                return;
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum StreamType {
    Data,
    Error,
}

impl StreamType {
    fn name(self) -> &'static str {
        match self {
            StreamType::Data => "data",
            StreamType::Error => "error",
        }
    }
}

/// Checks a new stream's headers as the kubelet does, in its words.
fn validate_stream(
    stream_type: Option<&str>,
    port: Option<&str>,
) -> Result<(StreamType, u16), String> {
    let port_text = port
        .filter(|port| !port.is_empty())
        .ok_or_else(|| "\"port\" header is required".to_owned())?;
    let port = match port_text.parse::<u16>() {
        Ok(0) => return Err(format!("port \"{port_text}\" must be > 0")),
        Ok(port) => port,
        Err(error) => {
            return Err(format!(
                "unable to parse \"{port_text}\" as a port: {error}"
            ));
        }
    };
    let stream_type = match stream_type {
        None | Some("") => return Err("\"streamType\" header is required".to_owned()),
        Some("data") => StreamType::Data,
        Some("error") => StreamType::Error,
        Some(other) => return Err(format!("invalid stream type \"{other}\"")),
    };
    Ok((stream_type, port))
}

/// Joins one pair of streams to the pod's port.
struct Forwarder {
    tunnels: Arc<PodTunnels>,
    outgoing: mpsc::Sender<Outgoing>,
    data_stream: u32,
    error_stream: u32,
    port: u16,
}

impl Forwarder {
    async fn send(&self, frame: Vec<u8>) -> bool {
        self.outgoing.send(Outgoing::Frame(frame)).await.is_ok()
    }

    async fn run(self, mut inbound: mpsc::Receiver<Inbound>) {
        let close_data_stream = match self.tunnels.open(self.port).await {
            Ok(tunnel) => self.pump(tunnel, &mut inbound).await,
            Err(message) => {
                tracing::debug!(port = self.port, %message, "port forward failed");
                self.send(data_frame(self.error_stream, false, message.as_bytes()))
                    .await
            }
        };
        // As the kubelet: the error stream is closed when forwarding ends, and the data
        // stream too unless the client has reset it.
        self.send(data_frame(self.error_stream, true, &[])).await;
        if close_data_stream {
            self.send(data_frame(self.data_stream, true, &[])).await;
        }
    }

    /// Copies both ways until the pod's side ends (true) or the client resets the data
    /// stream or goes away (false). The client's end of sending is passed on to the pod
    /// as a half-close, and the pod's answer still flows back after it.
    async fn pump(&self, tunnel: Tunnel, inbound: &mut mpsc::Receiver<Inbound>) -> bool {
        let (mut from_pod, mut to_pod) = tokio::io::split(tunnel);
        let upstream = async {
            let mut writable = true;
            while let Some(message) = inbound.recv().await {
                match message {
                    Inbound::Data(data) if writable => {
                        writable = to_pod.write_all(&data).await.is_ok();
                    }
                    Inbound::Data(_) => {}
                    Inbound::Fin => {
                        if writable {
                            // Best effort: a pod that already closed needs no half-close.
                            let _ = to_pod.shutdown().await;
                        }
                        writable = false;
                    }
                }
            }
        };
        let downstream = async {
            let mut buffer = vec![0u8; READ_BUFFER_BYTES];
            loop {
                match from_pod.read(&mut buffer).await {
                    Ok(0) | Err(_) => return true,
                    Ok(read) => {
                        let frame = data_frame(self.data_stream, false, &buffer[..read]);
                        if !self.send(frame).await {
                            return false;
                        }
                    }
                }
            }
        };
        tokio::select! {
            () = upstream => false,
            pod_side_ended = downstream => pod_side_ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_checked_in_the_kubelets_words() {
        assert_eq!(
            validate_stream(Some("data"), Some("8080")),
            Ok((StreamType::Data, 8080))
        );
        assert_eq!(
            validate_stream(Some("error"), None),
            Err("\"port\" header is required".to_owned())
        );
        assert_eq!(
            validate_stream(Some("error"), Some("0")),
            Err("port \"0\" must be > 0".to_owned())
        );
        assert_eq!(
            validate_stream(None, Some("80")),
            Err("\"streamType\" header is required".to_owned())
        );
        assert_eq!(
            validate_stream(Some("stdin"), Some("80")),
            Err("invalid stream type \"stdin\"".to_owned())
        );
    }
}
