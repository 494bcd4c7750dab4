//! The crate's top-level error, worded like the kubelet's events so that the node agent can
//! put it into a `FailedMount` event or a container's waiting message as it is.

use crate::atomic_writer::AtomicWriteError;
use crate::empty_dir::EmptyDirError;
use crate::host_path::HostPathError;
use crate::mounts::MountError;
use crate::projection::ProjectionError;

/// Why a pod's volumes, or a container's mounts of them, could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// One volume could not be prepared or refreshed; the kubelet's `FailedMount` text, such
    /// as `MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found`.
    #[error("MountVolume.SetUp failed for volume {volume:?} : {cause}")]
    SetUp { volume: String, cause: SetUpError },
    #[error("volume {volume:?}: {volume_type} volumes are not supported by wasmkube yet")]
    UnsupportedVolumeType {
        volume: String,
        volume_type: &'static str,
    },
    #[error("volume {volume:?}: may not specify more than 1 volume type (found {})", volume_types.join(", "))]
    MultipleVolumeTypes {
        volume: String,
        volume_types: Vec<&'static str>,
    },
    #[error("spec.volumes[{index}].name: Invalid value: {name:?}: must be a single path component")]
    InvalidVolumeName { index: usize, name: String },
    #[error("spec.volumes[{index}].name: Duplicate value: {name:?}")]
    DuplicateVolumeName { index: usize, name: String },
    #[error("pod has no metadata.uid")]
    MissingPodUid,
    #[error("invalid pod uid {uid:?}: must be a single path component")]
    InvalidPodUid { uid: String },
    #[error("pod has no metadata.namespace")]
    MissingPodNamespace,
    #[error("these volumes belong to pod uid {expected:?}, not {given:?}")]
    PodUidMismatch { expected: String, given: String },
    /// A configMap or secret could not be read (not: does not exist).
    #[error("could not get {resource} {name:?} in namespace {namespace:?}: {message}")]
    SourceRead {
        resource: &'static str,
        namespace: String,
        name: String,
        message: String,
    },
    #[error(transparent)]
    Mount(#[from] MountError),
}

impl VolumeError {
    /// The cause without the `MountVolume.SetUp failed for volume "NAME" : ` prefix, such as
    /// `configmap "settings" not found`; other errors are already short.
    pub fn short_message(&self) -> String {
        match self {
            VolumeError::SetUp { cause, .. } => cause.to_string(),
            other => other.to_string(),
        }
    }
}

/// What went wrong setting up one volume.
#[derive(Debug, thiserror::Error)]
pub enum SetUpError {
    #[error(transparent)]
    EmptyDir(#[from] EmptyDirError),
    #[error(transparent)]
    HostPath(#[from] HostPathError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Write(#[from] AtomicWriteError),
}
