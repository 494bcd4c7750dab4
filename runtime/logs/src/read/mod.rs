//! Reading a container's log back as pods/log does.

mod files;
mod reader;
mod shaper;
mod tail;

use std::fs::{self, File};
use std::io;
use std::path::Path;

use bytes::Bytes;
use futures::Stream;
use jiff::Timestamp;

use self::reader::{Follow, LogReader, Step, lines_from};
use self::shaper::OutputShaper;
use self::tail::{ReadStart, find_tail_start};
use crate::layout::{NameError, PodLogDir, list_instances, open_if_present};
use crate::query::{LogQuery, QueryError};
use crate::registry::{InstanceKey, Registry};

/// Why a log cannot be read. The messages are the kubelet's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    InvalidQuery(#[from] QueryError),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("container {container:?} in pod {pod:?} has no logs yet")]
    NoLogsYet { container: String, pod: String },
    #[error("previous terminated container {container:?} in pod {pod:?} not found")]
    PreviousNotFound { container: String, pod: String },
    #[error("failed to read the logs of container {container:?} in pod {pod:?}: {source}")]
    Io {
        container: String,
        pod: String,
        #[source]
        source: io::Error,
    },
}

/// The container whose log is read.
pub(crate) struct LogTarget {
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) container: String,
}

impl LogTarget {
    pub(crate) fn io_error(&self, source: io::Error) -> LogError {
        LogError::Io {
            container: self.container.clone(),
            pod: self.pod.clone(),
            source,
        }
    }
}

/// Finds the instance to read, opens its files and positions the reader. This blocks on
/// the file system, so it runs on a blocking thread.
pub(crate) fn open_reader(
    root: &Path,
    registry: &Registry,
    target: &LogTarget,
    query: &LogQuery,
) -> Result<LogReader, LogError> {
    let no_logs_yet = || LogError::NoLogsYet {
        container: target.container.clone(),
        pod: target.pod.clone(),
    };
    let pod_directory = find_pod_directory(root, &target.namespace, &target.pod)
        .map_err(|error| target.io_error(error))?
        .ok_or_else(no_logs_yet)?;
    let mut instances = list_instances(&root.join(&pod_directory).join(&target.container))
        .map_err(|error| target.io_error(error))?;
    let current = *instances.keys().next_back().ok_or_else(no_logs_yet)?;
    let instance = if query.previous {
        *instances
            .range(..current)
            .next_back()
            .map(|(instance, _)| instance)
            .ok_or_else(|| LogError::PreviousNotFound {
                container: target.container.clone(),
                pod: target.pod.clone(),
            })?
    } else {
        current
    };
    let key = InstanceKey {
        pod_directory,
        container: target.container.clone(),
        instance,
    };
    let live = registry.get(&key);
    let opened = match &live {
        Some(log) => log.open_files(),
        None => instances
            .remove(&instance)
            .unwrap_or_default()
            .paths_in_order()
            .map(|path| Ok(open_if_present(path)?.map(|file| (0, file))))
            .filter_map(Result::transpose)
            .collect(),
    };
    let opened = opened.map_err(|error| target.io_error(error))?;
    let last_generation = opened.last().map(|(generation, _)| *generation);
    let files: Vec<File> = opened.into_iter().map(|(_, file)| file).collect();
    let start = match query.tail_lines {
        Some(lines) => find_tail_start(&files, u64::try_from(lines).unwrap_or(0))
            .map_err(|error| target.io_error(error))?,
        None => ReadStart::BEGINNING,
    };
    let limit_bytes = query
        .limit_bytes
        .map(|limit| u64::try_from(limit).unwrap_or(0));
    let shaper = OutputShaper::new(
        query.timestamps,
        query.since(Timestamp::now()),
        limit_bytes,
        start.skips,
    );
    let follow = live
        .filter(|_| query.follow)
        .map(|log| Follow::new(log, last_generation));
    let lines = lines_from(files, start.position).map_err(|error| target.io_error(error))?;
    Ok(LogReader::new(lines, follow, shaper))
}

/// The pod's log directory: the one named `<namespace>_<pod>_<uid>`, or if the pod was
/// recreated (a new uid) while the old directory remains, the most recently modified.
fn find_pod_directory(root: &Path, namespace: &str, pod: &str) -> io::Result<Option<String>> {
    let prefix = format!("{namespace}_{pod}_");
    let mut newest = None;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !name.starts_with(&prefix) || PodLogDir::parse(&name).is_none() {
            continue;
        }
        let modified = entry.metadata()?.modified()?;
        if newest
            .as_ref()
            .is_none_or(|(newest_modified, newest_name)| {
                (modified, &name) > (*newest_modified, newest_name)
            })
        {
            newest = Some((modified, name));
        }
    }
    Ok(newest.map(|(_, name)| name))
}

/// Runs a reader as a stream: each step on a blocking thread, and waiting for the
/// writer (when following) without holding one.
pub(crate) fn into_stream(
    reader: LogReader,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        loop {
            let stepped = tokio::task::spawn_blocking(move || {
                let step = reader.step();
                (reader, step)
            })
            .await;
            let (returned, step) = match stepped {
                Ok(stepped) => stepped,
                Err(join_error) => return Some((Err(io::Error::other(join_error)), None)),
            };
            reader = returned;
            match step {
                Ok(Step::Output(bytes)) => return Some((Ok(bytes), Some(reader))),
                Ok(Step::WaitForWriter) => reader.wait_for_writer().await,
                Ok(Step::End) => return None,
                Err(error) => return Some((Err(error), None)),
            }
        }
    })
}
