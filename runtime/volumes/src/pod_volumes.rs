//! A pod's volumes once prepared: set up before its containers start, refreshed while it runs,
//! resolved into mounts per container, and watched for emptyDir size limits.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use futures::lock::Mutex;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, HostPathVolumeSource, Pod, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use wasmkube_admission::quantity::Quantity;

use crate::atomic_writer::write_payload;
use crate::disk_usage::directory_usage_bytes;
use crate::empty_dir::{EmptyDirOverLimit, over_limit, prepare_empty_dir};
use crate::error::{SetUpError, VolumeError};
use crate::host::{VolumeHost, is_single_path_component};
use crate::host_path::prepare_host_path;
use crate::mounts::Mount;
use crate::mounts::{MountError, MountedVolume, clean_guest_path, resolve_mount};
use crate::projection::{ProjectionContext, ProjectionVolume};
use crate::sources::VolumeSourceReader;

/// One prepared volume: the host directory to preopen and what keeps it up to date.
#[derive(Debug)]
struct PreparedVolume {
    host_dir: PathBuf,
    kind: PreparedKind,
}

#[derive(Debug)]
enum PreparedKind {
    /// A positive `sizeLimit`, if the volume has one.
    EmptyDir {
        size_limit: Option<Quantity>,
    },
    HostPath,
    Projection(ProjectionVolume),
}

/// The volume types a `Volume` can name, as its JSON fields are called, with whether it names
/// each. Only emptyDir, hostPath, configMap, secret, downwardAPI and projected are supported.
fn volume_types(volume: &Volume) -> Vec<&'static str> {
    let present = [
        (volume.empty_dir.is_some(), "emptyDir"),
        (volume.host_path.is_some(), "hostPath"),
        (volume.config_map.is_some(), "configMap"),
        (volume.secret.is_some(), "secret"),
        (volume.downward_api.is_some(), "downwardAPI"),
        (volume.projected.is_some(), "projected"),
        (
            volume.persistent_volume_claim.is_some(),
            "persistentVolumeClaim",
        ),
        (volume.ephemeral.is_some(), "ephemeral"),
        (volume.image.is_some(), "image"),
        (volume.csi.is_some(), "csi"),
        (volume.nfs.is_some(), "nfs"),
        (volume.iscsi.is_some(), "iscsi"),
        (volume.git_repo.is_some(), "gitRepo"),
        (
            volume.aws_elastic_block_store.is_some(),
            "awsElasticBlockStore",
        ),
        (volume.azure_disk.is_some(), "azureDisk"),
        (volume.azure_file.is_some(), "azureFile"),
        (volume.cephfs.is_some(), "cephfs"),
        (volume.cinder.is_some(), "cinder"),
        (volume.fc.is_some(), "fc"),
        (volume.flex_volume.is_some(), "flexVolume"),
        (volume.flocker.is_some(), "flocker"),
        (volume.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (volume.glusterfs.is_some(), "glusterfs"),
        (
            volume.photon_persistent_disk.is_some(),
            "photonPersistentDisk",
        ),
        (volume.portworx_volume.is_some(), "portworxVolume"),
        (volume.quobyte.is_some(), "quobyte"),
        (volume.rbd.is_some(), "rbd"),
        (volume.scale_io.is_some(), "scaleIO"),
        (volume.storageos.is_some(), "storageos"),
        (volume.vsphere_volume.is_some(), "vsphereVolume"),
    ];
    present
        .into_iter()
        .filter_map(|(is_present, name)| is_present.then_some(name))
        .collect()
}

/// What a volume asks for, checked before anything is touched on disk.
enum Requested<'a> {
    EmptyDir(Cow<'a, EmptyDirVolumeSource>),
    HostPath(&'a HostPathVolumeSource),
    Projection(ProjectionVolume),
}

fn requested(volume: &Volume) -> Result<Requested<'_>, VolumeError> {
    let types = volume_types(volume);
    if types.len() > 1 {
        return Err(VolumeError::MultipleVolumeTypes {
            volume: volume.name.clone(),
            volume_types: types,
        });
    }
    if let Some(source) = &volume.empty_dir {
        return Ok(Requested::EmptyDir(Cow::Borrowed(source)));
    }
    if let Some(source) = &volume.host_path {
        return Ok(Requested::HostPath(source));
    }
    if let Some(source) = &volume.config_map {
        return Ok(Requested::Projection(ProjectionVolume::ConfigMap(
            source.clone(),
        )));
    }
    if let Some(source) = &volume.secret {
        return Ok(Requested::Projection(ProjectionVolume::Secret(
            source.clone(),
        )));
    }
    if let Some(source) = &volume.downward_api {
        return Ok(Requested::Projection(ProjectionVolume::DownwardApi(
            source.clone(),
        )));
    }
    if let Some(source) = &volume.projected {
        return Ok(Requested::Projection(ProjectionVolume::Projected(
            source.clone(),
        )));
    }
    match types.first() {
        Some(volume_type) => Err(VolumeError::UnsupportedVolumeType {
            volume: volume.name.clone(),
            volume_type,
        }),
        // A volume naming no type is an emptyDir, as Kubernetes' `SetDefaults_Volume` makes it.
        None => Ok(Requested::EmptyDir(Cow::Owned(Default::default()))),
    }
}

