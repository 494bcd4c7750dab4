//! Restoring a backup into a server's data directory, offline, as `etcdutl snapshot
//! restore` does: everything is written into a staging directory first and moved into
//! place only once the whole backup has been read and its checksum verified, so that a
//! truncated or corrupt backup changes nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::runtime::Handle;

use super::{
    BackupError, BackupHeader, BackupReader, BackupRecord, BackupSummary, IDENTITY_FILES,
    IdentityFile, RestoredStore, StoreRestorer,
};
use crate::images::{ImageReference, ImageStore};

/// The store's file in a data directory, as the server opens it.
pub const STORE_FILE: &str = "store.redb";
/// The image store's directory in a data directory.
pub const IMAGES_DIRECTORY: &str = "images";
/// The largest blob a restore accepts: whatever the backed-up server accepted.
const MAX_RESTORED_BLOB_BYTES: u64 = 1 << 32;

/// Where the restored cluster's identity (CA, keys, tokens) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoredIdentity {
    /// The backup's identity files were written (or were already there, the same).
    FromBackup,
    /// The backup has none; the data directory's own are kept.
    KeptFromDataDir,
    /// Neither has them: the server makes a new CA, keys and tokens when it starts.
    None,
}

/// What a restore did.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    pub header: BackupHeader,
    pub summary: BackupSummary,
    pub store: RestoredStore,
    pub identity: RestoredIdentity,
}

fn io_context(action: &str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let message = format!("cannot {action} {}", path.display());
    move |error| {
        BackupError::Io(std::io::Error::new(
            error.kind(),
            format!("{message}: {error}"),
        ))
    }
}

fn image_error(error: impl std::fmt::Display) -> BackupError {
    BackupError::Corrupt(format!("an image: {error}"))
}

/// Restores `input` into `data_dir`, which must not hold a store or an image store yet
/// (a new or empty directory, or one holding only identity files). `runtime` runs the
/// image store's calls; the restore itself blocks, so it runs on a blocking thread.
pub fn restore_data_dir<R: Read>(
    input: R,
    data_dir: &Path,
    revision_bump: u64,
    runtime: &Handle,
) -> Result<RestoreReport, BackupError> {
    for taken in [STORE_FILE, IMAGES_DIRECTORY] {
        let path = data_dir.join(taken);
        if path.exists() {
            return Err(BackupError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} already exists: restore into a new data directory (with the server stopped)",
                    path.display()
                ),
            )));
        }
    }
    let created = !data_dir.exists();
    std::fs::create_dir_all(data_dir).map_err(io_context("create", data_dir))?;
    let staging = data_dir.join(format!(".restore-{}", uuid::Uuid::new_v4()));
    let outcome = std::fs::create_dir(&staging)
        .map_err(io_context("create", &staging))
        .and_then(|()| restore_into(input, data_dir, &staging, revision_bump, runtime));
    let cleanup = std::fs::remove_dir_all(&staging);
    if outcome.is_err() && created {
        let _ = std::fs::remove_dir_all(data_dir);
    }
    let report = outcome?;
    cleanup.map_err(io_context("remove", &staging))?;
    Ok(report)
}

fn restore_into<R: Read>(
    input: R,
    data_dir: &Path,
    staging: &Path,
    revision_bump: u64,
    runtime: &Handle,
) -> Result<RestoreReport, BackupError> {
    let mut reader = BackupReader::new(input)?;
    let header = match reader.next_record()? {
        Some(BackupRecord::Header(header)) => header,
        _ => return Err(BackupError::Corrupt("the backup has no header".to_owned())),
    };
    let mut store = StoreRestorer::create(&staging.join(STORE_FILE), header.revision)?;
    let images = runtime
        .block_on(ImageStore::open(
            &staging.join(IMAGES_DIRECTORY),
            MAX_RESTORED_BLOB_BYTES,
        ))
        .map_err(image_error)?;
    let mut identity: Vec<(&'static IdentityFile, Vec<u8>)> = Vec::new();
    while let Some(record) = reader.next_record()? {
        match record {
            BackupRecord::Header(_) => {
                return Err(BackupError::Corrupt("a second header".to_owned()));
            }
            BackupRecord::Object {
                key,
                revision,
                json,
            } => store.insert(&key, revision, json)?,
            BackupRecord::Blob { digest, content } => {
                let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content))]);
                runtime
                    .block_on(images.put_blob(&digest, body))
                    .map_err(image_error)?;
            }
            BackupRecord::ImageTag(tag) => {
                let reference = ImageReference::parse(&format!("{}:{}", tag.name, tag.tag))
                    .map_err(image_error)?;
                runtime
                    .block_on(images.tag(&reference, &tag.digest))
                    .map_err(image_error)?;
            }
            BackupRecord::File { file, content } => identity.push((file, content)),
        }
    }
    let restored = store.finish(revision_bump)?;
    let identity_outcome = place_identity_files(data_dir, &identity)?;
    let images_target = data_dir.join(IMAGES_DIRECTORY);
    std::fs::rename(staging.join(IMAGES_DIRECTORY), &images_target)
        .map_err(io_context("move the images to", &images_target))?;
    // The store goes last: a data directory with a store is a restored one.
    let store_target = data_dir.join(STORE_FILE);
    std::fs::rename(staging.join(STORE_FILE), &store_target)
        .map_err(io_context("move the store to", &store_target))?;
    sync_directory(data_dir)?;
    Ok(RestoreReport {
        header,
        summary: reader.summary().clone(),
        store: restored,
        identity: identity_outcome,
    })
}

/// Writes the backup's identity files, refusing (before writing any) when the data
/// directory already holds a different one: that is another cluster's.
fn place_identity_files(
    data_dir: &Path,
    files: &[(&'static IdentityFile, Vec<u8>)],
) -> Result<RestoredIdentity, BackupError> {
    if files.is_empty() {
        let ca = data_dir.join(IDENTITY_FILES[0].path);
        return Ok(if ca.exists() {
            RestoredIdentity::KeptFromDataDir
        } else {
            RestoredIdentity::None
        });
    }
    let mut to_write: Vec<(PathBuf, &IdentityFile, &[u8])> = Vec::new();
    for (file, content) in files {
        let path = data_dir.join(file.path);
        match std::fs::read(&path) {
            Ok(existing) if existing == *content => {}
            Ok(_) => {
                return Err(BackupError::Io(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} differs from the backup's: the data directory holds another cluster's identity",
                        path.display()
                    ),
                )));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                to_write.push((path, file, content));
            }
            Err(error) => return Err(io_context("read", &path)(error)),
        }
    }
    for (path, file, content) in to_write {
        write_private_file(&path, file.mode, content)?;
    }
    Ok(RestoredIdentity::FromBackup)
}

fn write_private_file(path: &Path, mode: u32, content: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let directory = path
        .parent()
        .ok_or_else(|| BackupError::Corrupt(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(directory).map_err(io_context("create", directory))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io_context("create", path))?;
    file.write_all(content)
        .and_then(|()| file.sync_all())
        .map_err(io_context("write", path))?;
    sync_directory(directory)
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> Result<(), BackupError> {
    std::fs::File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(io_context("flush", directory))
}

/// Windows offers no way to flush a directory through the standard library; NTFS
/// journals its renames.
#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> Result<(), BackupError> {
    Ok(())
}
