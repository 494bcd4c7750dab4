//! `pods/attach` from the client side, as kubectl 1.30 and later speak it: a WebSocket
//! upgrade of an ordinary API request, with the `v5.channel.k8s.io` channel protocol.
//! Every binary message starts with its channel: 0 stdin (ours), 1 stdout, 2 stderr,
//! 3 the error channel (a Status when the attach ends); `[255, 0]` tells the server
//! that stdin has ended. This process's stdin is read on a thread of its own and sent
//! until its end; the container's output is written to `out` until the server closes.

use std::io::{Read, Write};

use base64::Engine;
use http::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::ClientError;
use crate::options::Connection;

const CHANNEL_PROTOCOL: &str = "v5.channel.k8s.io";
const STDIN_CHANNEL: u8 = 0;
const STDOUT_CHANNEL: u8 = 1;
const STDERR_CHANNEL: u8 = 2;
const ERROR_CHANNEL: u8 = 3;
const CLOSE_CHANNEL: u8 = 255;
const OPCODE_CONTINUATION: u8 = 0x0;
const OPCODE_BINARY: u8 = 0x2;
const OPCODE_CLOSE: u8 = 0x8;
const OPCODE_PING: u8 = 0x9;
const OPCODE_PONG: u8 = 0xa;
/// The largest message accepted from the server.
const MAX_MESSAGE_BYTES: u64 = 16 * 1024 * 1024;
const STDIN_CHUNK_BYTES: usize = 32 * 1024;

fn transport(what: &str, error: impl std::fmt::Display) -> ClientError {
    ClientError::Transport(format!("{what}: {error}"))
}

/// A client frame: whole and masked, as RFC 6455 requires of clients. The mask only
/// keeps intermediaries from reading the bytes as something else; it need not be secret.
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        short @ 0..=125 => frame.push(0x80 | short as u8),
        medium @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(index, byte)| byte ^ mask[index % 4]),
    );
    frame
}

fn new_mask() -> [u8; 4] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    nanos.to_le_bytes()
}

/// A whole message from the server: its opcode and payload.
async fn read_message<Reader: AsyncRead + Unpin>(
    reader: &mut Reader,
) -> Result<Option<(u8, Vec<u8>)>, ClientError> {
    let mut message: Option<(u8, Vec<u8>)> = None;
    loop {
        let mut head = [0u8; 2];
        match reader.read_exact(&mut head).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(transport("reading from the attach stream", error)),
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let length = match head[1] & 0x7f {
            126 => {
                let mut bytes = [0u8; 2];
                read_exactly(reader, &mut bytes).await?;
                u64::from(u16::from_be_bytes(bytes))
            }
            127 => {
                let mut bytes = [0u8; 8];
                read_exactly(reader, &mut bytes).await?;
                u64::from_be_bytes(bytes)
            }
            short => u64::from(short),
        };
        if length > MAX_MESSAGE_BYTES {
            return Err(ClientError::Transport(format!(
                "the attach stream sent a message of {length} bytes"
            )));
        }
        let mut payload = vec![0u8; usize::try_from(length).unwrap_or_default()];
        read_exactly(reader, &mut payload).await?;
        let whole = match (message.take(), opcode) {
            (Some((first, mut joined)), OPCODE_CONTINUATION) => {
                joined.extend_from_slice(&payload);
                (first, joined)
            }
            (_, opcode) => (opcode, payload),
        };
        if fin {
            return Ok(Some(whole));
        }
        message = Some(whole);
    }
}

/// Fills `buffer` from the attach stream; an end before it is full is an error.
async fn read_exactly<Reader: AsyncRead + Unpin>(
    reader: &mut Reader,
    buffer: &mut [u8],
) -> Result<(), ClientError> {
    reader
        .read_exact(buffer)
        .await
        .map(drop)
        .map_err(|error| transport("reading from the attach stream", error))
}

/// Reads this process's stdin on a thread of its own (a terminal read cannot be given
/// up, so the thread must not hold the process back) and passes its chunks on; an empty
/// chunk is the end.
fn read_stdin_in_background() -> mpsc::Receiver<Vec<u8>> {
    let (chunks, receiver) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; STDIN_CHUNK_BYTES];
        loop {
            let read = stdin.read(&mut buffer).unwrap_or(0);
            if chunks.blocking_send(buffer[..read].to_vec()).is_err() || read == 0 {
                return;
            }
        }
    });
    receiver
}

