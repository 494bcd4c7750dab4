//! A pod's volumes as host directories that the runtime preopens for its guests.
//!
//! A wasmkube container is a WASI guest whose only filesystem is a set of preopened host
//! directories (confined by wasmtime-wasi: no `..` or symlink leads out of a preopen). This
//! crate materialises each volume of a pod as such a directory, with the kubelet's semantics,
//! and tells the node agent which directory to preopen at which guest path:
//!
//! - [`PodVolumes::prepare`] sets up a pod's volumes (emptyDir, hostPath where the node allows
//!   it, configMap, secret, downwardAPI, projected with ServiceAccount tokens) under
//!   [`VolumeHost::pods_dir`];
//! - [`PodVolumes::refresh`] propagates configMap, secret and pod metadata changes to running
//!   containers through the kubelet's atomic writer layout, and renews ServiceAccount tokens
//!   when they near expiry;
//! - [`PodVolumes::mounts`] resolves a container's `volumeMounts` (readOnly, subPath,
//!   subPathExpr) into [`Mount`]s;
//! - [`PodVolumes::empty_dir_usage_over_limit`] is the agent's poll for emptyDir `sizeLimit`
//!   eviction;
//! - [`remove_pod_volumes`] and [`pod_volume_dirs`] clean up after pods, also after a restart.
//!
//! Where WASI forces a difference from Kubernetes (directories only, no tmpfs, no bind mounts),
//! the module that implements the volume type says so.

mod atomic_writer;
mod container_resources;
mod disk_usage;
mod downward_api;
mod empty_dir;
mod error;
pub mod expansion;
mod host;
mod host_path;
mod key_projection;
mod mounts;
mod pod_volumes;
mod projection;
mod service_account_token;
mod sources;

pub use atomic_writer::AtomicWriteError;
pub use container_resources::{ContainerResourceError, container_resource_value};
pub use disk_usage::directory_usage_bytes;
pub use downward_api::{DownwardApiError, metadata_field_value};
pub use empty_dir::{EmptyDirError, EmptyDirOverLimit};
pub use error::{SetUpError, VolumeError};
pub use host::{VolumeHost, pod_volume_dirs, remove_pod_volumes};
pub use host_path::HostPathError;
pub use key_projection::KeyProjectionError;
pub use mounts::{Mount, MountError};
pub use pod_volumes::PodVolumes;
pub use projection::ProjectionError;
pub use service_account_token::{ServiceAccountTokenError, ServiceAccountTokenRequest};
pub use sources::{ApiServerVolumeSources, VolumeSourceReader};
