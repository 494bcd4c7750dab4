//! A container's `volumeMounts` as directories to preopen: which host directory, at which guest
//! path, read-only or not.
//!
//! `subPath` and `subPathExpr` follow the kubelet's `makeMounts`: relative, no `..`, created if
//! missing, and the resolved directory must stay inside the volume even through symlinks. Two
//! things differ because WASI preopens are directories: a subPath naming a file is refused, and
//! the check happens by resolving paths (the kubelet bind-mounts an opened file descriptor
//! instead), so the agent should preopen the returned directory right away. As in Kubernetes, a
//! subPath into a configMap, secret or downwardAPI volume is pinned to the version current when
//! the container starts and does not see later updates.
//!
//! `mountPropagation` has no meaning without kernel mounts and is ignored; `readOnly` is always
//! recursive, since a read-only preopen covers its whole tree.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::VolumeMount;

use crate::expansion::expand;

/// One directory the runtime preopens for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where the guest sees the directory: the mount's `mountPath`, cleaned (no `.` or empty
    /// components, no trailing slash).
    pub guest_path: String,
    /// The host directory to preopen.
    pub host_dir: PathBuf,
    /// Whether the guest may only read: the mount's `readOnly`, and always for configMap,
    /// secret, downwardAPI and projected volumes, as in Kubernetes.
    pub read_only: bool,
}

/// Why a container's volume mounts cannot be set up. The texts follow the kubelet's, or the
/// API server's validation where the kubelet relies on it.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("cannot find volume {volume:?} to mount into container {container:?}")]
    VolumeNotFound { volume: String, container: String },
    #[error(
        "container {container:?}: volumeMounts[{index}].mountPath: Invalid value: {mount_path:?}: must be an absolute path"
    )]
    MountPathNotAbsolute {
        container: String,
        index: usize,
        mount_path: String,
    },
    #[error(
        "container {container:?}: volumeMounts[{index}].mountPath: Invalid value: {mount_path:?}: must not contain '..'"
    )]
    MountPathBacksteps {
        container: String,
        index: usize,
        mount_path: String,
    },
    #[error(
        "container {container:?}: volumeMounts[{index}].mountPath: Invalid value: {mount_path:?}: must be unique"
    )]
    DuplicateMountPath {
        container: String,
        index: usize,
        mount_path: String,
    },
    #[error(
        "container {container:?}: volumeMounts[{index}].subPathExpr: Invalid value: {expression:?}: subPathExpr and subPath are mutually exclusive"
    )]
    SubPathAndExpression {
        container: String,
        index: usize,
        expression: String,
    },
    #[error("missing value for {names}")]
    MissingSubPathVariables { names: String },
    #[error("error SubPath `{sub_path}` must not be an absolute path")]
    AbsoluteSubPath { sub_path: String },
    #[error("unable to provision SubPath `{sub_path}`: must not contain '..'")]
    SubPathBacksteps { sub_path: String },
    #[error(
        "failed to prepare subPath for volumeMount {mount:?} of container {container:?}: subPath {sub_path:?} resolves outside the volume"
    )]
    SubPathOutsideVolume {
        mount: String,
        container: String,
        sub_path: String,
    },
    #[error(
        "failed to prepare subPath for volumeMount {mount:?} of container {container:?}: subPath {sub_path:?} is not a directory, and WASI preopens are directories"
    )]
    SubPathNotADirectory {
        mount: String,
        container: String,
        sub_path: String,
    },
    #[error(
        "failed to create subPath directory for volumeMount {mount:?} of container {container:?}: {source}"
    )]
    SubPathCreate {
        mount: String,
        container: String,
        source: io::Error,
    },
    #[error(
        "failed to prepare subPath for volumeMount {mount:?} of container {container:?}: {source}"
    )]
    SubPathResolve {
        mount: String,
        container: String,
        source: io::Error,
    },
}

/// The volume a mount refers to, as the pod's prepared volumes know it.
pub(crate) struct MountedVolume<'a> {
    pub(crate) host_dir: &'a Path,
    pub(crate) always_read_only: bool,
}

/// Where a mount's `subPath` problem lies, before the mount and container names are attached.
enum SubPathProblem {
    Outside,
    NotADirectory,
    Create(io::Error),
    Resolve(io::Error),
}

