//! A session over the WebSocket channel protocol: the client's stdin (channel 0) goes to
//! the node, the node's output comes back on stdout (1) and stderr (2), and the end is
//! a Status on the error channel (3) and a close frame.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::final_status;
use super::node_stream::{NodeFraming, OutputStream, Routing, forward_output};
use crate::api::port_forward::websocket::frame::{
    self, Message, MessageReader, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PONG,
};
use crate::api::port_forward::websocket::start_writer;

const STDIN_CHANNEL: u8 = 0;
const STDOUT_CHANNEL: u8 = 1;
const STDERR_CHANNEL: u8 = 2;
const ERROR_CHANNEL: u8 = 3;
/// v5's signal channel: `[255, N]` closes the client's stream N.
const CLOSE_CHANNEL: u8 = 255;

fn channel_message(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(payload.len() + 1);
    message.push(channel);
    message.extend_from_slice(payload);
    frame::frame(OPCODE_BINARY, &message)
}

/// Carries the client's stdin to the node and the node's output back, then ends with
/// the error channel's Status and a close frame.
pub async fn serve<Io, Node>(
    io: Io,
    node: Result<Node, String>,
    routing: Routing,
    framing: NodeFraming,
) where
    Io: AsyncRead + AsyncWrite + Send + 'static,
    Node: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let outgoing = start_writer(writer);
    let end = match node {
        Ok(node) => pump(reader, node, &outgoing, routing, framing).await,
        Err(message) => Err(message),
    };
    let status = final_status(end);
    let _ = outgoing
        .send(channel_message(
            ERROR_CHANNEL,
            status.to_string().as_bytes(),
        ))
        .await;
    // Status 1000: a normal closure.
    let _ = outgoing
        .send(frame::frame(OPCODE_CLOSE, &1000u16.to_be_bytes()))
        .await;
}

async fn pump<Reader, Node>(
    reader: Reader,
    node: Node,
    outgoing: &mpsc::Sender<Vec<u8>>,
    routing: Routing,
    framing: NodeFraming,
) -> Result<Option<Value>, String>
where
    Reader: AsyncRead + Send + Unpin,
    Node: AsyncRead + AsyncWrite + Send,
{
    let (from_node, mut to_node) = tokio::io::split(node);
    let inbound = async {
        let mut messages = MessageReader::new(tokio::io::BufReader::new(reader));
        loop {
            match messages.next().await {
                Ok(Some(Message::Binary(message))) => match message.first() {
                    Some(&STDIN_CHANNEL) if to_node.write_all(&message[1..]).await.is_err() => {
                        break;
                    }
                    Some(&CLOSE_CHANNEL) if message.get(1) == Some(&STDIN_CHANNEL) => {
                        let _ = to_node.shutdown().await;
                    }
                    // Resizes mean nothing to a guest, which has no terminal.
                    _ => {}
                },
                Ok(Some(Message::Ping(payload))) => {
                    let _ = outgoing.send(frame::frame(OPCODE_PONG, &payload)).await;
                }
                Ok(Some(Message::Pong | Message::Text(_))) => {}
                Ok(Some(Message::Close(_)) | None) => break,
                Err(error) => {
                    tracing::debug!(%error, "a remote command's WebSocket broke the protocol");
                    break;
                }
            }
        }
        // Without the client there is no more stdin.
        let _ = to_node.shutdown().await;
        std::future::pending::<()>().await;
    };
    let outbound = forward_output(from_node, framing, routing, |to, bytes| {
        let channel = match to {
            OutputStream::Stdout => STDOUT_CHANNEL,
            OutputStream::Stderr => STDERR_CHANNEL,
        };
        let message = channel_message(channel, &bytes);
        async move { outgoing.send(message).await.is_ok() }
    });
    // The node's end (the container's exit, the command's) ends the session.
    tokio::select! {
        () = inbound => Ok(None),
        end = outbound => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_message_is_a_binary_frame_led_by_its_channel() {
        assert_eq!(channel_message(3, b"x"), vec![0x82, 2, 3, b'x']);
    }
}
