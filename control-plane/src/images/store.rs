//! The cluster's built-in image store on disk: content-addressed blobs under
//! `blobs/sha256/<hex>` and one small JSON record per tag under `tags/`.
//!
//! A tag record's file is named by the sha256 of `NAME:TAG` rather than by the name
//! itself, so that no name or tag meets a file system's limits: case-insensitive names
//! (macOS, Windows), reserved names (`con`, `nul`), or a name that is both a repository
//! and the parent of another (`a` and `a/b`).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::digest::{Digest, DigestHasher, WEBASSEMBLY_MAGIC, is_webassembly};
use super::durable::{self, TemporaryFile};
use super::reference::ImageReference;

/// The largest blob a store accepts unless configured otherwise: 256 MiB.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImageStoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("digest mismatch: the body's digest is {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("the body is not a WebAssembly module or component: it does not start with \\0asm")]
    NotWebAssembly,
    #[error("Request entity too large: limit is {limit}")]
    TooLarge { limit: u64 },
    #[error("blob \"{0}\" not found")]
    BlobNotFound(Digest),
    #[error("error reading the request body: {0}")]
    Body(String),
    #[error("the tag record {path} is corrupt: {source}")]
    CorruptTag {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the image {reference} refers to {digest}, which is missing from the image store")]
    TaggedBlobMissing {
        reference: ImageReference,
        digest: Digest,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageStoreError {
    let path = path.to_path_buf();
    move |source| ImageStoreError::Io {
        action,
        path,
        source,
    }
}

/// A blob that is now in the store.
#[derive(Clone, Debug, Serialize)]
pub struct StoredBlob {
    pub digest: Digest,
    pub size: u64,
    /// False when the store already held this content.
    #[serde(skip)]
    pub created: bool,
}

/// What a tag points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    pub name: String,
    pub tag: String,
    pub digest: Digest,
}

/// One line of the image list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub name: String,
    pub tag: String,
    pub digest: Digest,
    pub size: u64,
}

/// An open blob, for streaming it to a reader.
pub struct BlobFile {
    pub file: tokio::fs::File,
    pub size: u64,
}

pub struct ImageStore {
    blobs: PathBuf,
    tags: PathBuf,
    max_blob_bytes: u64,
}

impl fmt::Debug for ImageStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ImageStore")
            .field("blobs", &self.blobs)
            .field("tags", &self.tags)
            .finish()
    }
}

impl ImageStore {
    /// Opens (creating it if needed) the store in `root`, and removes what writes
    /// interrupted by a crash left behind.
    pub async fn open(root: &Path, max_blob_bytes: u64) -> Result<Self, ImageStoreError> {
        let blobs = root.join("blobs").join("sha256");
        let tags = root.join("tags");
        for directory in [&blobs, &tags] {
            tokio::fs::create_dir_all(directory)
                .await
                .map_err(io_error("create", directory))?;
            durable::remove_leftover_temporary_files(directory)
                .await
                .map_err(io_error("clean up", directory))?;
        }
        // The directories themselves must survive a crash, like the files put in them.
        let blobs_parent = root.join("blobs");
        let created = [root.parent(), Some(root), Some(blobs_parent.as_path())];
        for directory in created
            .into_iter()
            .flatten()
            .filter(|directory| !directory.as_os_str().is_empty())
        {
            durable::sync_directory(directory)
                .await
                .map_err(io_error("flush", directory))?;
        }
        Ok(Self {
            blobs,
            tags,
            max_blob_bytes,
        })
    }

