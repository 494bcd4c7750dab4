//! The node's log directory: where writers are created, logs are read from, and pods'
//! logs are removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use crate::layout::{
    InstanceFiles, PodLogDir, list_instances, pod_directory_name, validate_name, validate_uid,
};
use crate::query::LogQuery;
use crate::read::{LogError, LogTarget, into_stream, open_reader};
use crate::registry::{InstanceKey, Registry};
use crate::writer::{ContainerLogWriter, InstanceLog, LogRotation};

/// Why a log root cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid configuration: containerLogMaxSize {0} must be greater than 0")]
    MaxSizeNotPositive(u64),
    #[error("invalid configuration: containerLogMaxFiles {0} must be greater than 1")]
    TooFewMaxFiles(usize),
    #[error("failed to create the container log directory {}: {source}", path.display())]
    CreateRoot {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The directory holding every container log of the node, like the kubelet's
/// /var/log/pods, with the writers that are live in this process.
#[derive(Clone)]
pub struct LogRoot {
    inner: Arc<RootInner>,
}

struct RootInner {
    root: PathBuf,
    rotation: LogRotation,
    registry: Arc<Registry>,
}

impl LogRoot {
    /// Opens (creating it if needed) the log directory at `root`.
    pub fn open(root: impl Into<PathBuf>, rotation: LogRotation) -> Result<LogRoot, OpenError> {
        let root = root.into();
        if rotation.max_size == 0 {
            return Err(OpenError::MaxSizeNotPositive(rotation.max_size));
        }
        if rotation.max_files < 2 {
            return Err(OpenError::TooFewMaxFiles(rotation.max_files));
        }
        fs::create_dir_all(&root).map_err(|source| OpenError::CreateRoot {
            path: root.clone(),
            source,
        })?;
        Ok(LogRoot {
            inner: Arc::new(RootInner {
                root,
                rotation,
                registry: Arc::default(),
            }),
        })
    }

    /// Starts the log of one run of a container, `instance` being its restartCount for
    /// that run. Only this instance's files and the previous instance's are kept (only
    /// `previous` can reach those); older instances' files are deleted. If the instance
    /// has files already (the agent restarted), the log goes on after them.
    pub fn create_writer(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        container: &str,
        instance: u32,
    ) -> io::Result<ContainerLogWriter> {
        validate_name("namespace", namespace)?;
        validate_name("pod name", pod)?;
        validate_uid(uid)?;
        validate_name("container name", container)?;
        let key = InstanceKey {
            pod_directory: pod_directory_name(namespace, pod, uid),
            container: container.to_owned(),
            instance,
        };
        let directory = self.inner.root.join(&key.pod_directory).join(container);
        fs::create_dir_all(&directory).map_err(|error| with_path(error, "create", &directory))?;
        let registry = Arc::downgrade(&self.inner.registry);
        let rotation = self.inner.rotation;
        let log = self.inner.registry.insert_new(
            key.clone(),
            || {
                let existing = delete_instances_before_previous(&directory, instance)?;
                InstanceLog::create(key, directory.clone(), rotation, registry, existing)
                    .map_err(|error| with_path(error, "open the log in", &directory))
            },
            already_being_written,
        )?;
        Ok(ContainerLogWriter::new(log))
    }

    /// Deletes a pod's logs, closing any of its writers still open so that followers
    /// end. A pod without logs is not an error.
    pub fn remove_pod_logs(&self, namespace: &str, pod: &str, uid: &str) -> io::Result<()> {
        validate_name("namespace", namespace)?;
        validate_name("pod name", pod)?;
        validate_uid(uid)?;
        let pod_directory = pod_directory_name(namespace, pod, uid);
        for log in self.inner.registry.of_pod(&pod_directory) {
            log.close();
        }
        let path = self.inner.root.join(pod_directory);
        match fs::remove_dir_all(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(with_path(error, "remove", &path))
            }
            _ => Ok(()),
        }
    }

    /// The pods that have a log directory, sorted, so that the agent can remove the logs
    /// of pods that no longer exist (after it restarted, say).
    pub fn pod_log_dirs(&self) -> io::Result<Vec<PodLogDir>> {
        let root = &self.inner.root;
        let mut pods = Vec::new();
        for entry in fs::read_dir(root).map_err(|error| with_path(error, "list", root))? {
            let entry = entry.map_err(|error| with_path(error, "list", root))?;
            if let Some(pod) = entry.file_name().to_str().and_then(PodLogDir::parse) {
                pods.push(pod);
            }
        }
        pods.sort();
        Ok(pods)
    }

    /// Reads a container's log as pods/log does; see [`LogQuery`] for the options. The
    /// stream ends at the end of the log, or when following, once the instance's writer
    /// is closed (at once if it has none in this process).
    pub async fn read(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        query: LogQuery,
    ) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static, LogError> {
        validate_name("namespace", namespace)?;
        validate_name("pod name", pod)?;
        validate_name("container name", container)?;
        query.validate()?;
        let target = LogTarget {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
        };
        let inner = Arc::clone(&self.inner);
        let opened = tokio::task::spawn_blocking(move || {
            open_reader(&inner.root, &inner.registry, &target, &query)
        })
        .await;
        match opened {
            Ok(reader) => reader.map(into_stream),
            Err(join_error) => Err(LogError::Io {
                container: container.to_owned(),
                pod: pod.to_owned(),
                source: io::Error::other(join_error),
            }),
        }
    }
}

/// Deletes the files of every instance but `instance` and the one before it, and
/// returns the files `instance` has already.
fn delete_instances_before_previous(directory: &Path, instance: u32) -> io::Result<InstanceFiles> {
    let mut instances =
        list_instances(directory).map_err(|error| with_path(error, "list", directory))?;
    let previous = instances
        .range(..instance)
        .next_back()
        .map(|(previous, _)| *previous);
    let existing = instances.remove(&instance).unwrap_or_default();
    for (_, files) in instances
        .into_iter()
        .filter(|(other, _)| Some(*other) != previous)
    {
        for path in files.paths_in_order() {
            remove_file_if_present(path)?;
        }
    }
    Ok(existing)
}

fn already_being_written(key: &InstanceKey) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "the log of container {:?} (restart {}) in {} is already being written",
            key.container, key.instance, key.pod_directory
        ),
    )
}

fn remove_file_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(with_path(error, "remove", path))
        }
        _ => Ok(()),
    }
}

/// Says which file an error is about; the operating system's messages do not.
fn with_path(error: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("failed to {action} {}: {error}", path.display()),
    )
}
