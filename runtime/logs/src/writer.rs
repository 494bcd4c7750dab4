//! Writing one container instance's stdout and stderr into its log file as CRI records,
//! rotating the file when it is full, and telling followers when something changed.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use crate::layout::{
    InstanceFiles, RotatedFile, current_file_name, open_if_present, rotated_file_name,
};
use crate::record::{LogStream, MAXIMUM_RECORD_CONTENT, append_record, format_timestamp};
use crate::registry::{InstanceKey, Registry, lock};

/// When log files are rotated and how many are kept, per container instance: the
/// kubelet's containerLogMaxSize and containerLogMaxFiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRotation {
    /// A file is rotated once it has grown to this many bytes.
    pub max_size: u64,
    /// The most files an instance keeps, counting the current one.
    pub max_files: usize,
}

impl Default for LogRotation {
    /// The kubelet's defaults: 10Mi and 5 files.
    fn default() -> LogRotation {
        LogRotation {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// Where one container instance's output goes. Clones write to the same log; the log is
/// closed by [`ContainerLogWriter::close`], or when the last clone is dropped.
#[derive(Clone)]
pub struct ContainerLogWriter {
    handle: Arc<WriterHandle>,
}

/// Closes the log when the last writer goes away, so that followers never wait forever
/// for a container whose writer was dropped without being closed.
struct WriterHandle {
    log: Arc<InstanceLog>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.log.close();
    }
}

impl ContainerLogWriter {
    pub(crate) fn new(log: Arc<InstanceLog>) -> ContainerLogWriter {
        ContainerLogWriter {
            handle: Arc::new(WriterHandle { log }),
        }
    }

    /// Logs bytes a container wrote to `stream`. Complete lines are written at once, as
    /// records; the rest of an unfinished line waits for its end, unless it is already
    /// longer than one record can hold, in which case it is written as partial records.
    pub fn write(&self, stream: LogStream, bytes: &[u8]) -> io::Result<()> {
        self.handle.log.write(stream, bytes)
    }

    /// Ends the log: an unfinished line on either stream is written as a full record, and
    /// followers stop after reading the rest. Later writes fail. Closing twice is harmless.
    pub fn close(&self) {
        self.handle.log.close();
    }
}

impl fmt::Debug for ContainerLogWriter {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ContainerLogWriter")
            .field("instance", &self.handle.log.key)
            .finish()
    }
}

/// A rotated file with the generation it had while it was the current file. Generations
/// count rotations, so a follower knows which file comes after the one it has read.
struct GenerationFile {
    generation: u64,
    file: RotatedFile,
}

/// What a follower needs to know after reading to the end of its file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FollowState {
    /// The generation of the current file; a higher one than the follower's means the
    /// follower's file was rotated and will not grow any more.
    pub(crate) generation: u64,
    /// Whether the writer was closed, so that nothing more will be written.
    pub(crate) finished: bool,
}

/// One container instance's log, shared by its writers and followers.
pub(crate) struct InstanceLog {
    key: InstanceKey,
    directory: PathBuf,
    rotation: LogRotation,
    registry: Weak<Registry>,
    state: Mutex<InstanceState>,
    changes: watch::Sender<()>,
}

struct InstanceState {
    /// `None` once closed, or after a rotation could not open the new file (the next
    /// write tries again).
    file: Option<File>,
    size: u64,
    /// The unfinished line of each stream.
    pending: [Vec<u8>; 2],
    generation: u64,
    /// Oldest first.
    rotated: VecDeque<GenerationFile>,
    finished: bool,
}

impl InstanceLog {
    /// Opens (or continues, after an agent restart) an instance's current file.
    pub(crate) fn create(
        key: InstanceKey,
        directory: PathBuf,
        rotation: LogRotation,
        registry: Weak<Registry>,
        existing: InstanceFiles,
    ) -> io::Result<Arc<InstanceLog>> {
        let current = directory.join(current_file_name(key.instance));
        let file = open_for_appending(&current)?;
        let size = file.metadata()?.len();
        let rotated: VecDeque<GenerationFile> = existing
            .rotated
            .into_iter()
            .zip(0..)
            .map(|(file, generation)| GenerationFile { generation, file })
            .collect();
        let state = InstanceState {
            file: Some(file),
            size,
            pending: [Vec::new(), Vec::new()],
            generation: rotated.len() as u64,
            rotated,
            finished: false,
        };
        Ok(Arc::new(InstanceLog {
            key,
            directory,
            rotation,
            registry,
            state: Mutex::new(state),
            changes: watch::Sender::new(()),
        }))
    }