    /// The largest blob the store accepts.
    pub fn max_blob_bytes(&self) -> u64 {
        self.max_blob_bytes
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    fn tag_path(&self, reference: &ImageReference) -> PathBuf {
        let file_name = Digest::of_bytes(reference.to_string().as_bytes());
        self.tags.join(format!("{}.json", file_name.hex()))
    }

    /// Stores `body` as the blob `expected`. The body is streamed to a temporary file
    /// while its digest is computed; only a body that is WebAssembly, within the size
    /// limit and of exactly the expected digest is put in place, durably, before this
    /// returns. Anything refused leaves no file behind.
    pub async fn put_blob<S, E>(
        &self,
        expected: &Digest,
        mut body: S,
    ) -> Result<StoredBlob, ImageStoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: fmt::Display,
    {
        let mut temporary = TemporaryFile::create(&self.blobs)
            .await
            .map_err(io_error("create a temporary file in", &self.blobs))?;
        let mut hasher = DigestHasher::new();
        let mut size = 0_u64;
        let mut head = Vec::with_capacity(WEBASSEMBLY_MAGIC.len());
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| ImageStoreError::Body(error.to_string()))?;
            size = size.saturating_add(chunk.len() as u64);
            if size > self.max_blob_bytes {
                return Err(ImageStoreError::TooLarge {
                    limit: self.max_blob_bytes,
                });
            }
            // Refused as soon as the magic is known to be wrong, not after the upload.
            if head.len() < WEBASSEMBLY_MAGIC.len() {
                let missing = WEBASSEMBLY_MAGIC.len() - head.len();
                head.extend(chunk.iter().take(missing));
                if head.len() == WEBASSEMBLY_MAGIC.len() && !is_webassembly(&head) {
                    return Err(ImageStoreError::NotWebAssembly);
                }
            }
            hasher.update(&chunk);
            temporary
                .write_all(&chunk)
                .await
                .map_err(io_error("write a temporary file in", &self.blobs))?;
        }
        if !is_webassembly(&head) {
            return Err(ImageStoreError::NotWebAssembly);
        }
        let actual = hasher.finish();
        if &actual != expected {
            return Err(ImageStoreError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let target = self.blob_path(expected);
        let existed = tokio::fs::try_exists(&target)
            .await
            .map_err(io_error("look for", &target))?;
        temporary
            .persist(&target)
            .await
            .map_err(io_error("write", &target))?;
        Ok(StoredBlob {
            digest: actual,
            size,
            created: !existed,
        })
    }

    /// The size of a stored blob, or None when the store does not have it.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, ImageStoreError> {
        let path = self.blob_path(digest);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("read the metadata of", &path)(error)),
        }
    }

    /// Opens a stored blob for reading, or None when the store does not have it.
    pub async fn open_blob(&self, digest: &Digest) -> Result<Option<BlobFile>, ImageStoreError> {
        let path = self.blob_path(digest);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error("open", &path)(error)),
        };
        let metadata = file
            .metadata()
            .await
            .map_err(io_error("read the metadata of", &path))?;
        Ok(Some(BlobFile {
            file,
            size: metadata.len(),
        }))
    }

    /// Points `reference` at the stored blob `digest`, durably.
    pub async fn tag(
        &self,
        reference: &ImageReference,
        digest: &Digest,
    ) -> Result<TagRecord, ImageStoreError> {
        if self.blob_size(digest).await?.is_none() {
            return Err(ImageStoreError::BlobNotFound(digest.clone()));
        }
        let record = TagRecord {
            name: reference.name.clone(),
            tag: reference.tag.clone(),
            digest: digest.clone(),
        };
        let path = self.tag_path(reference);
        let content = serde_json::to_vec(&record)
            .map_err(io::Error::from)
            .map_err(io_error("encode the tag record", &path))?;
        durable::write_file(&path, &content)
            .await
            .map_err(io_error("write", &path))?;
        Ok(record)
    }

    /// What `reference` points at, or None when it is not in the store.
    pub async fn resolve(
        &self,
        reference: &ImageReference,
    ) -> Result<Option<TagRecord>, ImageStoreError> {
        let path = self.tag_path(reference);
        match tokio::fs::read(&path).await {
            Ok(content) => read_tag_record(&path, &content).map(Some),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("read", &path)(error)),
        }
    }

    /// Every tag with its blob's size, sorted by name, then tag.
    pub async fn list(&self) -> Result<Vec<ImageSummary>, ImageStoreError> {
        let mut entries = tokio::fs::read_dir(&self.tags)
            .await
            .map_err(io_error("list", &self.tags))?;
        let mut images = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error("list", &self.tags))?
        {
            let path = entry.path();
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(durable::TEMPORARY_PREFIX)
            {
                continue;
            }
            let content = tokio::fs::read(&path)
                .await
                .map_err(io_error("read", &path))?;
            let record = read_tag_record(&path, &content)?;
            let Some(size) = self.blob_size(&record.digest).await? else {
                return Err(ImageStoreError::TaggedBlobMissing {
                    reference: ImageReference {
                        name: record.name,
                        tag: record.tag,
                    },
                    digest: record.digest,
                });
            };
            images.push(ImageSummary {
                name: record.name,
                tag: record.tag,
                digest: record.digest,
                size,
            });
        }
        images.sort_by(|left, right| (&left.name, &left.tag).cmp(&(&right.name, &right.tag)));
        Ok(images)
    }
}

fn read_tag_record(path: &Path, content: &[u8]) -> Result<TagRecord, ImageStoreError> {
    serde_json::from_slice(content).map_err(|source| ImageStoreError::CorruptTag {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(pieces: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        futures::stream::iter(
            pieces
                .iter()
                .map(|piece| Ok(Bytes::from_static(piece)))
                .collect::<Vec<_>>(),
        )
    }

    fn entries(directory: &Path) -> Vec<String> {
        std::fs::read_dir(directory)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_body_is_checked_as_it_streams_in_whatever_chunks_it_comes() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let store = ImageStore::open(root.path(), 12)
            .await
            .expect("the store opens");
        let blobs = root.path().join("blobs").join("sha256");

        let split_magic: &[&[u8]] = &[b"\0a", b"s", b"m\x01\0\0\0"];
        let digest = Digest::of_bytes(b"\0asm\x01\0\0\0");
        let stored = store.put_blob(&digest, chunks(split_magic)).await;
        assert!(
            stored
                .as_ref()
                .is_ok_and(|stored| stored.size == 8 && stored.created),
            "{stored:?}"
        );
        assert_eq!(entries(&blobs), vec![digest.hex().to_owned()]);

        let too_large: &[&[u8]] = &[b"\0asm\x01\0\0\0", b"\0\0\0\0", b"\0"];
        let refused = store.put_blob(&digest, chunks(too_large)).await;
        assert!(
            matches!(refused, Err(ImageStoreError::TooLarge { limit: 12 })),
            "{refused:?}"
        );
        let not_webassembly: &[&[u8]] = &[b"\0as", b"x"];
        let refused = store.put_blob(&digest, chunks(not_webassembly)).await;
        assert!(
            matches!(refused, Err(ImageStoreError::NotWebAssembly)),
            "{refused:?}"
        );
        let too_short: &[&[u8]] = &[b"\0a"];
        let refused = store.put_blob(&digest, chunks(too_short)).await;
        assert!(
            matches!(refused, Err(ImageStoreError::NotWebAssembly)),
            "{refused:?}"
        );
        assert_eq!(
            entries(&blobs),
            vec![digest.hex().to_owned()],
            "refused bodies leave no temporary file"
        );
    }
}
