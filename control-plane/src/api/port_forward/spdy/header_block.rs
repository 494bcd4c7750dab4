//! SPDY/3 header blocks: a count of name/value pairs, each a length-prefixed name and
//! value, carried in one zlib stream per direction of the connection that starts with
//! the SPDY dictionary preset and is flushed (not ended) after each block.
//!
//! The client's blocks are inflated with the dictionary. Ours are written as stored
//! (uncompressed) deflate blocks: a valid zlib stream that needs no dictionary, so the
//! client's zlib reader (Go's, which only uses the dictionary when the stream's header
//! asks for it) reads them as it reads any other. The server only ever sends empty
//! header blocks (in SYN_REPLY), so compressing them would gain nothing.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use super::dictionary::SPDY3_HEADER_DICTIONARY;

/// The deflate window, which the inflater keeps as its output ring so that later blocks
/// may refer back into earlier ones and into the dictionary.
const WINDOW_BYTES: usize = 32 * 1024;

/// The most a header block may inflate to: far more than the port-forward headers need,
/// and little enough that a hostile block cannot exhaust memory.
const MAX_INFLATED_BLOCK_BYTES: usize = 256 * 1024;

/// The zlib header flag that says a preset dictionary follows as its Adler-32.
const ZLIB_PRESET_DICTIONARY_FLAG: u8 = 0x20;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeaderBlockError {
    #[error("the header block's zlib header is invalid")]
    ZlibHeader,
    #[error("the header block asks for a dictionary with Adler-32 {0:#010x}, not SPDY/3's")]
    UnknownDictionary(u32),
    #[error("the header block cannot be inflated ({0:?})")]
    Inflate(TINFLStatus),
    #[error("the header block inflates to more than {MAX_INFLATED_BLOCK_BYTES} bytes")]
    TooLarge,
    #[error("the header block is truncated")]
    Truncated,
}

/// Adler-32, as zlib names its preset dictionary.
fn adler32(bytes: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    let (mut low, mut high) = (1u32, 0u32);
    for byte in bytes {
        low = (low + u32::from(*byte)) % MODULUS;
        high = (high + low) % MODULUS;
    }
    (high << 16) | low
}

/// Inflates the client's header blocks, one zlib stream across the whole connection.
pub struct HeaderInflater {
    decompressor: Box<DecompressorOxide>,
    window: Box<[u8]>,
    /// Where the next inflated byte goes in `window`.
    position: usize,
    /// The zlib header's bytes, until all of them have arrived.
    zlib_header: Option<Vec<u8>>,
}

impl Default for HeaderInflater {
    fn default() -> Self {
        // The dictionary sits in the window as if it had been inflated just before the
        // stream began: that is what a preset dictionary is.
        let mut window = vec![0u8; WINDOW_BYTES].into_boxed_slice();
        window[..SPDY3_HEADER_DICTIONARY.len()].copy_from_slice(SPDY3_HEADER_DICTIONARY);
        Self {
            decompressor: Box::default(),
            window,
            position: SPDY3_HEADER_DICTIONARY.len(),
            zlib_header: Some(Vec::new()),
        }
    }
}

impl HeaderInflater {
    /// Inflates one compressed header block.
    pub fn inflate(&mut self, mut compressed: &[u8]) -> Result<Vec<u8>, HeaderBlockError> {
        if let Some(header) = &mut self.zlib_header {
            compressed = take_zlib_header(header, compressed)?;
            if zlib_header_complete(header) {
                self.zlib_header = None;
            } else {
                return Ok(Vec::new());
            }
        }
        let mut inflated = Vec::new();
        loop {
            let (status, consumed, written) = decompress(
                &mut self.decompressor,
                compressed,
                &mut self.window,
                self.position,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
            );
            inflated.extend_from_slice(&self.window[self.position..self.position + written]);
            if inflated.len() > MAX_INFLATED_BLOCK_BYTES {
                return Err(HeaderBlockError::TooLarge);
            }
            self.position = (self.position + written) % WINDOW_BYTES;
            compressed = &compressed[consumed..];
            match status {
                // The ring's end was reached: go on from its start.
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput if compressed.is_empty() => return Ok(inflated),
                TINFLStatus::NeedsMoreInput if consumed == 0 && written == 0 => {
                    return Err(HeaderBlockError::Truncated);
                }
                TINFLStatus::NeedsMoreInput => {}
                TINFLStatus::Done => return Ok(inflated),
                failure => return Err(HeaderBlockError::Inflate(failure)),
            }
        }
    }
}