/// The failure in an error-channel Status, if it is one.
fn status_failure(payload: &[u8]) -> Option<String> {
    let status: serde_json::Value = serde_json::from_slice(payload).ok()?;
    if status.get("status").and_then(serde_json::Value::as_str) == Some("Success") {
        return None;
    }
    Some(
        status
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("the attach failed")
            .to_owned(),
    )
}

/// Attaches to the container, forwarding stdin and writing its output to `out` until
/// it ends.
pub async fn attach(
    connection: &Connection,
    pod: &str,
    container: &str,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let uri = format!(
        "/api/v1/namespaces/{}/pods/{pod}/attach?container={container}&stdin=true&stdout=true&stderr=true",
        connection.namespace
    );
    let key = base64::engine::general_purpose::STANDARD
        .encode(u128::from(u32::from_le_bytes(new_mask())).to_le_bytes());
    let request = Request::post(uri)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, key)
        .header(header::SEC_WEBSOCKET_PROTOCOL, CHANNEL_PROTOCOL)
        .body(kube::client::Body::empty())
        .map_err(|error| transport("building the attach request", error))?;
    let response = connection.client.send(request).await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(ClientError::Transport(format!(
            "the server refused to attach: {}",
            response.status()
        )));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|error| transport("upgrading the attach connection", error))?;
    let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
    let mut stdin = read_stdin_in_background();
    let (pongs, mut pong_queue) = mpsc::channel::<Vec<u8>>(4);
    let sending = tokio::spawn(async move {
        let mut stdin_open = true;
        loop {
            let frame = tokio::select! {
                chunk = stdin.recv(), if stdin_open => match chunk {
                    Some(chunk) if !chunk.is_empty() => {
                        let mut message = vec![STDIN_CHANNEL];
                        message.extend_from_slice(&chunk);
                        client_frame(OPCODE_BINARY, &message, new_mask())
                    }
                    _ => {
                        stdin_open = false;
                        client_frame(OPCODE_BINARY, &[CLOSE_CHANNEL, STDIN_CHANNEL], new_mask())
                    }
                },
                pong = pong_queue.recv() => match pong {
                    Some(payload) => client_frame(OPCODE_PONG, &payload, new_mask()),
                    None => return,
                },
            };
            if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
                return;
            }
        }
    });
    let mut failure = None;
    while let Some((opcode, payload)) = read_message(&mut reader).await? {
        match opcode {
            OPCODE_BINARY => match payload.split_first() {
                Some((&(STDOUT_CHANNEL | STDERR_CHANNEL), data)) => {
                    out.write_all(data)?;
                    out.flush()?;
                }
                Some((&ERROR_CHANNEL, status)) => failure = status_failure(status),
                _ => {}
            },
            OPCODE_PING => {
                let _ = pongs.send(payload).await;
            }
            OPCODE_CLOSE => break,
            _ => {}
        }
    }
    sending.abort();
    match failure {
        Some(message) => Err(ClientError::Transport(message)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn masked_client_frames_and_fragmented_server_messages() {
        let frame = client_frame(OPCODE_BINARY, &[0, b'h', b'i'], [1, 2, 3, 4]);
        assert_eq!(frame, vec![0x82, 0x83, 1, 2, 3, 4, 1, b'h' ^ 2, b'i' ^ 3]);
        // A message in two fragments, then a close.
        let server: Vec<u8> = [
            vec![0x02, 2, STDOUT_CHANNEL, b'a'],
            vec![0x80, 1, b'b'],
            vec![0x88, 0],
        ]
        .concat();
        let mut reader = server.as_slice();
        assert_eq!(
            read_message(&mut reader).await.ok().flatten(),
            Some((OPCODE_BINARY, vec![STDOUT_CHANNEL, b'a', b'b']))
        );
        assert_eq!(
            read_message(&mut reader).await.ok().flatten(),
            Some((OPCODE_CLOSE, Vec::new()))
        );
        assert_eq!(read_message(&mut reader).await.ok().flatten(), None);
    }

    #[test]
    fn only_a_failed_status_is_a_failure() {
        assert_eq!(
            status_failure(br#"{"metadata":{},"status":"Success"}"#),
            None
        );
        assert_eq!(
            status_failure(br#"{"status":"Failure","message":"boom"}"#).as_deref(),
            Some("boom")
        );
    }
}
