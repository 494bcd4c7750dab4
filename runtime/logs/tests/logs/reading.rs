//! Reading logs back with pods/log's options.

use std::fs;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use wasmkube_container_logs::{LogQuery, LogRotation, LogStream};

use crate::support::{
    CONTAINER, NAMESPACE, POD, TestRoot, UID, collect, numbered_lines, parse_fixed_timestamp,
    records_in,
};

fn tail(lines: i64) -> LogQuery {
    LogQuery {
        tail_lines: Some(lines),
        ..LogQuery::default()
    }
}

#[tokio::test]
async fn lines_read_back_as_written_with_partial_records_joined() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let long_line = "x".repeat(40_000);
    writer.write(LogStream::Stdout, b"one\n").unwrap();
    writer
        .write(LogStream::Stdout, format!("{long_line}\n").as_bytes())
        .unwrap();
    writer.write(LogStream::Stderr, b"two\xff\n").unwrap();
    writer.write(LogStream::Stdout, b"unfinished").unwrap();

    // A live writer's unfinished line is not in the file yet.
    let mut expected = format!("one\n{long_line}\n").into_bytes();
    expected.extend_from_slice(b"two\xff\n");
    assert_eq!(root.read(LogQuery::default()).await, expected);
    writer.close();
    expected.extend_from_slice(b"unfinished\n");
    assert_eq!(root.read(LogQuery::default()).await, expected);
}

#[tokio::test]
async fn timestamps_prefix_each_line_with_the_time_its_first_record_was_logged() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer.write(LogStream::Stdout, b"first\n").unwrap();
    writer.write(LogStream::Stdout, &[b'y'; 20_000]).unwrap();
    writer.write(LogStream::Stdout, b"\n").unwrap();
    writer.close();

    let records = records_in(&root.container_directory().join("0.log"));
    let output = root
        .read(LogQuery {
            timestamps: true,
            ..LogQuery::default()
        })
        .await;
    let output = String::from_utf8(output).unwrap();
    let lines: Vec<(&str, &str)> = output
        .lines()
        .map(|line| line.split_once(' ').unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], (records[0].timestamp.as_str(), "first"));
    assert_eq!(
        lines[1],
        (records[1].timestamp.as_str(), "y".repeat(20_000).as_str())
    );
    parse_fixed_timestamp(lines[0].0);
}

#[tokio::test]
async fn tail_lines_counts_lines_across_rotated_files() {
    let root = TestRoot::new(LogRotation {
        max_size: 300,
        max_files: 10,
    });
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    for line in numbered_lines(0, 60).split_inclusive('\n') {
        writer.write(LogStream::Stdout, line.as_bytes()).unwrap();
    }
    let rotated = fs::read_dir(root.container_directory()).unwrap().count() - 1;
    assert!(rotated >= 4, "only {rotated} rotated files");
    let everything = String::from_utf8(root.read(LogQuery::default()).await).unwrap();
    let first_kept: usize = everything[5..8].parse().unwrap();
    assert_eq!(everything, numbered_lines(first_kept, 60 - first_kept));

    assert_eq!(
        String::from_utf8(root.read(tail(25)).await).unwrap(),
        numbered_lines(35, 25)
    );
    assert_eq!(
        String::from_utf8(root.read(tail(1)).await).unwrap(),
        numbered_lines(59, 1)
    );
    assert_eq!(root.read(tail(0)).await, b"");
    assert_eq!(
        String::from_utf8(root.read(tail(10_000)).await).unwrap(),
        everything
    );
}

#[tokio::test]
async fn tail_lines_counts_a_long_line_once_even_with_the_other_stream_between_its_parts() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let long_line = "z".repeat(50_000);
    writer.write(LogStream::Stdout, b"early\n").unwrap();
    writer
        .write(LogStream::Stdout, &long_line.as_bytes()[..30_000])
        .unwrap();
    writer.write(LogStream::Stderr, b"between\n").unwrap();
    writer
        .write(
            LogStream::Stdout,
            format!("{}\nlast\n", &long_line[30_000..]).as_bytes(),
        )
        .unwrap();
    writer.close();

    let read_tail = async |lines| String::from_utf8(root.read(tail(lines)).await).unwrap();
    assert_eq!(read_tail(1).await, "last\n");
    assert_eq!(read_tail(2).await, "between\nlast\n");
    // By where they start, the last three lines are the long one, "between" and "last";
    // the long line is shown when it ends.
    assert_eq!(read_tail(3).await, format!("between\n{long_line}\nlast\n"));
    assert_eq!(
        read_tail(4).await,
        format!("early\nbetween\n{long_line}\nlast\n")
    );
}