    fn current_path(&self) -> PathBuf {
        self.directory.join(current_file_name(self.key.instance))
    }

    fn write(&self, stream: LogStream, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.finished {
            return Err(io::Error::other(format!(
                "the log of container {:?} (restart {}) in {} is closed",
                self.key.container, self.key.instance, self.key.pod_directory
            )));
        }
        let timestamp = format_timestamp(Timestamp::now());
        let mut records = Vec::new();
        split_into_records(
            &mut state.pending[stream.index()],
            bytes,
            stream,
            &timestamp,
            &mut records,
        );
        if records.is_empty() {
            return Ok(());
        }
        let written = self.append(&mut state, &records);
        if written.is_ok()
            && state.size >= self.rotation.max_size
            && let Err(error) = self.rotate(&mut state)
        {
            tracing::warn!(
                directory = %self.directory.display(),
                %error,
                "failed to rotate a container log"
            );
        }
        drop(state);
        self.changes.send_modify(|()| ());
        written
    }

    fn append(&self, state: &mut InstanceState, records: &[u8]) -> io::Result<()> {
        let file = match &mut state.file {
            Some(file) => file,
            None => {
                let file = open_for_appending(&self.current_path())?;
                state.size = file.metadata()?.len();
                state.file.insert(file)
            }
        };
        file.write_all(records)?;
        state.size += records.len() as u64;
        Ok(())
    }

    /// Renames the current file after the time of the rotation, starts a new one, and
    /// deletes the oldest rotated files beyond `max_files`, as the kubelet's container log
    /// manager does.
    fn rotate(&self, state: &mut InstanceState) -> io::Result<()> {
        let current = self.current_path();
        let rotated_at = next_rotation_time(state.rotated.back().map(|last| last.file.rotated_at));
        let rotated_path = self
            .directory
            .join(rotated_file_name(self.key.instance, rotated_at));
        // Closed before the rename, which some platforms refuse for open files.
        state.file = None;
        fs::rename(&current, &rotated_path)?;
        state.rotated.push_back(GenerationFile {
            generation: state.generation,
            file: RotatedFile {
                path: rotated_path,
                rotated_at,
            },
        });
        state.generation += 1;
        state.size = 0;
        while state.rotated.len() >= self.rotation.max_files {
            let Some(oldest) = state.rotated.pop_front() else {
                break;
            };
            match fs::remove_file(&oldest.file.path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(
                        path = %oldest.file.path.display(),
                        %error,
                        "failed to delete a rotated container log"
                    );
                }
            }
        }
        state.file = Some(open_for_appending(&current)?);
        Ok(())
    }

    /// Closes the log; see [`ContainerLogWriter::close`].
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        if state.finished {
            return;
        }
        let timestamp = format_timestamp(Timestamp::now());
        let mut records = Vec::new();
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let pending = &mut state.pending[stream.index()];
            if !pending.is_empty() {
                append_record(&mut records, &timestamp, stream, false, &[pending]);
                pending.clear();
            }
        }
        if !records.is_empty()
            && let Err(error) = self.append(&mut state, &records)
        {
            tracing::warn!(
                directory = %self.directory.display(),
                %error,
                "failed to write the end of a container log"
            );
        }
        state.finished = true;
        state.file = None;
        drop(state);
        self.changes.send_modify(|()| ());
        if let Some(registry) = self.registry.upgrade() {
            registry.remove(&self.key, self);
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }

    pub(crate) fn follow_state(&self) -> FollowState {
        let state = lock(&self.state);
        FollowState {
            generation: state.generation,
            finished: state.finished,
        }
    }

    /// Opens every file of the instance, oldest first, each with its generation. They are
    /// opened while the writer waits, so no rotation can happen half-way through.
    pub(crate) fn open_files(&self) -> io::Result<Vec<(u64, File)>> {
        let state = lock(&self.state);
        let mut files = Vec::new();
        for rotated in &state.rotated {
            if let Some(file) = open_if_present(&rotated.file.path)? {
                files.push((rotated.generation, file));
            }
        }
        if let Some(file) = open_if_present(&self.current_path())? {
            files.push((state.generation, file));
        }
        Ok(files)
    }

    /// Opens the file that follows generation `after` (`None`: before the first): the
    /// next rotated file still kept, else the current file; `None` if there is none yet.
    pub(crate) fn open_after(&self, after: Option<u64>) -> io::Result<Option<(u64, File)>> {
        let state = lock(&self.state);
        for rotated in state
            .rotated
            .iter()
            .filter(|rotated| Some(rotated.generation) > after)
        {
            if let Some(file) = open_if_present(&rotated.file.path)? {
                return Ok(Some((rotated.generation, file)));
            }
        }
        if Some(state.generation) > after
            && let Some(file) = open_if_present(&self.current_path())?
        {
            return Ok(Some((state.generation, file)));
        }
        Ok(None)
    }
}

