//! The backup file: a magic line and a format version, then frames (`kind: u8`,
//! `length: u64` little-endian, payload), ending with an end frame that holds the SHA-256
//! of every byte before it and how many records of each kind came before. A reader
//! refuses a file whose end frame is missing (truncated), whose checksum or counts do
//! not match (corrupt), or that goes on after its end.
//!
//! The frames, in order: one header (JSON), the store's objects (key, revision, JSON),
//! the image store's tags (JSON) and blobs (digest, bytes), then the data directory's
//! identity files (path, bytes) when the backup was taken where they are.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{BackupError, IdentityFile, SnapshotSink};
use crate::images::{Digest, TagRecord};

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 16] = b"WASMKUBE-BACKUP\n";
/// The format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// No frame is larger: a blob is at most what an image store accepts (256 MiB by
/// default), and a length beyond this can only be corruption.
const MAX_FRAME_BYTES: u64 = 1 << 32;

const KIND_HEADER: u8 = 1;
const KIND_OBJECT: u8 = 2;
const KIND_IMAGE_TAG: u8 = 3;
const KIND_BLOB: u8 = 4;
const KIND_FILE: u8 = 5;
const KIND_END: u8 = 6;

/// What the header says about the backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupHeader {
    pub format_version: u32,
    /// The version of wasmkube that took the backup.
    pub wasmkube_version: String,
    /// When the snapshot was taken (RFC 3339).
    pub created_at: String,
    /// The store's revision: every object is as it was at this revision.
    pub revision: u64,
}

impl BackupHeader {
    /// A header for a snapshot taken now at `revision`.
    pub fn now(revision: u64) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            wasmkube_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: jiff::Timestamp::now().to_string(),
            revision,
        }
    }
}

/// How many records of each kind a backup holds; the end frame carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSummary {
    pub objects: u64,
    pub image_tags: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub files: u64,
}

/// One record of a backup, as read.
#[derive(Debug)]
pub enum BackupRecord {
    Header(BackupHeader),
    Object {
        key: String,
        revision: u64,
        json: Vec<u8>,
    },
    ImageTag(TagRecord),
    Blob {
        digest: Digest,
        content: Vec<u8>,
    },
    File {
        file: &'static IdentityFile,
        content: Vec<u8>,
    },
}

/// Writes a backup to `out`, hashing everything it writes.
pub struct BackupWriter<W: Write> {
    out: W,
    hasher: Sha256,
    summary: BackupSummary,
}

impl<W: Write> BackupWriter<W> {
    pub fn new(mut out: W) -> Result<Self, BackupError> {
        let mut hasher = Sha256::new();
        let mut start = MAGIC.to_vec();
        start.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.write_all(&start)?;
        hasher.update(&start);
        Ok(Self {
            out,
            hasher,
            summary: BackupSummary::default(),
        })
    }

    fn write_hashed(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        Ok(())
    }

    fn frame_start(&mut self, kind: u8, length: u64) -> Result<(), BackupError> {
        let mut start = [0_u8; 9];
        start[0] = kind;
        start[1..].copy_from_slice(&length.to_le_bytes());
        self.write_hashed(&start)
    }

    fn frame(&mut self, kind: u8, parts: &[&[u8]]) -> Result<(), BackupError> {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        self.frame_start(kind, length as u64)?;
        for part in parts {
            self.write_hashed(part)?;
        }
        Ok(())
    }

    pub fn header(&mut self, header: &BackupHeader) -> Result<(), BackupError> {
        let json = serde_json::to_vec(header).map_err(io::Error::from)?;
        self.frame(KIND_HEADER, &[&json])
    }

    pub fn object(&mut self, key: &str, revision: u64, json: &[u8]) -> Result<(), BackupError> {
        let key_length = u32::try_from(key.len())
            .map_err(|_| BackupError::Corrupt(format!("the key {key} is too long")))?;
        self.frame(
            KIND_OBJECT,
            &[
                &key_length.to_le_bytes(),
                key.as_bytes(),
                &revision.to_le_bytes(),
                json,
            ],
        )?;
        self.summary.objects += 1;
        Ok(())
    }

    pub fn image_tag(&mut self, tag: &TagRecord) -> Result<(), BackupError> {
        let json = serde_json::to_vec(tag).map_err(io::Error::from)?;
        self.frame(KIND_IMAGE_TAG, &[&json])?;
        self.summary.image_tags += 1;
        Ok(())
    }

