//! The node's image cache on disk:
//! - `DIR/blobs/sha256/<hex>`: modules named by their digest, each written to a temporary
//!   file in `DIR/tmp`, fsync'd, then renamed into place, so a blob that exists is whole;
//! - `DIR/tags/<escaped name>/<escaped tag>`: the digest a tag resolved to when it was
//!   last pulled, which `IfNotPresent` and `Never` pulls of a tag use;
//! - `DIR/tmp`: files being written; whatever is left there by a crash is removed when
//!   the cache is opened.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::Digest;
use crate::error::PullError;

/// The directories of the cache.
pub(crate) struct BlobStore {
    blobs: PathBuf,
    tags: PathBuf,
    temporary: PathBuf,
}

impl BlobStore {
    /// Creates the layout under `root` if needed and empties `root/tmp`.
    pub(crate) fn open(root: &Path) -> io::Result<BlobStore> {
        let store = BlobStore {
            blobs: root.join("blobs").join("sha256"),
            tags: root.join("tags"),
            temporary: root.join("tmp"),
        };
        fs::create_dir_all(&store.blobs)?;
        fs::create_dir_all(&store.tags)?;
        if store.temporary.exists() {
            fs::remove_dir_all(&store.temporary)?;
        }
        fs::create_dir_all(&store.temporary)?;
        Ok(store)
    }

    /// The directory of the modules.
    pub(crate) fn blob_directory(&self) -> &Path {
        &self.blobs
    }

    /// Where the module with this digest is (or would be) kept.
    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    /// The size of the cached module with this digest, or `None` when it is not cached.
    pub(crate) fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, PullError> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PullError::Cache { path, source }),
        }
    }

    /// Stores a module's (already verified) bytes under its digest, durably: the bytes
    /// are on disk before the blob's name appears. Storing a blob that exists is a no-op.
    pub(crate) fn write_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf, PullError> {
        let path = self.blob_path(digest);
        if path.exists() {
            return Ok(path);
        }
        self.write_atomically(&path, bytes, true)?;
        Ok(path)
    }

    /// The digest recorded for `NAME:TAG`, or `None` when the tag was never pulled or its
    /// record is unreadable (a crash can leave a record empty; it is then pulled again).
    pub(crate) fn read_tag(&self, name: &str, tag: &str) -> Result<Option<Digest>, PullError> {
        let path = self.tag_path(name, tag);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let digest = Digest::parse(text.trim()).ok();
                if digest.is_none() {
                    tracing::warn!(path = %path.display(), "ignoring an unreadable image tag record");
                }
                Ok(digest)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PullError::Cache { path, source }),
        }
    }

    /// Records that `NAME:TAG` resolved to `digest`. The record is not fsync'd: losing it
    /// in a crash only means the tag is resolved again at the next pull.
    pub(crate) fn write_tag(
        &self,
        name: &str,
        tag: &str,
        digest: &Digest,
    ) -> Result<(), PullError> {
        let path = self.tag_path(name, tag);
        if let Some(directory) = path.parent() {
            fs::create_dir_all(directory).map_err(|source| PullError::Cache {
                path: directory.to_owned(),
                source,
            })?;
        }
        self.write_atomically(&path, format!("{digest}\n").as_bytes(), false)
    }

    /// Removes every blob whose digest is not in `in_use`, and the tag records that
    /// pointed to them; returns how many blobs were removed. Files in the blob directory
    /// that are not named by a digest are not the cache's and are left alone.
    pub(crate) fn remove_unused(&self, in_use: &HashSet<Digest>) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let Some(digest) = entry.file_name().to_str().and_then(Digest::from_hex) else {
                continue;
            };
            if !in_use.contains(&digest) {
                remove_file_if_present(&entry.path())?;
                removed += 1;
            }
        }
        self.remove_dangling_tags()?;
        Ok(removed)
    }

    /// Removes tag records whose blob is gone, and name directories left empty.
    fn remove_dangling_tags(&self) -> io::Result<()> {
        for name_entry in fs::read_dir(&self.tags)? {
            let name_directory = name_entry?.path();
            for tag_entry in fs::read_dir(&name_directory)? {
                let tag_path = tag_entry?.path();
                let recorded = fs::read_to_string(&tag_path)
                    .ok()
                    .and_then(|text| Digest::parse(text.trim()).ok());
                let blob_exists = recorded.is_some_and(|digest| self.blob_path(&digest).exists());
                if !blob_exists {
                    remove_file_if_present(&tag_path)?;
                }
            }
            // Only an empty directory is removed; one that still holds a tag (perhaps
            // written by a concurrent pull just now) stays.
            match fs::remove_dir(&name_directory) {
                Err(error)
                    if !matches!(
                        error.kind(),
                        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound
                    ) =>
                {
                    return Err(error);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The record of `NAME:TAG`.
    fn tag_path(&self, name: &str, tag: &str) -> PathBuf {
        self.tags
            .join(escape_file_name(name))
            .join(escape_file_name(tag))
    }

    /// Writes `bytes` to a temporary file in `DIR/tmp` and renames it to `path`, so that
    /// readers see the old file or the whole new one, never a part.
    fn write_atomically(&self, path: &Path, bytes: &[u8], durable: bool) -> Result<(), PullError> {
        let failed = |source| PullError::Cache {
            path: path.to_owned(),
            source,
        };
        let mut file = NamedTempFile::new_in(&self.temporary).map_err(failed)?;
        file.write_all(bytes).map_err(failed)?;
        if durable {
            file.as_file().sync_all().map_err(failed)?;
        }
        file.persist(path).map_err(|error| failed(error.error))?;
        Ok(())
    }
}

/// Removes a file, treating one already gone (removed concurrently) as removed.
fn remove_file_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// A name or tag as one file name: bytes other than lowercase letters, digits, `.`, `_`
/// and `-` become `%XX`. That maps a name's `/` to `%2F`, and an upper-case letter of a
/// tag to an escape too, so two tags that differ only in case stay apart on
/// case-insensitive file systems (macOS, Windows). Names and tags cannot be `.` or `..`,
/// as both must start with a letter, digit or `_`.
fn escape_file_name(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
        {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_escape_to_distinct_single_file_names() {
        assert_eq!(escape_file_name("team/hello"), "team%2Fhello");
        assert_eq!(escape_file_name("v1.0_rc-1"), "v1.0_rc-1");
        assert_ne!(escape_file_name("V1"), escape_file_name("v1"));
        assert_eq!(escape_file_name("V1"), "%561");
    }

    #[test]
    fn opening_removes_what_a_crash_left_in_the_temporary_directory() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("tmp")).unwrap();
        fs::write(root.path().join("tmp").join(".tmpHALF"), b"\0as").unwrap();
        BlobStore::open(root.path()).unwrap();
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }
}
