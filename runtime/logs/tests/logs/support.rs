//! What the tests share: a log root in a temporary directory, and ways to look at what
//! was written and read.

use std::fs;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use jiff::Timestamp;
use tempfile::TempDir;
use wasmkube_container_logs::{LogQuery, LogRoot, LogRotation};

pub const NAMESPACE: &str = "default";
pub const POD: &str = "web";
pub const UID: &str = "8d2f6a1c-0b7e-4f3a-9c55-1e2d3c4b5a69";
pub const CONTAINER: &str = "app";

/// A log root in its own temporary directory, deleted when the test ends.
pub struct TestRoot {
    pub directory: TempDir,
    pub logs: LogRoot,
}

impl TestRoot {
    pub fn new(rotation: LogRotation) -> TestRoot {
        let directory = tempfile::tempdir().unwrap();
        let logs = LogRoot::open(directory.path().join("pods"), rotation).unwrap();
        TestRoot { directory, logs }
    }

    pub fn with_default_rotation() -> TestRoot {
        TestRoot::new(LogRotation::default())
    }

    /// The test container's log directory.
    pub fn container_directory(&self) -> PathBuf {
        self.directory
            .path()
            .join("pods")
            .join(format!("{NAMESPACE}_{POD}_{UID}"))
            .join(CONTAINER)
    }

    /// Reads the test container's log to its end.
    pub async fn read(&self, query: LogQuery) -> Vec<u8> {
        let stream = self
            .logs
            .read(NAMESPACE, POD, CONTAINER, query)
            .await
            .unwrap();
        collect(stream).await
    }

    /// The read's error message.
    pub async fn read_error(&self, pod: &str, container: &str, query: LogQuery) -> String {
        match self.logs.read(NAMESPACE, pod, container, query).await {
            Ok(_) => panic!("reading the log of {pod}/{container} succeeded"),
            Err(error) => error.to_string(),
        }
    }
}

pub async fn collect(
    stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>>,
) -> Vec<u8> {
    let mut output = Vec::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        output.extend_from_slice(&chunk.unwrap());
    }
    output
}

/// One record of a log file, split into its fields.
#[derive(Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub timestamp: String,
    pub stream: String,
    pub tag: String,
    pub content: Vec<u8>,
}

pub fn records_in(path: &Path) -> Vec<FileRecord> {
    let bytes = fs::read(path).unwrap();
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "{} does not end with a newline",
        path.display()
    );
    bytes
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.splitn(4, |byte| *byte == b' ');
            let mut field = || String::from_utf8(fields.next().unwrap().to_vec()).unwrap();
            let (timestamp, stream, tag) = (field(), field(), field());
            let content = fields.next().unwrap().to_vec();
            FileRecord {
                timestamp,
                stream,
                tag,
                content,
            }
        })
        .collect()
}

/// Checks a timestamp is RFC3339Nano in UTC with all nine digits, and reads it.
pub fn parse_fixed_timestamp(text: &str) -> Timestamp {
    assert_eq!(text.len(), "2024-01-02T03:04:05.123456789Z".len(), "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    text.parse().unwrap()
}

/// The names in a directory, sorted.
pub fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `count` numbered lines from `first`, as a container would print them.
pub fn numbered_lines(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|number| format!("line {number:03}\n"))
        .collect()
}