/// A pod's volumes as host directories: `pods_dir/<pod uid>/volumes/<volume name>` for emptyDir,
/// configMap, secret, downwardAPI and projected volumes, and the allowed host directory itself
/// for hostPath volumes.
///
/// Preparing and refreshing do blocking filesystem work on small files; the usage poll walks
/// whole emptyDir trees and belongs on a blocking thread.
#[derive(Debug)]
pub struct PodVolumes {
    pod_uid: String,
    volumes: BTreeMap<String, PreparedVolume>,
    node_allocatable: BTreeMap<String, ApiQuantity>,
    /// Serialises refreshes, so that an older payload is never written after a newer one.
    refresh_lock: Mutex<()>,
}

fn pod_uid(pod: &Pod) -> Result<&str, VolumeError> {
    let uid = pod
        .metadata
        .uid
        .as_deref()
        .ok_or(VolumeError::MissingPodUid)?;
    if !is_single_path_component(uid) {
        return Err(VolumeError::InvalidPodUid {
            uid: uid.to_string(),
        });
    }
    Ok(uid)
}

/// The kubelet's `MountVolume.SetUp failed` error for the volume `volume`.
fn set_up_error(volume: &str, cause: impl Into<SetUpError>) -> VolumeError {
    VolumeError::SetUp {
        volume: volume.to_string(),
        cause: cause.into(),
    }
}

