//! What the tests share: pods written as JSON manifests, a node layout in a temporary
//! directory, and a `VolumeSourceReader` backed by maps that a test can change.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tempfile::TempDir;
use wasmkube_volumes::{
    PodVolumes, ServiceAccountTokenError, ServiceAccountTokenRequest, VolumeError, VolumeHost,
    VolumeSourceReader,
};

pub const NAMESPACE: &str = "default";
pub const POD_UID: &str = "0b6e7c4e-1f2a-4c3d-9e8f-123456789abc";

/// A pod from a manifest's `spec`, named `web-0` in `default` with a fixed uid.
pub fn pod_with_spec(spec: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": NAMESPACE, "uid": POD_UID},
        "spec": spec,
    }))
    .expect("the test manifest is a valid pod")
}

/// A pod with `volumes` and one container `app` mounting nothing.
pub fn pod_with_volumes(volumes: serde_json::Value) -> Pod {
    pod_with_spec(serde_json::json!({
        "containers": [{"name": "app", "image": "app:1"}],
        "volumes": volumes,
    }))
}

/// A container from its manifest.
pub fn container(manifest: serde_json::Value) -> Container {
    serde_json::from_value(manifest).expect("the test manifest is a valid container")
}

/// A node whose pods live in a temporary directory, allowing hostPath volumes under
/// `allowed_host_paths`.
pub struct TestNode {
    pub temp: TempDir,
    pub host: VolumeHost,
}

impl TestNode {
    pub fn new() -> TestNode {
        TestNode::allowing(Vec::new())
    }

    pub fn allowing(allowed_host_paths: Vec<PathBuf>) -> TestNode {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let host = VolumeHost {
            pods_dir: temp.path().join("pods"),
            allowed_host_paths,
        };
        TestNode { temp, host }
    }

    /// Where the volume `name` of the test pod lives.
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.host.pods_dir.join(POD_UID).join("volumes").join(name)
    }

    pub async fn prepare(
        &self,
        pod: &Pod,
        sources: &MapSources,
    ) -> Result<PodVolumes, VolumeError> {
        PodVolumes::prepare(&self.host, pod, &allocatable(), sources).await
    }
}

/// The node's allocatable resources in the tests: 4 cores and 8Gi.
pub fn allocatable() -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity("4".to_string())),
        ("memory".to_string(), Quantity("8Gi".to_string())),
    ])
}

/// ConfigMaps and secrets by (namespace, name), changeable while volumes use them, and
/// ServiceAccount tokens that spell out the request they answer, for the accounts that
/// exist.
#[derive(Default)]
pub struct MapSources {
    config_maps: Mutex<HashMap<(String, String), ConfigMap>>,
    secrets: Mutex<HashMap<(String, String), Secret>>,
    service_accounts: Mutex<Vec<String>>,
}

impl MapSources {
    pub fn put_config_map(&self, name: &str, data: &[(&str, &str)], binary_data: &[(&str, &[u8])]) {
        let config_map = ConfigMap {
            data: Some(
                data.iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
            ),
            binary_data: Some(
                binary_data
                    .iter()
                    .map(|(key, value)| (key.to_string(), ByteString(value.to_vec())))
                    .collect(),
            ),
            ..ConfigMap::default()
        };
        let key = (NAMESPACE.to_string(), name.to_string());
        self.config_maps
            .lock()
            .expect("not poisoned")
            .insert(key, config_map);
    }

    pub fn put_secret(&self, name: &str, data: &[(&str, &[u8])]) {
        let secret = Secret {
            data: Some(
                data.iter()
                    .map(|(key, value)| (key.to_string(), ByteString(value.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        };
        let key = (NAMESPACE.to_string(), name.to_string());
        self.secrets
            .lock()
            .expect("not poisoned")
            .insert(key, secret);
    }

    pub fn put_service_account(&self, name: &str) {
        self.service_accounts
            .lock()
            .expect("not poisoned")
            .push(name.to_string());
    }

    pub fn delete_config_map(&self, name: &str) {
        let key = (NAMESPACE.to_string(), name.to_string());
        self.config_maps.lock().expect("not poisoned").remove(&key);
    }
}

impl VolumeSourceReader for MapSources {
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<ConfigMap>, VolumeError>> {
        let key = (namespace.to_string(), name.to_string());
        let found = self
            .config_maps
            .lock()
            .expect("not poisoned")
            .get(&key)
            .cloned();
        futures::future::ready(Ok(found)).boxed()
    }

    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<Secret>, VolumeError>> {
        let key = (namespace.to_string(), name.to_string());
        let found = self
            .secrets
            .lock()
            .expect("not poisoned")
            .get(&key)
            .cloned();
        futures::future::ready(Ok(found)).boxed()
    }

    fn service_account_token<'a>(
        &'a self,
        request: &'a ServiceAccountTokenRequest,
    ) -> BoxFuture<'a, Result<String, ServiceAccountTokenError>> {
        let exists = self
            .service_accounts
            .lock()
            .expect("not poisoned")
            .contains(&request.service_account);
        let answer = if exists {
            Ok(format!(
                "token:{}/{}:pod={}/{}:audience={}:seconds={}",
                request.namespace,
                request.service_account,
                request.pod_name,
                request.pod_uid,
                request.audience.as_deref().unwrap_or("-"),
                request.expiration_seconds
            ))
        } else {
            Err(ServiceAccountTokenError::Fetch {
                message: format!("serviceaccounts {:?} not found", request.service_account),
            })
        };
        futures::future::ready(answer).boxed()
    }
}

/// The text of a file, following symlinks as a guest would.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The entries of a directory, sorted, symlinks included.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 name")
        })
        .collect();
    names.sort();
    names
}

/// The permission bits of a file, following symlinks.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