    /// A blob of `size` bytes, streamed from `content` (a file: blobs can be large).
    pub fn blob(
        &mut self,
        digest: &Digest,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<(), BackupError> {
        let name = digest.to_string();
        let name_length = name.len() as u16;
        self.frame_start(KIND_BLOB, 2 + name.len() as u64 + size)?;
        self.write_hashed(&name_length.to_le_bytes())?;
        self.write_hashed(name.as_bytes())?;
        let mut buffer = vec![0_u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let wanted = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
            let read = content.read(&mut buffer[..wanted])?;
            if read == 0 {
                return Err(BackupError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the blob {digest} ended before its {size} bytes"),
                )));
            }
            self.write_hashed(&buffer[..read])?;
            left -= read as u64;
        }
        self.summary.blobs += 1;
        self.summary.blob_bytes += size;
        Ok(())
    }

    pub fn file(&mut self, file: &IdentityFile, content: &[u8]) -> Result<(), BackupError> {
        let path = file.path.as_bytes();
        self.frame(
            KIND_FILE,
            &[&(path.len() as u16).to_le_bytes(), path, content],
        )?;
        self.summary.files += 1;
        Ok(())
    }

    /// Writes a record read from another backup.
    pub fn record(&mut self, record: &BackupRecord) -> Result<(), BackupError> {
        match record {
            BackupRecord::Header(header) => self.header(header),
            BackupRecord::Object {
                key,
                revision,
                json,
            } => self.object(key, *revision, json),
            BackupRecord::ImageTag(tag) => self.image_tag(tag),
            BackupRecord::Blob { digest, content } => {
                self.blob(digest, content.len() as u64, &mut content.as_slice())
            }
            BackupRecord::File { file, content } => self.file(file, content),
        }
    }

    /// Writes the end frame and flushes; returns the output and what was written.
    pub fn finish(mut self) -> Result<(W, BackupSummary), BackupError> {
        let checksum = std::mem::take(&mut self.hasher).finalize();
        let counts = serde_json::to_vec(&self.summary).map_err(io::Error::from)?;
        let mut end = vec![KIND_END];
        end.extend_from_slice(&((checksum.len() + counts.len()) as u64).to_le_bytes());
        end.extend_from_slice(&checksum);
        end.extend_from_slice(&counts);
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok((self.out, self.summary))
    }
}

impl<W: Write> SnapshotSink for BackupWriter<W> {
    fn begin(&mut self, revision: u64) -> Result<(), BackupError> {
        self.header(&BackupHeader::now(revision))
    }

    fn object(&mut self, key: &str, revision: u64, json: &[u8]) -> Result<(), BackupError> {
        BackupWriter::object(self, key, revision, json)
    }
}

/// Reads a backup record by record, checking its structure as it goes and its checksum
/// at the end: nothing a reader returned may be trusted to be complete until `next`
/// has returned `None`.
pub struct BackupReader<R: Read> {
    input: R,
    hasher: Sha256,
    summary: BackupSummary,
    header: Option<BackupHeader>,
    finished: bool,
}

fn truncated_on_eof(error: io::Error) -> BackupError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        BackupError::Truncated
    } else {
        BackupError::Io(error)
    }
}

/// Splits `length` bytes off the front of `payload`.
fn take<'a>(payload: &mut &'a [u8], length: usize, what: &str) -> Result<&'a [u8], BackupError> {
    if payload.len() < length {
        return Err(BackupError::Corrupt(format!("a {what} is cut short")));
    }
    let (head, rest) = payload.split_at(length);
    *payload = rest;
    Ok(head)
}

fn take_u16(payload: &mut &[u8], what: &str) -> Result<usize, BackupError> {
    let bytes = take(payload, 2, what)?;
    Ok(usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
}

fn take_u32(payload: &mut &[u8], what: &str) -> Result<usize, BackupError> {
    let mut bytes = [0_u8; 4];
    bytes.copy_from_slice(take(payload, 4, what)?);
    usize::try_from(u32::from_le_bytes(bytes))
        .map_err(|_| BackupError::Corrupt(format!("a {what} is too long")))
}

fn take_u64(payload: &mut &[u8], what: &str) -> Result<u64, BackupError> {
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(take(payload, 8, what)?);
    Ok(u64::from_le_bytes(bytes))
}

fn text(bytes: &[u8], what: &str) -> Result<String, BackupError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| BackupError::Corrupt(format!("a {what} is not UTF-8")))
}

impl<R: Read> BackupReader<R> {
    /// Checks the magic and the format version.
    pub fn new(mut input: R) -> Result<Self, BackupError> {
        let mut start = [0_u8; 20];
        input.read_exact(&mut start).map_err(|error| {
            if error.kind() == io::ErrorKind::UnexpectedEof {
                BackupError::NotABackup
            } else {
                BackupError::Io(error)
            }
        })?;
        if &start[..16] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let version = u32::from_le_bytes([start[16], start[17], start[18], start[19]]);
        if version != FORMAT_VERSION {
            return Err(BackupError::UnsupportedVersion(version));
        }
        let mut hasher = Sha256::new();
        hasher.update(start);
        Ok(Self {
            input,
            hasher,
            summary: BackupSummary::default(),
            header: None,
            finished: false,
        })
    }