impl PodVolumes {
    /// Sets up every volume of `pod` as the kubelet's volume manager does before the pod's
    /// containers start. Safe to call again for the same pod (after a node-agent restart): it
    /// never wipes emptyDir content and rewrites projected files only if they changed.
    /// `node_allocatable` stands in for missing limits in downward API `resourceFieldRef`s.
    pub async fn prepare(
        host: &VolumeHost,
        pod: &Pod,
        node_allocatable: &BTreeMap<String, ApiQuantity>,
        sources: &dyn VolumeSourceReader,
    ) -> Result<PodVolumes, VolumeError> {
        let pod_uid = pod_uid(pod)?;
        let volumes_dir = host.pod_volumes_dir(pod_uid);
        let pod_volumes = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.volumes.as_deref())
            .unwrap_or_default();
        let mut volumes = BTreeMap::new();
        for (index, volume) in pod_volumes.iter().enumerate() {
            let name = volume.name.clone();
            if !is_single_path_component(&name) {
                return Err(VolumeError::InvalidVolumeName { index, name });
            }
            if volumes.contains_key(&name) {
                return Err(VolumeError::DuplicateVolumeName { index, name });
            }
            let dir = volumes_dir.join(&name);
            let prepared = match requested(volume)? {
                Requested::EmptyDir(source) => {
                    let size_limit = prepare_empty_dir(&dir, &source)
                        .map_err(|error| set_up_error(&name, error))?;
                    PreparedVolume {
                        host_dir: dir,
                        kind: PreparedKind::EmptyDir { size_limit },
                    }
                }
                Requested::HostPath(source) => PreparedVolume {
                    host_dir: prepare_host_path(source, &host.allowed_host_paths)
                        .map_err(|error| set_up_error(&name, error))?,
                    kind: PreparedKind::HostPath,
                },
                Requested::Projection(projection) => {
                    let context = ProjectionContext {
                        pod,
                        namespace: pod
                            .metadata
                            .namespace
                            .as_deref()
                            .ok_or(VolumeError::MissingPodNamespace)?,
                        node_allocatable,
                        sources,
                    };
                    write_projection(&name, &dir, &projection, &context).await?;
                    PreparedVolume {
                        host_dir: dir,
                        kind: PreparedKind::Projection(projection),
                    }
                }
            };
            volumes.insert(name, prepared);
        }
        Ok(PodVolumes {
            pod_uid: pod_uid.to_string(),
            volumes,
            node_allocatable: node_allocatable.clone(),
            refresh_lock: Mutex::new(()),
        })
    }

    /// Rewrites the configMap, secret, downwardAPI and projected volumes from the current
    /// objects and the current `pod` (labels, annotations and resources can change), as the
    /// kubelet's periodic remount does, and returns whether any file changed. Every volume is
    /// refreshed even if one fails; the first failure is returned, and a failed volume keeps
    /// its previous files.
    pub async fn refresh(
        &self,
        pod: &Pod,
        sources: &dyn VolumeSourceReader,
    ) -> Result<bool, VolumeError> {
        let given_uid = pod.metadata.uid.as_deref().unwrap_or_default();
        if given_uid != self.pod_uid {
            return Err(VolumeError::PodUidMismatch {
                expected: self.pod_uid.clone(),
                given: given_uid.to_string(),
            });
        }
        let _refreshing = self.refresh_lock.lock().await;
        let mut changed = false;
        let mut first_error = None;
        for (name, volume) in &self.volumes {
            let PreparedKind::Projection(projection) = &volume.kind else {
                continue;
            };
            let result = match pod.metadata.namespace.as_deref() {
                Some(namespace) => {
                    let context = ProjectionContext {
                        pod,
                        namespace,
                        node_allocatable: &self.node_allocatable,
                        sources,
                    };
                    write_projection(name, &volume.host_dir, projection, &context).await
                }
                None => Err(VolumeError::MissingPodNamespace),
            };
            match result {
                Ok(volume_changed) => changed |= volume_changed,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(changed),
        }
    }

    /// The directories to preopen for `container`, one per `volumeMounts` entry, in order.
    /// `env` is the container's resolved environment, for `$(VAR)` in `subPathExpr`.
    pub fn mounts(
        &self,
        container: &Container,
        env: &HashMap<String, String>,
    ) -> Result<Vec<Mount>, VolumeError> {
        let mut mounts = Vec::new();
        let mut guest_paths = HashSet::new();
        for (index, volume_mount) in container.volume_mounts.iter().flatten().enumerate() {
            let volume =
                self.volumes
                    .get(&volume_mount.name)
                    .ok_or_else(|| MountError::VolumeNotFound {
                        volume: volume_mount.name.clone(),
                        container: container.name.clone(),
                    })?;
            // Checked before resolving, so that a duplicate creates no subPath directory.
            let guest_path = clean_guest_path(&container.name, index, &volume_mount.mount_path)?;
            if !guest_paths.insert(guest_path) {
                return Err(MountError::DuplicateMountPath {
                    container: container.name.clone(),
                    index,
                    mount_path: volume_mount.mount_path.clone(),
                }
                .into());
            }
            let mounted = MountedVolume {
                host_dir: &volume.host_dir,
                always_read_only: matches!(volume.kind, PreparedKind::Projection(_)),
            };
            mounts.push(resolve_mount(
                &container.name,
                index,
                volume_mount,
                &mounted,
                env,
            )?);
        }
        Ok(mounts)
    }

    /// The first emptyDir volume using more than its `sizeLimit`, if any: the kubelet evicts the
    /// pod then, with [`EmptyDirOverLimit::eviction_message`]. A volume whose usage cannot be
    /// measured is skipped (and logged), as the kubelet skips volumes without stats.
    pub fn empty_dir_usage_over_limit(&self) -> Option<EmptyDirOverLimit> {
        self.volumes.iter().find_map(|(name, volume)| {
            let PreparedKind::EmptyDir { size_limit: Some(limit) } = &volume.kind else {
                return None;
            };
            match directory_usage_bytes(&volume.host_dir) {
                Ok(used_bytes) => over_limit(name, used_bytes, limit),
                Err(error) => {
                    tracing::warn!(pod_uid = %self.pod_uid, volume = %name, %error, "cannot measure emptyDir usage");
                    None
                }
            }
        })
    }
}

/// Computes a projection volume's files and writes them; returns whether anything changed.
async fn write_projection(
    name: &str,
    dir: &Path,
    projection: &ProjectionVolume,
    context: &ProjectionContext<'_>,
) -> Result<bool, VolumeError> {
    let payload = projection
        .payload(context)
        .await
        .map_err(|error| set_up_error(name, error))?;
    write_payload(dir, payload).map_err(|error| set_up_error(name, error))
}
