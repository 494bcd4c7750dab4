//! Following a live log: new lines as they are written, across rotations, until the
//! writer is closed.

use std::time::Duration;

use futures::StreamExt;
use wasmkube_container_logs::{LogQuery, LogRotation, LogStream};

use crate::support::{
    CONTAINER, NAMESPACE, POD, TestRoot, UID, collect, file_names, numbered_lines,
};

const PATIENCE: Duration = Duration::from_secs(10);

fn follow() -> LogQuery {
    LogQuery {
        follow: true,
        ..LogQuery::default()
    }
}

#[tokio::test]
async fn a_follower_gets_each_line_when_it_is_written_and_ends_when_the_writer_goes() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer.write(LogStream::Stdout, b"ready\n").unwrap();
    let stream = root
        .logs
        .read(NAMESPACE, POD, CONTAINER, follow())
        .await
        .unwrap();
    let mut stream = std::pin::pin!(stream);
    let mut next = async || {
        tokio::time::timeout(PATIENCE, stream.next())
            .await
            .unwrap()
            .map(Result::unwrap)
    };
    assert_eq!(next().await.unwrap(), "ready\n");

    writer.write(LogStream::Stderr, b"next\n").unwrap();
    assert_eq!(next().await.unwrap(), "next\n");

    // An unfinished line waits for its end, which dropping the last writer provides.
    let clone = writer.clone();
    clone.write(LogStream::Stdout, b"unfinished").unwrap();
    drop(writer);
    drop(clone);
    assert_eq!(next().await.unwrap(), "unfinished\n");
    assert_eq!(next().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_goes_on_across_rotations() {
    let root = TestRoot::new(LogRotation {
        max_size: 200,
        max_files: 1000,
    });
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer
        .write(LogStream::Stdout, numbered_lines(0, 5).as_bytes())
        .unwrap();
    let stream = root
        .logs
        .read(NAMESPACE, POD, CONTAINER, follow())
        .await
        .unwrap();
    let reading = tokio::spawn(collect(stream));

    for (number, line) in numbered_lines(5, 195).split_inclusive('\n').enumerate() {
        writer.write(LogStream::Stdout, line.as_bytes()).unwrap();
        if number % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !reading.is_finished(),
        "the follower ended while the writer was live"
    );
    writer.close();

    let output = tokio::time::timeout(PATIENCE, reading)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8(output).unwrap(), numbered_lines(0, 200));
    let rotated = file_names(&root.container_directory()).len() - 1;
    assert!(rotated > 20, "only {rotated} rotations");
}

#[tokio::test]
async fn a_follower_that_falls_behind_skips_the_files_deleted_meanwhile() {
    let root = TestRoot::new(LogRotation {
        max_size: 100,
        max_files: 2,
    });
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer
        .write(LogStream::Stdout, b"opened with the follower\n")
        .unwrap();
    // The follower opens the current file now, but reads only once everything is written.
    let stream = root
        .logs
        .read(NAMESPACE, POD, CONTAINER, follow())
        .await
        .unwrap();
    for line in numbered_lines(0, 50).split_inclusive('\n') {
        writer.write(LogStream::Stdout, line.as_bytes()).unwrap();
    }
    writer.close();

    let output = String::from_utf8(
        tokio::time::timeout(PATIENCE, collect(stream))
            .await
            .unwrap(),
    )
    .unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "opened with the follower");
    assert_eq!(lines.last(), Some(&"line 049"));
    assert!(lines.len() < 20, "deleted files were read: {lines:?}");
}

#[tokio::test]
async fn following_with_no_tail_shows_only_new_lines() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer
        .write(LogStream::Stdout, numbered_lines(0, 3).as_bytes())
        .unwrap();
    let query = LogQuery {
        follow: true,
        tail_lines: Some(0),
        ..LogQuery::default()
    };
    let stream = root
        .logs
        .read(NAMESPACE, POD, CONTAINER, query)
        .await
        .unwrap();
    writer.write(LogStream::Stdout, b"new\n").unwrap();
    writer.close();
    assert_eq!(
        tokio::time::timeout(PATIENCE, collect(stream))
            .await
            .unwrap(),
        b"new\n"
    );
}

#[tokio::test]
async fn removing_the_pods_logs_ends_its_followers() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer.write(LogStream::Stdout, b"last words\n").unwrap();
    let stream = root
        .logs
        .read(NAMESPACE, POD, CONTAINER, follow())
        .await
        .unwrap();
    let reading = tokio::spawn(collect(stream));
    root.logs.remove_pod_logs(NAMESPACE, POD, UID).unwrap();
    assert_eq!(
        tokio::time::timeout(PATIENCE, reading)
            .await
            .unwrap()
            .unwrap(),
        b"last words\n"
    );
    assert!(!root.container_directory().exists());
}
