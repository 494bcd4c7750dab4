//! How much disk a directory tree uses, measured as the kubelet's `fs.DiskUsage` measures an
//! emptyDir for its `sizeLimit`: allocated blocks rather than file lengths (so sparse files
//! count only what they occupy), each hard-linked file once, symlinks as themselves (never
//! followed), and nothing on another filesystem mounted inside the tree.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The bytes used by the tree at `path`, which is itself counted.
///
/// On unix this sums allocated 512-byte blocks, as the kubelet does; other operating systems
/// report no block counts, so there file lengths are summed instead. The walk keeps its own
/// stack rather than recursing, because a guest controls how deep an emptyDir goes. Entries
/// that vanish during the walk (a container deleting files) are skipped, not reported.
pub fn directory_usage_bytes(path: &Path) -> io::Result<u64> {
    let top = fs::symlink_metadata(path)?;
    let top_device = device_of(&top);
    let mut seen_hard_links = HashSet::new();
    let mut total = usage_of(&top, &mut seen_hard_links);
    let mut pending: Vec<PathBuf> = if top.is_dir() {
        vec![path.to_path_buf()]
    } else {
        Vec::new()
    };
    while let Some(directory) = pending.pop() {
        let entries = match fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            if device_of(&metadata) != top_device {
                continue;
            }
            total = total.saturating_add(usage_of(&metadata, &mut seen_hard_links));
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(total)
}

#[cfg(unix)]
fn device_of(metadata: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::dev(metadata)
}

#[cfg(not(unix))]
fn device_of(_metadata: &fs::Metadata) -> u64 {
    0
}

/// What one entry adds: its blocks, or nothing if it is a hard link already counted.
#[cfg(unix)]
fn usage_of(metadata: &fs::Metadata, seen_hard_links: &mut HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    if !metadata.is_dir()
        && metadata.nlink() > 1
        && !seen_hard_links.insert((metadata.dev(), metadata.ino()))
    {
        return 0;
    }
    metadata.blocks().saturating_mul(512)
}

#[cfg(not(unix))]
fn usage_of(metadata: &fs::Metadata, _seen_hard_links: &mut HashSet<(u64, u64)>) -> u64 {
    metadata.len()
}
