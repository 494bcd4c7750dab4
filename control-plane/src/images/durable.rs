//! Durable, all-or-nothing file writes: content goes to a temporary file in the target's
//! directory, is flushed to disk, then renamed over the target, and the directory is
//! flushed so that the rename itself survives a crash. A reader sees the old file or the
//! whole new one, never a part.

use std::io;
use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::AsyncWriteExt;

/// Temporary files start with this, so that a store opening after a crash can find and
/// remove the ones a write left behind.
pub const TEMPORARY_PREFIX: &str = ".tmp-";

/// A file being written under a temporary name. Unless [`TemporaryFile::persist`] puts
/// it in place, dropping it removes it: a refused or abandoned upload leaves nothing.
pub struct TemporaryFile {
    path: PathBuf,
    file: Option<File>,
    persisted: bool,
}

impl TemporaryFile {
    pub async fn create(directory: &Path) -> io::Result<Self> {
        let path = directory.join(format!("{TEMPORARY_PREFIX}{}", uuid::Uuid::new_v4()));
        let file = File::create_new(&path).await?;
        Ok(Self {
            path,
            file: Some(file),
            persisted: false,
        })
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.write_all(bytes).await,
            None => Err(io::Error::other("the temporary file is already closed")),
        }
    }

    /// Flushes the content to disk, renames the file to `target` (replacing it) and
    /// flushes the directory.
    pub async fn persist(mut self, target: &Path) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all().await?;
            // Closed before the rename: Windows cannot rename a file that is open.
            drop(file.into_std().await);
        }
        tokio::fs::rename(&self.path, target).await?;
        self.persisted = true;
        match target.parent() {
            Some(directory) => sync_directory(directory).await,
            None => Ok(()),
        }
    }
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        if self.persisted {
            return;
        }
        drop(self.file.take());
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "cannot remove a temporary file");
        }
    }
}

/// Writes `content` to `target` durably and all at once.
pub async fn write_file(target: &Path, content: &[u8]) -> io::Result<()> {
    let directory = target
        .parent()
        .ok_or_else(|| io::Error::other("the target has no parent directory"))?;
    let mut temporary = TemporaryFile::create(directory).await?;
    temporary.write_all(content).await?;
    temporary.persist(target).await
}

/// Makes the directory's entries (a rename, a new file) durable.
#[cfg(unix)]
pub async fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory).await?.sync_all().await
}

/// Windows offers no way to flush a directory through the standard library; NTFS
/// journals its metadata, renames included, so there is nothing more to do.
#[cfg(not(unix))]
pub async fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes the temporary files that writes interrupted by a crash left in `directory`.
pub async fn remove_leftover_temporary_files(directory: &Path) -> io::Result<()> {
    let mut entries = tokio::fs::read_dir(directory).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(TEMPORARY_PREFIX)
        {
            tokio::fs::remove_file(entry.path()).await?;
        }
    }
    Ok(())
}
