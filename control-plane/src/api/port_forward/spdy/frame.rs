//! SPDY/3.1 framing (the SPDY/3 draft, section 2.2), as much of it as port forwarding
//! uses: frames are read whole, control frames decoded (header blocks inflated in the
//! order they arrive, since they share one zlib stream), and the server's frames encoded.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::header_block::{HeaderBlockError, HeaderDeflater, HeaderInflater, decode_pairs};

const SPDY_VERSION: u16 = 3;
/// The flag that ends the sender's half of a stream, on DATA and SYN frames.
pub const FLAG_FIN: u8 = 0x01;
const CONTROL_BIT: u8 = 0x80;
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;

/// RST_STREAM statuses.
pub const RST_PROTOCOL_ERROR: u32 = 1;
pub const RST_CANCEL: u32 = 5;
/// GOAWAY statuses.
pub const GOAWAY_PROTOCOL_ERROR: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("reading a frame: {0}")]
    Read(#[from] std::io::Error),
    #[error("the client speaks SPDY version {0}, not 3")]
    UnsupportedVersion(u16),
    #[error("a control frame of type {kind} is too short ({length} bytes)")]
    TooShort { kind: u16, length: usize },
    #[error(transparent)]
    HeaderBlock(#[from] HeaderBlockError),
}

/// A frame from the client, as the session acts on it.
#[derive(Debug, PartialEq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        fin: bool,
        headers: Vec<(String, String)>,
    },
    Data {
        stream_id: u32,
        fin: bool,
        data: Bytes,
    },
    RstStream {
        stream_id: u32,
    },
    Ping {
        id: u32,
    },
    GoAway,
    /// A frame the server has nothing to do with: SYN_REPLY, SETTINGS, HEADERS (its
    /// header block is still inflated, to keep the zlib stream in step), WINDOW_UPDATE
    /// (spdystream does no flow control), and unknown types, which SPDY says to ignore.
    Ignored,
}

fn u32_at(payload: &[u8], offset: usize) -> u32 {
    payload
        .get(offset..offset + 4)
        .map(|bytes| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .unwrap_or_default()
}

/// Reads frames from the client, inflating their header blocks in order.
pub struct FrameReader<Reader> {
    reader: Reader,
    inflater: HeaderInflater,
}

impl<Reader: AsyncRead + Unpin> FrameReader<Reader> {
    pub fn new(reader: Reader) -> Self {
        Self {
            reader,
            inflater: HeaderInflater::default(),
        }
    }

    /// The next frame, or None when the client closed the connection between frames.
    pub async fn next(&mut self) -> Result<Option<Frame>, FrameError> {
        let mut header = [0u8; 8];
        match self.reader.read_exact(&mut header).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let flags = header[4];
        let length =
            usize::from(header[5]) << 16 | usize::from(header[6]) << 8 | usize::from(header[7]);
        let mut payload = vec![0u8; length];
        self.reader.read_exact(&mut payload).await?;
        if header[0] & CONTROL_BIT == 0 {
            return Ok(Some(Frame::Data {
                stream_id: u32_at(&header, 0) & STREAM_ID_MASK,
                fin: flags & FLAG_FIN != 0,
                data: Bytes::from(payload),
            }));
        }
        let version = u16::from_be_bytes([header[0] & !CONTROL_BIT, header[1]]);
        if version != SPDY_VERSION {
            return Err(FrameError::UnsupportedVersion(version));
        }
        let kind = u16::from_be_bytes([header[2], header[3]]);
        self.decode_control(kind, flags, &payload).map(Some)
    }

    fn decode_control(
        &mut self,
        kind: u16,
        flags: u8,
        payload: &[u8],
    ) -> Result<Frame, FrameError> {
        let minimum = match kind {
            SYN_STREAM => 10,
            SYN_REPLY | HEADERS | PING => 4,
            RST_STREAM | GOAWAY => 8,
            _ => 0,
        };
        if payload.len() < minimum {
            return Err(FrameError::TooShort {
                kind,
                length: payload.len(),
            });
        }
        let stream_id = u32_at(payload, 0) & STREAM_ID_MASK;
        Ok(match kind {
            SYN_STREAM => {
                let block = self.inflater.inflate(&payload[10..])?;
                Frame::SynStream {
                    stream_id,
                    fin: flags & FLAG_FIN != 0,
                    headers: decode_pairs(&block)?,
                }
            }
            SYN_REPLY | HEADERS => {
                self.inflater.inflate(&payload[4..])?;
                Frame::Ignored
            }
            RST_STREAM => Frame::RstStream { stream_id },
            PING => Frame::Ping {
                id: u32_at(payload, 0),
            },
            GOAWAY => Frame::GoAway,
            _ => Frame::Ignored,
        })
    }
}

fn control_frame(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&(0x8000 | SPDY_VERSION).to_be_bytes());
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&length_bytes(payload.len()));
    frame.extend_from_slice(payload);
    frame
}

