//! Taking a backup of a running cluster: the store at one revision, then the image
//! store's blobs and the tags that name them; and adding the data directory's identity
//! files to such a backup where they are readable.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use tokio::runtime::Handle;

use super::{
    BackupError, BackupHeader, BackupReader, BackupRecord, BackupSummary, BackupWriter,
    IDENTITY_FILES,
};
use crate::images::{ImageStore, ImageStoreError, TagRecord};
use crate::store::Storage;

fn image_error(error: ImageStoreError) -> BackupError {
    BackupError::Io(std::io::Error::other(format!("the image store: {error}")))
}

/// Writes a backup of `storage` and `images` to `out`. It blocks on its reads and
/// writes, so it runs on a blocking thread; `runtime` runs the image store's calls.
/// Blobs are immutable and named by their content, so reading them after the store's
/// transaction cannot make the backup inconsistent; a tag pushed meanwhile is in the
/// backup or not, like an object written after the snapshot's revision.
pub fn write_cluster_snapshot<W: Write>(
    storage: &dyn Storage,
    images: &ImageStore,
    runtime: &Handle,
    out: W,
) -> Result<(W, BackupSummary), BackupError> {
    let mut writer = BackupWriter::new(out)?;
    storage.export(&mut writer)?;
    let tags = runtime.block_on(images.list()).map_err(image_error)?;
    let mut written = BTreeSet::new();
    for image in &tags {
        if !written.insert(image.digest.clone()) {
            continue;
        }
        let blob = runtime
            .block_on(images.open_blob(&image.digest))
            .map_err(image_error)?
            .ok_or_else(|| image_error(ImageStoreError::BlobNotFound(image.digest.clone())))?;
        let mut file = runtime.block_on(blob.file.into_std());
        writer.blob(&image.digest, blob.size, &mut file)?;
    }
    for image in tags {
        writer.image_tag(&TagRecord {
            name: image.name,
            tag: image.tag,
            digest: image.digest,
        })?;
    }
    writer.finish()
}

/// Copies the backup `input` to `output`, checking it as it goes, and adds the identity
/// files that `identity_dir` holds: what `wasmkube backup save --data-dir` does on the
/// server's machine, since the API server never sends its keys over the network. The
/// copy is complete only when this returns Ok: a truncated or corrupt input fails.
pub fn copy_backup<R: Read, W: Write>(
    input: R,
    output: W,
    identity_dir: Option<&Path>,
) -> Result<(W, BackupHeader, BackupSummary), BackupError> {
    let mut reader = BackupReader::new(input)?;
    let mut writer = BackupWriter::new(output)?;
    while let Some(record) = reader.next_record()? {
        // The data directory's files replace any the input carries.
        if identity_dir.is_some() && matches!(record, BackupRecord::File { .. }) {
            continue;
        }
        writer.record(&record)?;
    }
    let header = reader
        .header()
        .cloned()
        .ok_or_else(|| BackupError::Corrupt("the backup has no header".to_owned()))?;
    if let Some(directory) = identity_dir {
        for file in IDENTITY_FILES {
            let path = directory.join(file.path);
            match std::fs::read(&path) {
                Ok(content) => writer.file(file, &content)?,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(BackupError::Io(std::io::Error::new(
                        error.kind(),
                        format!("cannot read {}: {error}", path.display()),
                    )));
                }
            }
        }
    }
    let (output, summary) = writer.finish()?;
    Ok((output, header, summary))
}