/// Resolves the container's `index`th volume mount against its volume. `env` is the
/// container's environment, for `$(VAR)` in `subPathExpr`.
pub(crate) fn resolve_mount(
    container: &str,
    index: usize,
    volume_mount: &VolumeMount,
    volume: &MountedVolume<'_>,
    env: &HashMap<String, String>,
) -> Result<Mount, MountError> {
    let guest_path = clean_guest_path(container, index, &volume_mount.mount_path)?;
    let sub_path = sub_path(container, index, volume_mount, env)?;
    let host_dir = if sub_path.is_empty() {
        volume.host_dir.to_path_buf()
    } else {
        check_sub_path_shape(&sub_path)?;
        resolve_sub_path(volume.host_dir, &sub_path).map_err(|problem| {
            let mount = volume_mount.name.clone();
            let container = container.to_string();
            match problem {
                SubPathProblem::Outside => MountError::SubPathOutsideVolume {
                    mount,
                    container,
                    sub_path,
                },
                SubPathProblem::NotADirectory => MountError::SubPathNotADirectory {
                    mount,
                    container,
                    sub_path,
                },
                SubPathProblem::Create(source) => MountError::SubPathCreate {
                    mount,
                    container,
                    source,
                },
                SubPathProblem::Resolve(source) => MountError::SubPathResolve {
                    mount,
                    container,
                    source,
                },
            }
        })?
    };
    Ok(Mount {
        guest_path,
        host_dir,
        read_only: volume.always_read_only || volume_mount.read_only.unwrap_or(false),
    })
}

/// The guest path of a mount: absolute, without `..`, with `.` and empty components dropped so
/// that `/data/` and `/data` count as the same mount path.
pub(crate) fn clean_guest_path(
    container: &str,
    index: usize,
    mount_path: &str,
) -> Result<String, MountError> {
    if !mount_path.starts_with('/') {
        return Err(MountError::MountPathNotAbsolute {
            container: container.to_string(),
            index,
            mount_path: mount_path.to_string(),
        });
    }
    let components: Vec<&str> = mount_path
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
        .collect();
    if components.contains(&"..") {
        return Err(MountError::MountPathBacksteps {
            container: container.to_string(),
            index,
            mount_path: mount_path.to_string(),
        });
    }
    Ok(format!("/{}", components.join("/")))
}

/// The mount's sub path: `subPath` as written, or `subPathExpr` expanded, where every variable
/// must have a non-empty value (the kubelet's `ExpandContainerVolumeMounts`).
fn sub_path(
    container: &str,
    index: usize,
    volume_mount: &VolumeMount,
    env: &HashMap<String, String>,
) -> Result<String, MountError> {
    let sub_path = volume_mount.sub_path.as_deref().unwrap_or_default();
    let Some(expression) = volume_mount
        .sub_path_expr
        .as_deref()
        .filter(|expression| !expression.is_empty())
    else {
        return Ok(sub_path.to_string());
    };
    if !sub_path.is_empty() {
        return Err(MountError::SubPathAndExpression {
            container: container.to_string(),
            index,
            expression: expression.to_string(),
        });
    }
    let mut missing = Vec::new();
    let expanded = expand(expression, |name| {
        match env.get(name).filter(|value| !value.is_empty()) {
            Some(value) => value.clone(),
            None => {
                missing.push(name.to_string());
                String::new()
            }
        }
    });
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Err(MountError::MissingSubPathVariables {
            names: missing.join(", "),
        });
    }
    Ok(expanded)
}

fn check_sub_path_shape(sub_path: &str) -> Result<(), MountError> {
    let path = Path::new(sub_path);
    if sub_path.starts_with('/') || path.has_root() || path.is_absolute() {
        return Err(MountError::AbsoluteSubPath {
            sub_path: sub_path.to_string(),
        });
    }
    if sub_path
        .split(['/', '\\'])
        .any(|component| component == "..")
    {
        return Err(MountError::SubPathBacksteps {
            sub_path: sub_path.to_string(),
        });
    }
    Ok(())
}

/// Walks `sub_path` inside the volume one component at a time: a missing directory is created,
/// a symlink is followed only if it resolves inside the volume (so nothing is ever created
/// outside it), and the end must be a directory inside the volume. Returns that directory with
/// every symlink resolved.
fn resolve_sub_path(volume_dir: &Path, sub_path: &str) -> Result<PathBuf, SubPathProblem> {
    let root = fs::canonicalize(volume_dir).map_err(SubPathProblem::Resolve)?;
    let mut current = root.clone();
    for component in Path::new(sub_path).components() {
        let Component::Normal(name) = component else {
            continue;
        };
        let next = current.join(name);
        match fs::symlink_metadata(&next) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let resolved = fs::canonicalize(&next).map_err(SubPathProblem::Resolve)?;
                if !resolved.starts_with(&root) {
                    return Err(SubPathProblem::Outside);
                }
                current = resolved;
            }
            Ok(metadata) if metadata.is_dir() => current = next,
            Ok(_) => return Err(SubPathProblem::NotADirectory),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // A concurrent creation (AlreadyExists) is an error rather than a retry: what
                // appeared might be a symlink, and the container start is retried anyway.
                fs::create_dir(&next).map_err(SubPathProblem::Create)?;
                current = next;
            }
            Err(error) => return Err(SubPathProblem::Resolve(error)),
        }
    }
    let resolved = fs::canonicalize(&current).map_err(SubPathProblem::Resolve)?;
    if !resolved.starts_with(&root) {
        return Err(SubPathProblem::Outside);
    }
    let metadata = fs::metadata(&resolved).map_err(SubPathProblem::Resolve)?;
    if !metadata.is_dir() {
        return Err(SubPathProblem::NotADirectory);
    }
    Ok(resolved)
}
