//! WebSocket framing (RFC 6455, section 5), server side: the client's frames are masked
//! and may be fragmented; the server's are whole and unmasked.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const OPCODE_BINARY: u8 = 0x2;
pub const OPCODE_CLOSE: u8 = 0x8;
pub const OPCODE_PONG: u8 = 0xa;
const OPCODE_CONTINUATION: u8 = 0x0;
const OPCODE_TEXT: u8 = 0x1;
const OPCODE_PING: u8 = 0x9;

/// The largest message accepted: a SPDY frame's most (16 MiB) and its framing.
const MAX_MESSAGE_BYTES: u64 = 16 * 1024 * 1024 + 64;

#[derive(Debug, thiserror::Error)]
pub enum WebSocketError {
    #[error("reading a WebSocket frame: {0}")]
    Read(#[from] std::io::Error),
    #[error("a WebSocket frame from the client is not masked")]
    Unmasked,
    #[error("a WebSocket frame has reserved bits or an unknown opcode {0:#x}")]
    Malformed(u8),
    #[error("a WebSocket message is larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
}

/// A whole message from the client.
#[derive(Debug, PartialEq)]
pub enum Message {
    Binary(Bytes),
    Text(Bytes),
    Ping(Bytes),
    Pong,
    /// The close frame's payload (a status code and reason), to echo back.
    Close(Bytes),
}

/// Reads the client's messages, joining fragments.
pub struct MessageReader<Reader> {
    reader: Reader,
    /// The opcode and bytes of a fragmented message so far.
    fragmented: Option<(u8, Vec<u8>)>,
}

impl<Reader: AsyncRead + Unpin> MessageReader<Reader> {
    pub fn new(reader: Reader) -> Self {
        Self {
            reader,
            fragmented: None,
        }
    }

    /// The next message, or None when the client closed the connection between frames.
    pub async fn next(&mut self) -> Result<Option<Message>, WebSocketError> {
        loop {
            let mut head = [0u8; 2];
            match self.reader.read_exact(&mut head).await {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(error) => return Err(error.into()),
            }
            let final_fragment = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            if head[0] & 0x70 != 0 {
                return Err(WebSocketError::Malformed(opcode));
            }
            if head[1] & 0x80 == 0 {
                return Err(WebSocketError::Unmasked);
            }
            let length = match head[1] & 0x7f {
                126 => u64::from(self.reader.read_u16().await?),
                127 => self.reader.read_u64().await?,
                short => u64::from(short),
            };
            let buffered = self.fragmented.as_ref().map_or(0, |(_, bytes)| bytes.len());
            if length.saturating_add(buffered as u64) > MAX_MESSAGE_BYTES {
                return Err(WebSocketError::TooLarge);
            }
            let mut mask = [0u8; 4];
            self.reader.read_exact(&mut mask).await?;
            let mut payload =
                vec![0u8; usize::try_from(length).map_err(|_| WebSocketError::TooLarge)?];
            self.reader.read_exact(&mut payload).await?;
            for (index, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[index % 4];
            }
            let payload = Bytes::from(payload);
            let message = match opcode {
                OPCODE_PING => Message::Ping(payload),
                OPCODE_PONG => Message::Pong,
                OPCODE_CLOSE => Message::Close(payload),
                OPCODE_BINARY | OPCODE_TEXT if final_fragment => data_message(opcode, payload),
                OPCODE_BINARY | OPCODE_TEXT => {
                    self.fragmented = Some((opcode, payload.to_vec()));
                    continue;
                }
                OPCODE_CONTINUATION => {
                    let Some((first_opcode, mut bytes)) = self.fragmented.take() else {
                        return Err(WebSocketError::Malformed(opcode));
                    };
                    bytes.extend_from_slice(&payload);
                    if !final_fragment {
                        self.fragmented = Some((first_opcode, bytes));
                        continue;
                    }
                    data_message(first_opcode, Bytes::from(bytes))
                }
                unknown => return Err(WebSocketError::Malformed(unknown)),
            };
            return Ok(Some(message));
        }
    }
}

fn data_message(opcode: u8, payload: Bytes) -> Message {
    if opcode == OPCODE_TEXT {
        Message::Text(payload)
    } else {
        Message::Binary(payload)
    }
}

/// One whole, unmasked frame from the server.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        short @ 0..=125 => frame.push(short as u8),
        medium @ 126..=0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            frame.push(127);
            frame.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a client writes it: masked.
    fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut bytes = frame(0, payload);
        bytes[0] = first_byte;
        let header_length = bytes.len() - payload.len();
        bytes[1] |= 0x80;
        let masked: Vec<u8> = payload
            .iter()
            .enumerate()
            .map(|(index, byte)| byte ^ mask[index % 4])
            .collect();
        bytes.truncate(header_length);
        bytes.extend_from_slice(&mask);
        bytes.extend(masked);
        bytes
    }

    #[tokio::test]
    async fn masked_and_fragmented_messages_are_read_whole() {
        let long = vec![7u8; 70_000];
        let bytes = [
            client_frame(0x80 | OPCODE_BINARY, b"one"),
            client_frame(OPCODE_BINARY, b"fragm"),
            client_frame(0x80 | OPCODE_PING, b"are you there"),
            client_frame(0x80 | OPCODE_CONTINUATION, b"ented"),
            client_frame(0x80 | OPCODE_BINARY, &long),
            client_frame(0x80 | OPCODE_CLOSE, &[0x03, 0xe8]),
        ]
        .concat();
        let mut reader = MessageReader::new(bytes.as_slice());
        let mut messages = Vec::new();
        while let Some(message) = reader.next().await.expect("well-formed frames") {
            messages.push(message);
        }
        assert_eq!(
            messages,
            vec![
                Message::Binary(Bytes::from_static(b"one")),
                Message::Ping(Bytes::from_static(b"are you there")),
                Message::Binary(Bytes::from_static(b"fragmented")),
                Message::Binary(Bytes::from(long)),
                Message::Close(Bytes::from_static(&[0x03, 0xe8])),
            ]
        );
    }

    #[tokio::test]
    async fn an_unmasked_frame_from_the_client_is_refused() {
        let unmasked = frame(OPCODE_BINARY, b"plain");
        let mut reader = MessageReader::new(unmasked.as_slice());
        assert!(matches!(reader.next().await, Err(WebSocketError::Unmasked)));
    }

    #[test]
    fn server_frames_use_the_shortest_length_form() {
        assert_eq!(frame(OPCODE_BINARY, b"ok"), vec![0x82, 2, b'o', b'k']);
        assert_eq!(
            frame(OPCODE_BINARY, &[0; 300])[..4],
            [0x82, 126, 0x01, 0x2c]
        );
        assert_eq!(
            frame(OPCODE_BINARY, &[0; 70_000])[..10],
            [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]
        );
    }
}