    /// The header, once the first record has been read.
    pub fn header(&self) -> Option<&BackupHeader> {
        self.header.as_ref()
    }

    /// What has been read so far; after `next` returned `None`, the whole backup's.
    pub fn summary(&self) -> &BackupSummary {
        &self.summary
    }

    /// The next record, or `None` after a verified end.
    pub fn next_record(&mut self) -> Result<Option<BackupRecord>, BackupError> {
        if self.finished {
            return Ok(None);
        }
        let mut start = [0_u8; 9];
        self.input
            .read_exact(&mut start)
            .map_err(truncated_on_eof)?;
        let kind = start[0];
        let mut length_bytes = [0_u8; 8];
        length_bytes.copy_from_slice(&start[1..]);
        let length = u64::from_le_bytes(length_bytes);
        if length > MAX_FRAME_BYTES {
            return Err(BackupError::Corrupt(format!(
                "a record claims {length} bytes"
            )));
        }
        let mut payload = Vec::new();
        (&mut self.input).take(length).read_to_end(&mut payload)?;
        if (payload.len() as u64) < length {
            return Err(BackupError::Truncated);
        }
        if kind == KIND_END {
            self.finish(&payload)?;
            return Ok(None);
        }
        self.hasher.update(start);
        self.hasher.update(&payload);
        if self.header.is_none() && kind != KIND_HEADER {
            return Err(BackupError::Corrupt(
                "the backup does not start with its header".to_owned(),
            ));
        }
        self.decode(kind, &payload).map(Some)
    }

    fn decode(&mut self, kind: u8, payload: &[u8]) -> Result<BackupRecord, BackupError> {
        let mut rest = payload;
        match kind {
            KIND_HEADER if self.header.is_none() => {
                let header: BackupHeader = serde_json::from_slice(payload)
                    .map_err(|error| BackupError::Corrupt(format!("the header: {error}")))?;
                self.header = Some(header.clone());
                Ok(BackupRecord::Header(header))
            }
            KIND_OBJECT => {
                let key_length = take_u32(&mut rest, "key")?;
                let key = text(take(&mut rest, key_length, "key")?, "key")?;
                let revision = take_u64(&mut rest, "revision")?;
                self.summary.objects += 1;
                Ok(BackupRecord::Object {
                    key,
                    revision,
                    json: rest.to_vec(),
                })
            }
            KIND_IMAGE_TAG => {
                let tag: TagRecord = serde_json::from_slice(payload)
                    .map_err(|error| BackupError::Corrupt(format!("an image tag: {error}")))?;
                self.summary.image_tags += 1;
                Ok(BackupRecord::ImageTag(tag))
            }
            KIND_BLOB => {
                let name_length = take_u16(&mut rest, "blob digest")?;
                let name = text(take(&mut rest, name_length, "blob digest")?, "blob digest")?;
                let digest = Digest::parse(&name)
                    .map_err(|error| BackupError::Corrupt(format!("a blob's digest: {error}")))?;
                self.summary.blobs += 1;
                self.summary.blob_bytes += rest.len() as u64;
                Ok(BackupRecord::Blob {
                    digest,
                    content: rest.to_vec(),
                })
            }
            KIND_FILE => {
                let path_length = take_u16(&mut rest, "file path")?;
                let path = text(take(&mut rest, path_length, "file path")?, "file path")?;
                let file = super::identity_file(&path).ok_or_else(|| {
                    BackupError::Corrupt(format!("the backup holds an unexpected file {path}"))
                })?;
                self.summary.files += 1;
                Ok(BackupRecord::File {
                    file,
                    content: rest.to_vec(),
                })
            }
            _ => Err(BackupError::Corrupt(format!(
                "an unexpected record of kind {kind}"
            ))),
        }
    }

    fn finish(&mut self, payload: &[u8]) -> Result<(), BackupError> {
        let mut rest = payload;
        let expected = take(&mut rest, 32, "checksum")?;
        let actual = std::mem::take(&mut self.hasher).finalize();
        if expected != actual.as_slice() {
            return Err(BackupError::ChecksumMismatch);
        }
        if self.header.is_none() {
            return Err(BackupError::Corrupt("the backup has no header".to_owned()));
        }
        let counts: BackupSummary = serde_json::from_slice(rest)
            .map_err(|error| BackupError::Corrupt(format!("the end record: {error}")))?;
        if counts != self.summary {
            return Err(BackupError::Corrupt(format!(
                "the end record counts {counts:?}, the backup holds {:?}",
                self.summary
            )));
        }
        let mut after = [0_u8; 1];
        if self.input.read(&mut after)? != 0 {
            return Err(BackupError::Corrupt(
                "the backup goes on after its end".to_owned(),
            ));
        }
        self.finished = true;
        Ok(())
    }
}
