//! Where a node keeps its pods' volumes, and the clean-up of pods that are gone.
//!
//! The layout is `pods_dir/<pod uid>/volumes/<volume name>`; the rest of a pod's directory
//! belongs to other parts of the agent, so only `volumes` is removed with the pod (and the pod
//! directory itself once nothing else is left in it).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The name of the directory under a pod's directory that holds its volumes.
const VOLUMES_DIR_NAME: &str = "volumes";

/// The node's side of volumes: where they live and which host directories pods may mount.
#[derive(Debug, Clone)]
pub struct VolumeHost {
    /// The directory holding one directory per pod, named by the pod's uid.
    pub pods_dir: PathBuf,
    /// The host directories under which hostPath volumes are allowed (compared after resolving
    /// symlinks); empty allows none.
    pub allowed_host_paths: Vec<PathBuf>,
}

impl VolumeHost {
    /// The directory holding the volumes of the pod with `pod_uid`.
    pub(crate) fn pod_volumes_dir(&self, pod_uid: &str) -> PathBuf {
        self.pods_dir.join(pod_uid).join(VOLUMES_DIR_NAME)
    }
}

/// Whether `name` can be used as one path component: not empty, not `.` or `..`, no separator.
/// Pod uids and volume names always are when the API server made them; this guards the paths
/// built from them anyway.
pub(crate) fn is_single_path_component(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn check_pod_uid(pod_uid: &str) -> io::Result<()> {
    if is_single_path_component(pod_uid) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid pod uid {pod_uid:?}: must be a single path component"),
        ))
    }
}

/// Deletes the pod's volumes (emptyDir content, configMap and secret files; never a hostPath
/// directory, which lives outside the pod's directory and is not followed), then the pod's
/// directory if nothing else is in it. Removing what is already gone succeeds.
pub fn remove_pod_volumes(host: &VolumeHost, pod_uid: &str) -> io::Result<()> {
    check_pod_uid(pod_uid)?;
    let volumes_dir = host.pod_volumes_dir(pod_uid);
    match fs::remove_dir_all(&volumes_dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    remove_dir_if_empty(&host.pods_dir.join(pod_uid))
}

fn remove_dir_if_empty(dir: &Path) -> io::Result<()> {
    let mut entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if entries.next().is_none() {
        fs::remove_dir(dir)
    } else {
        Ok(())
    }
}

/// The uids of the pods that have volumes on this node, so that after a restart the agent can
/// remove those of pods that no longer exist. A missing `pods_dir` means none.
pub fn pod_volume_dirs(host: &VolumeHost) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(&host.pods_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut pod_uids = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if entry.path().join(VOLUMES_DIR_NAME).is_dir() {
            pod_uids.push(name);
        }
    }
    pod_uids.sort();
    Ok(pod_uids)
}
