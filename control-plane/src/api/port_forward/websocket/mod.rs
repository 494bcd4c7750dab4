//! Port forwarding over WebSockets: the handshake, a writer shared by a connection's
//! tasks, and SPDY tunneled in binary messages (`SPDY/3.1+portforward.k8s.io`, what
//! kubectl 1.31 and later try first). The channel protocol is in `channels`.

mod channels;
pub(in crate::api) mod frame;

use std::sync::Arc;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

pub use channels::{MAX_PORTS, serve as serve_channels};
use frame::{Message, MessageReader, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PONG};

use super::node_tunnel::PodTunnels;
use super::spdy;

/// The GUID RFC 6455 appends to the client's key.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Frames waiting for the writer.
const OUTGOING_QUEUE: usize = 64;
/// How much of the SPDY session's bytes one binary message carries at most.
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub fn accept_key(client_key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(client_key.trim().as_bytes());
    hasher.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// Writes the frames queued on the returned sender, in order, and closes the
/// connection's writing side once every sender is gone.
pub(in crate::api) fn start_writer<Writer>(mut writer: Writer) -> mpsc::Sender<Vec<u8>>
where
    Writer: AsyncWrite + Unpin + Send + 'static,
{
    let (outgoing, mut queue) = mpsc::channel::<Vec<u8>>(OUTGOING_QUEUE);
    tokio::spawn(async move {
        while let Some(first) = queue.recv().await {
            let mut batch = first;
            while batch.len() < READ_BUFFER_BYTES {
                let Ok(next) = queue.try_recv() else { break };
                batch.extend(next);
            }
            if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
                return;
            }
        }
        // Best effort: the client may have gone already.
        let _ = writer.shutdown().await;
    });
    outgoing
}

/// Serves SPDY tunneled in a WebSocket: the binary messages' bytes are the SPDY
/// connection's, in both directions.
pub async fn serve_spdy_tunnel<Io>(io: Io, tunnels: Arc<PodTunnels>)
where
    Io: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let outgoing = start_writer(writer);
    let (session_side, tunnel_side) = tokio::io::duplex(READ_BUFFER_BYTES);
    tokio::spawn(spdy::serve(session_side, tunnels));
    let (mut from_session, mut to_session) = tokio::io::split(tunnel_side);
    let inbound = async {
        let mut messages = MessageReader::new(tokio::io::BufReader::new(reader));
        loop {
            match messages.next().await {
                Ok(Some(Message::Binary(data))) => {
                    if to_session.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Ok(Some(Message::Ping(payload))) => {
                    let _ = outgoing.send(frame::frame(OPCODE_PONG, &payload)).await;
                }
                Ok(Some(Message::Pong)) => {}
                Ok(Some(Message::Close(payload))) => {
                    let _ = outgoing.send(frame::frame(OPCODE_CLOSE, &payload)).await;
                    break;
                }
                // The tunnel carries binary messages only, as client-go's tunneling
                // connection insists too.
                Ok(Some(Message::Text(_)) | None) => break,
                Err(error) => {
                    tracing::debug!(%error, "a tunneled port-forward connection broke the WebSocket protocol");
                    break;
                }
            }
        }
        // The SPDY session sees the end of its input and finishes.
        let _ = to_session.shutdown().await;
    };
    let outbound = async {
        let mut buffer = vec![0u8; READ_BUFFER_BYTES];
        loop {
            match from_session.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let message = frame::frame(OPCODE_BINARY, &buffer[..read]);
                    if outgoing.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Status 1000: a normal closure.
        let _ = outgoing
            .send(frame::frame(OPCODE_CLOSE, &1000u16.to_be_bytes()))
            .await;
    };
    // The client's end lets the session finish its answers; the session's end leaves
    // nothing that the client's further messages could go to.
    let mut inbound = std::pin::pin!(inbound);
    let mut outbound = std::pin::pin!(outbound);
    tokio::select! {
        () = &mut inbound => outbound.await,
        () = &mut outbound => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // The example of RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
