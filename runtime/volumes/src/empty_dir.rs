//! emptyDir volumes: a directory under the pod's directory, shared by its containers, kept
//! across container restarts and node-agent restarts, deleted with the pod.
//!
//! `medium: Memory` cannot be a tmpfs here, because wasmkube uses no kernel features: it is a
//! host directory like the default medium. `sizeLimit` (for either medium) is not enforced by
//! the filesystem either; the agent polls [`crate::PodVolumes::empty_dir_usage_over_limit`]
//! and evicts the pod as the kubelet's eviction manager does.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;
use wasmkube_admission::quantity::{Quantity, QuantityError, QuantityFormat};

/// Why an emptyDir volume could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EmptyDirError {
    #[error(
        "emptyDir medium {medium:?} is not supported by wasmkube (supported: \"\" and \"Memory\")"
    )]
    UnsupportedMedium { medium: String },
    #[error("invalid emptyDir sizeLimit {text:?}: {source}")]
    InvalidSizeLimit { text: String, source: QuantityError },
    #[error("creating {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
}

/// Creates the volume's directory if it is missing and never touches what is already in it,
/// so content survives container restarts and a second preparation after an agent restart.
/// Returns the size limit to watch, if the volume has a positive one.
pub(crate) fn prepare_empty_dir(
    dir: &Path,
    source: &EmptyDirVolumeSource,
) -> Result<Option<Quantity>, EmptyDirError> {
    let medium = source.medium.as_deref().unwrap_or_default();
    if !medium.is_empty() && medium != "Memory" {
        return Err(EmptyDirError::UnsupportedMedium {
            medium: medium.to_string(),
        });
    }
    let size_limit = source
        .size_limit
        .as_ref()
        .map(|text| {
            Quantity::parse(&text.0).map_err(|source| EmptyDirError::InvalidSizeLimit {
                text: text.0.clone(),
                source,
            })
        })
        .transpose()?
        .filter(|limit| !limit.is_zero() && !limit.is_negative());
    fs::create_dir_all(dir).map_err(|source| EmptyDirError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(size_limit)
}

/// An emptyDir volume using more than its `sizeLimit`: the pod is to be evicted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyDirOverLimit {
    /// The volume's name in the pod spec.
    pub volume_name: String,
    /// The `sizeLimit` in Kubernetes' canonical form (`1Mi`, `500M`).
    pub limit: String,
    /// The bytes the volume uses, measured by [`crate::directory_usage_bytes`].
    pub used_bytes: u64,
}

impl EmptyDirOverLimit {
    /// The kubelet's eviction message, trailing space included, for the pod's status message
    /// and its `Evicted` event.
    pub fn eviction_message(&self) -> String {
        format!(
            "Usage of EmptyDir volume {:?} exceeds the limit {:?}. ",
            self.volume_name, self.limit
        )
    }
}

/// The breach, if `used_bytes` is strictly more than `limit` (as the kubelet compares them).
pub(crate) fn over_limit(
    volume_name: &str,
    used_bytes: u64,
    limit: &Quantity,
) -> Option<EmptyDirOverLimit> {
    let used = Quantity::from_units(
        i64::try_from(used_bytes).unwrap_or(i64::MAX),
        QuantityFormat::BinarySi,
    );
    (used > *limit).then(|| EmptyDirOverLimit {
        volume_name: volume_name.to_string(),
        limit: limit.to_string(),
        used_bytes,
    })
}