fn zlib_header_complete(header: &[u8]) -> bool {
    match header {
        [_, flags, ..] if flags & ZLIB_PRESET_DICTIONARY_FLAG != 0 => header.len() == 6,
        [_, _] => true,
        _ => false,
    }
}

/// Moves the zlib header's bytes from `compressed` into `header` (checking them once
/// complete) and answers the rest.
fn take_zlib_header<'block>(
    header: &mut Vec<u8>,
    mut compressed: &'block [u8],
) -> Result<&'block [u8], HeaderBlockError> {
    while !zlib_header_complete(header) {
        let Some((first, rest)) = compressed.split_first() else {
            return Ok(compressed);
        };
        header.push(*first);
        compressed = rest;
    }
    let (method, flags) = (header[0], header[1]);
    if method & 0x0f != 8 || (u16::from(method) * 256 + u16::from(flags)) % 31 != 0 {
        return Err(HeaderBlockError::ZlibHeader);
    }
    if let [_, _, a, b, c, d] = header.as_slice() {
        let dictionary = u32::from_be_bytes([*a, *b, *c, *d]);
        if dictionary != adler32(SPDY3_HEADER_DICTIONARY) {
            return Err(HeaderBlockError::UnknownDictionary(dictionary));
        }
    }
    Ok(compressed)
}

/// Writes our header blocks as one zlib stream of stored deflate blocks.
#[derive(Default)]
pub struct HeaderDeflater {
    started: bool,
}

impl HeaderDeflater {
    /// The compressed form of a header block of `pairs`.
    pub fn deflate(&mut self, pairs: &[(&str, &str)]) -> Vec<u8> {
        let block = encode_pairs(pairs);
        let mut compressed = Vec::with_capacity(block.len() + 16);
        if !self.started {
            // Deflate with a 32 KiB window, no preset dictionary, the fastest level.
            compressed.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for chunk in block.chunks(usize::from(u16::MAX)) {
            // A stored block that is not the last: its three header bits are zero and it
            // starts on a byte boundary, as every stored block ends on one.
            compressed.push(0x00);
            let length = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            compressed.extend_from_slice(&length.to_le_bytes());
            compressed.extend_from_slice(&(!length).to_le_bytes());
            compressed.extend_from_slice(chunk);
        }
        // An empty stored block, as zlib's sync flush ends a block with: Go's inflater
        // hands a stored block's bytes to its reader only once the next block begins.
        compressed.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        compressed
    }
}

fn encode_pairs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    let count = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
    block.extend_from_slice(&count.to_be_bytes());
    for (name, value) in pairs {
        for text in [name, value] {
            let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
            block.extend_from_slice(&length.to_be_bytes());
            block.extend_from_slice(text.as_bytes());
        }
    }
    block
}