/// Writes a log file by hand, as another runtime would have, with records at chosen times.
fn write_records_at(root: &TestRoot, records: &[(Timestamp, &str)]) {
    fs::create_dir_all(root.container_directory()).unwrap();
    let contents: String = records
        .iter()
        .map(|(timestamp, content)| format!("{timestamp} stdout F {content}\n"))
        .collect();
    fs::write(root.container_directory().join("0.log"), contents).unwrap();
}

#[tokio::test]
async fn since_seconds_and_since_time_leave_out_earlier_lines() {
    let root = TestRoot::with_default_rotation();
    let now = Timestamp::now();
    let ago = |minutes: i64| now - SignedDuration::from_mins(minutes);
    write_records_at(
        &root,
        &[
            (ago(120), "two hours ago"),
            (ago(30), "half an hour ago"),
            (ago(1), "a minute ago"),
        ],
    );

    let since_seconds = LogQuery {
        since_seconds: Some(3600),
        ..LogQuery::default()
    };
    assert_eq!(
        root.read(since_seconds).await,
        b"half an hour ago\na minute ago\n"
    );
    let since_time = LogQuery {
        since_time: Some(ago(30)),
        ..LogQuery::default()
    };
    assert_eq!(
        root.read(since_time).await,
        b"half an hour ago\na minute ago\n"
    );
    let since_time = LogQuery {
        since_time: Some(ago(10)),
        tail_lines: Some(2),
        ..LogQuery::default()
    };
    assert_eq!(root.read(since_time).await, b"a minute ago\n");
}

#[tokio::test]
async fn limit_bytes_stops_after_that_many_bytes() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer.write(LogStream::Stdout, b"hello\nworld\n").unwrap();
    let limited = LogQuery {
        limit_bytes: Some(8),
        ..LogQuery::default()
    };
    assert_eq!(root.read(limited).await, b"hello\nwo");
    let with_timestamps = LogQuery {
        limit_bytes: Some(12),
        timestamps: true,
        ..LogQuery::default()
    };
    let output = root.read(with_timestamps).await;
    let records = records_in(&root.container_directory().join("0.log"));
    assert_eq!(output, records[0].timestamp.as_bytes()[..12]);
    // A limit beyond the log ends with the log.
    let generous = LogQuery {
        limit_bytes: Some(1_000),
        follow: true,
        ..LogQuery::default()
    };
    writer.close();
    assert_eq!(root.read(generous).await, b"hello\nworld\n");
}

#[tokio::test]
async fn previous_reads_the_instance_before_the_current_one() {
    let root = TestRoot::with_default_rotation();
    let first = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    first.write(LogStream::Stdout, b"first run\n").unwrap();
    first.close();
    let previous = LogQuery {
        previous: true,
        ..LogQuery::default()
    };
    assert_eq!(
        root.read_error(POD, CONTAINER, previous.clone()).await,
        "previous terminated container \"app\" in pod \"web\" not found"
    );

    let second = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 1)
        .unwrap();
    second.write(LogStream::Stdout, b"second run\n").unwrap();
    assert_eq!(root.read(LogQuery::default()).await, b"second run\n");
    assert_eq!(root.read(previous).await, b"first run\n");
}

#[tokio::test]
async fn a_recreated_pod_is_read_from_its_newest_directory() {
    let root = TestRoot::with_default_rotation();
    let old = root
        .logs
        .create_writer(NAMESPACE, POD, "bbbb", CONTAINER, 0)
        .unwrap();
    old.write(LogStream::Stdout, b"old pod\n").unwrap();
    old.close();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new = root
        .logs
        .create_writer(NAMESPACE, POD, "aaaa", CONTAINER, 0)
        .unwrap();
    new.write(LogStream::Stdout, b"new pod\n").unwrap();
    assert_eq!(root.read(LogQuery::default()).await, b"new pod\n");
}

#[tokio::test]
async fn errors_name_the_container_pod_or_option_at_fault() {
    let root = TestRoot::with_default_rotation();
    assert_eq!(
        root.read_error(POD, CONTAINER, LogQuery::default()).await,
        "container \"app\" in pod \"web\" has no logs yet"
    );
    root.logs
        .create_writer(NAMESPACE, POD, UID, "sidecar", 0)
        .unwrap()
        .close();
    assert_eq!(
        root.read_error(POD, CONTAINER, LogQuery::default()).await,
        "container \"app\" in pod \"web\" has no logs yet"
    );
    assert_eq!(
        root.read_error(POD, "sidecar", tail(-3)).await,
        "tailLines: Invalid value: -3: must be greater than or equal to 0"
    );
    assert!(
        root.read_error(POD, "../sidecar", LogQuery::default())
            .await
            .starts_with("invalid container name")
    );
    let stream = root
        .logs
        .read(NAMESPACE, POD, "sidecar", LogQuery::default())
        .await
        .unwrap();
    assert_eq!(collect(stream).await, b"");
}