/// A frame's 24-bit length. The session never sends a payload longer than its reads
/// (a few KiB), far under the 16 MiB limit.
fn length_bytes(length: usize) -> [u8; 3] {
    let length = u32::try_from(length).unwrap_or(u32::MAX).min(0x00ff_ffff);
    let [_, high, middle, low] = length.to_be_bytes();
    [high, middle, low]
}

/// Encodes the server's frames; header blocks share one zlib stream, so one encoder
/// serves the whole connection, in the order the frames are sent.
#[derive(Default)]
pub struct FrameWriter {
    deflater: HeaderDeflater,
}

impl FrameWriter {
    /// Accepts a stream: SYN_REPLY with no headers, as the Kubernetes server sends.
    pub fn syn_reply(&mut self, stream_id: u32) -> Vec<u8> {
        let mut payload = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
        payload.extend_from_slice(&self.deflater.deflate(&[]));
        control_frame(SYN_REPLY, 0, &payload)
    }
}

pub fn data_frame(stream_id: u32, fin: bool, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + data.len());
    frame.extend_from_slice(&(stream_id & STREAM_ID_MASK).to_be_bytes());
    frame.push(if fin { FLAG_FIN } else { 0 });
    frame.extend_from_slice(&length_bytes(data.len()));
    frame.extend_from_slice(data);
    frame
}

pub fn rst_stream_frame(stream_id: u32, status: u32) -> Vec<u8> {
    let mut payload = (stream_id & STREAM_ID_MASK).to_be_bytes().to_vec();
    payload.extend_from_slice(&status.to_be_bytes());
    control_frame(RST_STREAM, 0, &payload)
}

pub fn ping_frame(id: u32) -> Vec<u8> {
    control_frame(PING, 0, &id.to_be_bytes())
}

pub fn goaway_frame(last_good_stream_id: u32, status: u32) -> Vec<u8> {
    let mut payload = (last_good_stream_id & STREAM_ID_MASK)
        .to_be_bytes()
        .to_vec();
    payload.extend_from_slice(&status.to_be_bytes());
    control_frame(GOAWAY, 0, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN_STREAM frame as a client writes it, with an uncompressed header block
    /// written by the server's own encoder.
    fn syn_stream(stream_id: u32, fin: bool, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut payload = stream_id.to_be_bytes().to_vec();
        payload.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        payload.extend_from_slice(&HeaderDeflater::default().deflate(headers));
        control_frame(SYN_STREAM, if fin { FLAG_FIN } else { 0 }, &payload)
    }

    async fn read_all(bytes: Vec<u8>) -> Vec<Frame> {
        let mut reader = FrameReader::new(bytes.as_slice());
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await.expect("a well-formed frame") {
            frames.push(frame);
        }
        frames
    }

    #[tokio::test]
    async fn client_frames_are_decoded() {
        let mut bytes = syn_stream(1, false, &[("streamType", "data"), ("port", "80")]);
        bytes.extend(data_frame(1, true, b"hello"));
        bytes.extend(ping_frame(7));
        bytes.extend(rst_stream_frame(1, RST_CANCEL));
        // A WINDOW_UPDATE, which is ignored.
        bytes.extend(control_frame(9, 0, &[0, 0, 0, 1, 0, 0, 0x10, 0]));
        bytes.extend(goaway_frame(0, 0));
        assert_eq!(
            read_all(bytes).await,
            vec![
                Frame::SynStream {
                    stream_id: 1,
                    fin: false,
                    headers: vec![
                        ("streamtype".to_owned(), "data".to_owned()),
                        ("port".to_owned(), "80".to_owned())
                    ],
                },
                Frame::Data {
                    stream_id: 1,
                    fin: true,
                    data: Bytes::from_static(b"hello")
                },
                Frame::Ping { id: 7 },
                Frame::RstStream { stream_id: 1 },
                Frame::Ignored,
                Frame::GoAway,
            ]
        );
    }

    #[tokio::test]
    async fn another_version_or_a_cut_frame_is_an_error() {
        let mut version_two = ping_frame(1);
        version_two[1] = 2;
        let mut reader = FrameReader::new(version_two.as_slice());
        assert!(matches!(
            reader.next().await,
            Err(FrameError::UnsupportedVersion(2))
        ));
        let cut = &data_frame(1, false, b"hello")[..10];
        let mut reader = FrameReader::new(cut);
        assert!(matches!(reader.next().await, Err(FrameError::Read(_))));
    }

    #[test]
    fn server_frames_are_encoded_as_spdy_3() {
        assert_eq!(
            FrameWriter::default().syn_reply(3),
            [
                vec![0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0, 0, 0, 3],
                // The zlib header, a stored block holding a count of zero pairs, and the
                // empty stored block of a sync flush.
                vec![0x78, 0x01, 0x00, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0],
                vec![0x00, 0x00, 0x00, 0xff, 0xff],
            ]
            .concat()
        );
        assert_eq!(
            data_frame(5, true, b"ok"),
            vec![0, 0, 0, 5, 0x01, 0, 0, 2, b'o', b'k']
        );
    }
}