/// The name/value pairs of an inflated header block, names lowercased as spdystream
/// reads them. A value may hold several values separated by NUL; they stay together.
pub fn decode_pairs(block: &[u8]) -> Result<Vec<(String, String)>, HeaderBlockError> {
    fn take<'block>(
        block: &mut &'block [u8],
        length: usize,
    ) -> Result<&'block [u8], HeaderBlockError> {
        if block.len() < length {
            return Err(HeaderBlockError::Truncated);
        }
        let (taken, rest) = block.split_at(length);
        *block = rest;
        Ok(taken)
    }
    fn take_u32(block: &mut &[u8]) -> Result<usize, HeaderBlockError> {
        let bytes = take(block, 4)?;
        let value = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        usize::try_from(value).map_err(|_| HeaderBlockError::TooLarge)
    }
    let mut rest = block;
    let count = take_u32(&mut rest)?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let name_length = take_u32(&mut rest)?;
        let name = String::from_utf8_lossy(take(&mut rest, name_length)?).to_lowercase();
        let value_length = take_u32(&mut rest)?;
        let value = String::from_utf8_lossy(take(&mut rest, value_length)?).into_owned();
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_the_one_kubectl_names() {
        // kubectl's SYN_STREAM header blocks name their dictionary by this Adler-32.
        assert_eq!(SPDY3_HEADER_DICTIONARY.len(), 1423);
        assert_eq!(adler32(SPDY3_HEADER_DICTIONARY), 0xe3c6_a7c2);
    }

    /// Two header blocks as zlib writes them with the dictionary at its best compression
    /// and a sync flush after each, as spdystream does: the second refers back into the
    /// first.
    const ERROR_STREAM_BLOCK: &[u8] = &[
        0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x70, 0x3a, 0x2b, 0x29, 0x4a, 0x4d,
        0xcc, 0x85, 0x16, 0x25, 0xac, 0xa9, 0xa0, 0x80, 0x86, 0x14, 0xcb, 0x45, 0xe0, 0x1c, 0x60,
        0x61, 0x60, 0x61, 0x00, 0xa4, 0x39, 0x8b, 0x20, 0xd1, 0x98, 0x09, 0x4a, 0xde, 0x8c, 0x06,
        0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    ];
    const DATA_STREAM_BLOCK: &[u8] = &[
        0xc2, 0xaa, 0x19, 0x54, 0x0e, 0x25, 0x12, 0xd6, 0x0b, 0x00, 0x00, 0x00, 0xff, 0xff,
    ];

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn blocks_compressed_with_the_dictionary_inflate_in_order() {
        let mut inflater = HeaderInflater::default();
        let first = inflater
            .inflate(ERROR_STREAM_BLOCK)
            .expect("the first block inflates");
        assert_eq!(
            decode_pairs(&first),
            Ok(pairs(&[
                ("streamtype", "error"),
                ("port", "8080"),
                ("requestid", "0")
            ]))
        );
        let second = inflater
            .inflate(DATA_STREAM_BLOCK)
            .expect("the second block inflates");
        assert_eq!(
            decode_pairs(&second),
            Ok(pairs(&[
                ("streamtype", "data"),
                ("port", "8080"),
                ("requestid", "0")
            ]))
        );
    }

    #[test]
    fn stored_blocks_round_trip_through_the_inflater() {
        let mut deflater = HeaderDeflater::default();
        let mut inflater = HeaderInflater::default();
        let first = deflater.deflate(&[("streamtype", "error"), ("port", "8080")]);
        let second = deflater.deflate(&[]);
        assert_eq!(
            decode_pairs(&inflater.inflate(&first).expect("the first block inflates")),
            Ok(pairs(&[("streamtype", "error"), ("port", "8080")]))
        );
        assert_eq!(
            decode_pairs(
                &inflater
                    .inflate(&second)
                    .expect("the second block inflates")
            ),
            Ok(Vec::new())
        );
    }

    #[test]
    fn a_stream_with_another_dictionary_or_a_bad_header_is_refused() {
        let mut inflater = HeaderInflater::default();
        // A zlib header (0x78 0xbb: preset dictionary, level 2) naming dictionary 1.
        assert_eq!(
            inflater.inflate(&[0x78, 0xbb, 0, 0, 0, 1, 0]),
            Err(HeaderBlockError::UnknownDictionary(1))
        );
        assert_eq!(
            HeaderInflater::default().inflate(&[0x78, 0x02]),
            Err(HeaderBlockError::ZlibHeader)
        );
    }

    #[test]
    fn a_truncated_block_is_refused() {
        assert_eq!(
            decode_pairs(&[0, 0, 0, 1, 0, 0, 0, 9, b'p']),
            Err(HeaderBlockError::Truncated)
        );
    }
}
