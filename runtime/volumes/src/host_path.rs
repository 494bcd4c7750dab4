//! hostPath volumes: a directory of the node itself, allowed only under the prefixes the node
//! is configured with ([`crate::VolumeHost::allowed_host_paths`]).
//!
//! WASI preopens are directories, so of Kubernetes' hostPath types only `""`, `Directory` and
//! `DirectoryOrCreate` can be honoured; the file, socket and device types are refused. With type
//! `""` a missing path is created as a directory, as container runtimes create a missing bind
//! mount source.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::HostPathVolumeSource;

/// The hostPath types Kubernetes defines, in the order its validation lists them.
const KNOWN_TYPES: [&str; 8] = [
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];

/// Why a hostPath volume could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HostPathError {
    #[error("hostPath {path:?} must be an absolute path")]
    NotAbsolute { path: String },
    #[error("hostPath {path:?} must not contain '..'")]
    Backsteps { path: String },
    #[error(
        "hostPath type {type_name:?} is not supported: WASI preopens are directories, so a hostPath volume must be a directory (type \"\", \"Directory\" or \"DirectoryOrCreate\")"
    )]
    UnsupportedType { type_name: String },
    #[error("hostPath type {type_name:?} is unknown: supported values: {}", quoted_list(&KNOWN_TYPES))]
    UnknownType { type_name: String },
    #[error(
        "the node does not allow hostPath {path:?}: {}",
        allowed_description(allowed)
    )]
    NotAllowed { path: String, allowed: Vec<PathBuf> },
    /// The kubelet's type check failure for `Directory` and `DirectoryOrCreate`.
    #[error("hostPath type check failed: {path} is not a directory")]
    NotADirectory { path: String },
    #[error("hostPath {path:?} is not a directory: WASI preopens are directories")]
    NotADirectoryForWasi { path: String },
    #[error("{action} hostPath {path:?}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: io::Error,
    },
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn allowed_description(allowed: &[PathBuf]) -> String {
    if allowed.is_empty() {
        return "this node allows no hostPath volumes".to_string();
    }
    let prefixes: Vec<String> = allowed
        .iter()
        .map(|prefix| format!("{:?}", prefix.display().to_string()))
        .collect();
    format!("the allowed prefixes are {}", prefixes.join(", "))
}

/// How the type asks for a missing path to be treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DirectoryType {
    /// `""`: no check in Kubernetes; created as a directory here, since a preopen needs one.
    Unchecked,
    DirectoryOrCreate,
    Directory,
}

/// Checks the hostPath against the node's allowed prefixes (after resolving symlinks), creates
/// it if its type allows, and returns the canonical directory to preopen.
pub(crate) fn prepare_host_path(
    source: &HostPathVolumeSource,
    allowed_host_paths: &[PathBuf],
) -> Result<PathBuf, HostPathError> {
    let path_text = source.path.as_str();
    let type_name = source.type_.as_deref().unwrap_or_default();
    let directory_type = match type_name {
        "" => DirectoryType::Unchecked,
        "DirectoryOrCreate" => DirectoryType::DirectoryOrCreate,
        "Directory" => DirectoryType::Directory,
        other if KNOWN_TYPES.contains(&other) => {
            return Err(HostPathError::UnsupportedType {
                type_name: other.to_string(),
            });
        }
        other => {
            return Err(HostPathError::UnknownType {
                type_name: other.to_string(),
            });
        }
    };
    let path = Path::new(path_text);
    if !path.is_absolute() {
        return Err(HostPathError::NotAbsolute {
            path: path_text.to_string(),
        });
    }
    if path
        .components()
        .any(|component| component == Component::ParentDir)
    {
        return Err(HostPathError::Backsteps {
            path: path_text.to_string(),
        });
    }
    let allowed: Vec<PathBuf> = allowed_host_paths
        .iter()
        .filter_map(|prefix| resolve_existing_prefix(prefix).ok())
        .collect();
    let io_error = |action| {
        move |source| HostPathError::Io {
            action,
            path: path_text.to_string(),
            source,
        }
    };
    let check_allowed = |resolved: &Path| {
        if allowed.iter().any(|prefix| resolved.starts_with(prefix)) {
            Ok(())
        } else {
            Err(HostPathError::NotAllowed {
                path: path_text.to_string(),
                allowed: allowed_host_paths.to_vec(),
            })
        }
    };
    let resolved = resolve_existing_prefix(path).map_err(io_error("resolving"))?;
    check_allowed(&resolved)?;
    match fs::metadata(&resolved) {
        Ok(metadata) if metadata.is_dir() => Ok(resolved),
        Ok(_) if directory_type == DirectoryType::Unchecked => {
            Err(HostPathError::NotADirectoryForWasi {
                path: path_text.to_string(),
            })
        }
        Ok(_) => Err(HostPathError::NotADirectory {
            path: path_text.to_string(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if directory_type == DirectoryType::Directory {
                return Err(HostPathError::NotADirectory {
                    path: path_text.to_string(),
                });
            }
            fs::create_dir_all(&resolved).map_err(io_error("creating"))?;
            // Resolved again: a symlink planted while the directories were created must not
            // lead outside the allowed prefixes.
            let created = fs::canonicalize(&resolved).map_err(io_error("resolving"))?;
            check_allowed(&created)?;
            Ok(created)
        }
        Err(error) => Err(io_error("inspecting")(error)),
    }
}

/// The path with its longest existing ancestor canonicalised (symlinks resolved) and the
/// missing rest appended as it is, so that a path yet to be created can be checked against the
/// allowed prefixes before anything is created.
fn resolve_existing_prefix(path: &Path) -> io::Result<PathBuf> {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        match fs::canonicalize(existing) {
            Ok(mut resolved) => {
                resolved.extend(missing.iter().rev());
                return Ok(resolved);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(error);
                };
                missing.push(name);
                existing = parent;
            }
            Err(error) => return Err(error),
        }
    }
}