/// Turns bytes written to one stream into records: each finished line becomes one full
/// record (after partial records for any part beyond the maximum record size), and the
/// rest stays in `pending` until its line ends, unless it outgrows one record. Lines are
/// split at `\n` only, and every other byte is kept as it is.
fn split_into_records(
    pending: &mut Vec<u8>,
    bytes: &[u8],
    stream: LogStream,
    timestamp: &str,
    records: &mut Vec<u8>,
) {
    let mut rest = bytes;
    while let Some(newline) = rest.iter().position(|byte| *byte == b'\n') {
        add_to_line(pending, &rest[..newline], stream, timestamp, records);
        append_record(records, timestamp, stream, false, &[pending]);
        pending.clear();
        rest = &rest[newline + 1..];
    }
    add_to_line(pending, rest, stream, timestamp, records);
}

/// Adds bytes to an unfinished line, writing a partial record whenever the line holds
/// more than one record's worth, so that `pending` never exceeds that.
fn add_to_line(
    pending: &mut Vec<u8>,
    bytes: &[u8],
    stream: LogStream,
    timestamp: &str,
    records: &mut Vec<u8>,
) {
    let mut rest = bytes;
    while pending.len() + rest.len() > MAXIMUM_RECORD_CONTENT {
        let room = MAXIMUM_RECORD_CONTENT - pending.len();
        append_record(records, timestamp, stream, true, &[pending, &rest[..room]]);
        pending.clear();
        rest = &rest[room..];
    }
    pending.extend_from_slice(rest);
}

/// The time to name a rotated file after: now, or just after the previous rotation if
/// the clock went back or did not advance, so that names keep sorting in rotation order.
fn next_rotation_time(previous: Option<Timestamp>) -> Timestamp {
    let now = Timestamp::now();
    match previous {
        Some(previous) if now <= previous => previous
            .checked_add(SignedDuration::from_nanos(1))
            .unwrap_or(now),
        _ => now,
    }
}

fn open_for_appending(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_record;

    fn records_of(bytes_written: &[&[u8]]) -> (Vec<(bool, Vec<u8>)>, Vec<u8>) {
        let mut pending = Vec::new();
        let mut records = Vec::new();
        for bytes in bytes_written {
            split_into_records(
                &mut pending,
                bytes,
                LogStream::Stdout,
                "2024-01-01T00:00:00.000000000Z",
                &mut records,
            );
        }
        let parsed = records
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let record = parse_record(line).unwrap();
                (record.partial, record.content.to_vec())
            })
            .collect();
        (parsed, pending)
    }

    #[test]
    fn lines_longer_than_a_record_are_split_into_partial_records() {
        let long = vec![b'a'; 2 * MAXIMUM_RECORD_CONTENT + 7];
        let (records, pending) = records_of(&[&long, b"\nnext"]);
        assert_eq!(
            records,
            vec![
                (true, vec![b'a'; MAXIMUM_RECORD_CONTENT]),
                (true, vec![b'a'; MAXIMUM_RECORD_CONTENT]),
                (false, vec![b'a'; 7]),
            ]
        );
        assert_eq!(pending, b"next");
    }

    #[test]
    fn a_line_of_exactly_one_record_stays_whole_even_when_written_byte_by_byte() {
        let line = vec![b'x'; MAXIMUM_RECORD_CONTENT];
        let mut pieces: Vec<&[u8]> = line.chunks(1).collect();
        pieces.push(b"\n");
        let (records, pending) = records_of(&pieces);
        assert_eq!(records, vec![(false, line.clone())]);
        assert!(pending.is_empty());
    }

    #[test]
    fn rotation_times_only_move_forward() {
        let future: Timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
        let next = next_rotation_time(Some(future));
        assert_eq!(
            next,
            future.checked_add(SignedDuration::from_nanos(1)).unwrap()
        );
        assert!(next_rotation_time(None) < future);
    }
}
