//! Writing logs: the record format, partial lines, rotation, and which files are kept.

use std::fs;
use std::io;

use wasmkube_container_logs::{LogRoot, LogRotation, LogStream, OpenError, PodLogDir};

use crate::support::{
    CONTAINER, NAMESPACE, POD, TestRoot, UID, file_names, numbered_lines, parse_fixed_timestamp,
    records_in,
};

#[test]
fn complete_lines_become_cri_records_and_close_ends_the_unfinished_ones() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    writer.write(LogStream::Stdout, b"hello\nwor").unwrap();
    writer
        .write(LogStream::Stderr, b"oops\nhalf an error")
        .unwrap();
    writer.write(LogStream::Stdout, b"ld\nno newline").unwrap();

    let path = root.container_directory().join("0.log");
    let fields = |records: Vec<crate::support::FileRecord>| {
        records
            .into_iter()
            .map(|record| {
                parse_fixed_timestamp(&record.timestamp);
                (
                    record.stream,
                    record.tag,
                    String::from_utf8(record.content).unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let expected_before_close = [
        ("stdout", "F", "hello"),
        ("stderr", "F", "oops"),
        ("stdout", "F", "world"),
    ];
    let owned = |expected: &[(&str, &str, &str)]| {
        expected
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(fields(records_in(&path)), owned(&expected_before_close));

    writer.close();
    let mut expected_after_close = expected_before_close.to_vec();
    expected_after_close.extend([
        ("stdout", "F", "no newline"),
        ("stderr", "F", "half an error"),
    ]);
    assert_eq!(fields(records_in(&path)), owned(&expected_after_close));

    let error = writer.write(LogStream::Stdout, b"too late\n").unwrap_err();
    assert!(error.to_string().contains("is closed"), "{error}");
    writer.close();
    assert_eq!(records_in(&path).len(), expected_after_close.len());
}

#[test]
fn long_lines_are_split_into_partial_records_and_every_byte_is_kept() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let mut long_line = vec![b'a'; 40_000];
    long_line.push(b'\n');
    writer.write(LogStream::Stdout, &long_line).unwrap();
    writer
        .write(LogStream::Stdout, b"\xff\xfe not utf-8\r\n")
        .unwrap();
    writer.write(LogStream::Stdout, &[b'b'; 16 * 1024]).unwrap();
    writer.write(LogStream::Stdout, b"\n").unwrap();

    let records = records_in(&root.container_directory().join("0.log"));
    let shapes: Vec<(&str, Vec<u8>)> = records
        .iter()
        .map(|record| (record.tag.as_str(), record.content.clone()))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("P", vec![b'a'; 16 * 1024]),
            ("P", vec![b'a'; 16 * 1024]),
            ("F", vec![b'a'; 40_000 - 2 * 16 * 1024]),
            ("F", b"\xff\xfe not utf-8\r".to_vec()),
            ("F", vec![b'b'; 16 * 1024]),
        ]
    );
}

#[test]
fn rotation_renames_full_files_and_keeps_at_most_max_files() {
    let root = TestRoot::new(LogRotation {
        max_size: 256,
        max_files: 3,
    });
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let lines = numbered_lines(0, 100);
    for line in lines.split_inclusive('\n') {
        writer.write(LogStream::Stdout, line.as_bytes()).unwrap();
    }

    let names = file_names(&root.container_directory());
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "0.log");
    for rotated in &names[1..] {
        let suffix = rotated.strip_prefix("0.log.").unwrap();
        let (date_time, nanoseconds) = suffix.split_once('.').unwrap();
        assert_eq!(
            (date_time.len(), &date_time[8..9], nanoseconds.len()),
            (15, "-", 9),
            "{rotated}"
        );
        assert!(
            suffix
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte == b'-' || byte == b'.')
        );
        let size = fs::metadata(root.container_directory().join(rotated))
            .unwrap()
            .len();
        assert!(size >= 256, "{rotated} was rotated at {size} bytes");
    }

    // The kept files, oldest first, hold the most recent lines without a gap.
    let mut kept = Vec::new();
    for name in names[1..].iter().chain(&names[..1]) {
        for record in records_in(&root.container_directory().join(name)) {
            kept.push(String::from_utf8(record.content).unwrap());
        }
    }
    let first: usize = kept[0].strip_prefix("line ").unwrap().parse().unwrap();
    let expected: Vec<String> = (first..100)
        .map(|number| format!("line {number:03}"))
        .collect();
    assert_eq!(kept, expected);
    assert!(first > 0, "nothing was deleted");
}

#[test]
fn a_new_instance_deletes_all_but_the_previous_instance() {
    let root = TestRoot::new(LogRotation {
        max_size: 64,
        max_files: 4,
    });
    for instance in 0..3 {
        let writer = root
            .logs
            .create_writer(NAMESPACE, POD, UID, CONTAINER, instance)
            .unwrap();
        writer
            .write(LogStream::Stdout, numbered_lines(0, 5).as_bytes())
            .unwrap();
        writer
            .write(LogStream::Stdout, numbered_lines(5, 5).as_bytes())
            .unwrap();
        writer.close();
    }
    let names = file_names(&root.container_directory());
    assert!(
        names
            .iter()
            .all(|name| name.starts_with("1.log") || name.starts_with("2.log")),
        "{names:?}"
    );
    assert!(names.contains(&"1.log".to_owned()) && names.contains(&"2.log".to_owned()));
    assert!(
        names.iter().any(|name| name.starts_with("2.log.")),
        "instance 2 never rotated: {names:?}"
    );
}

#[test]
fn an_instance_opened_again_after_an_agent_restart_goes_on_after_its_lines() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 4)
        .unwrap();
    writer.write(LogStream::Stdout, b"before\n").unwrap();
    writer.close();
    let restarted =
        LogRoot::open(root.directory.path().join("pods"), LogRotation::default()).unwrap();
    let writer = restarted
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 4)
        .unwrap();
    writer.write(LogStream::Stdout, b"after\n").unwrap();
    let contents: Vec<Vec<u8>> = records_in(&root.container_directory().join("4.log"))
        .into_iter()
        .map(|record| record.content)
        .collect();
    assert_eq!(contents, vec![b"before".to_vec(), b"after".to_vec()]);
}

#[test]
fn an_instance_has_one_live_writer_at_a_time() {
    let root = TestRoot::with_default_rotation();
    let writer = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let error = root
        .logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    assert!(error.to_string().contains("\"app\" (restart 0)"), "{error}");
    drop(writer);
    root.logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
}

#[test]
fn pod_log_directories_are_listed_and_removed() {
    let root = TestRoot::with_default_rotation();
    root.logs
        .create_writer(NAMESPACE, POD, UID, CONTAINER, 0)
        .unwrap();
    let job = root
        .logs
        .create_writer("batch", "job-1", "1234", "worker", 0)
        .unwrap();
    fs::create_dir(
        root.directory
            .path()
            .join("pods")
            .join("not-a-pod-directory"),
    )
    .unwrap();

    let pod = |namespace: &str, pod: &str, uid: &str| PodLogDir {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        uid: uid.to_owned(),
    };
    assert_eq!(
        root.logs.pod_log_dirs().unwrap(),
        vec![pod("batch", "job-1", "1234"), pod(NAMESPACE, POD, UID)]
    );

    root.logs.remove_pod_logs("batch", "job-1", "1234").unwrap();
    assert_eq!(
        root.logs.pod_log_dirs().unwrap(),
        vec![pod(NAMESPACE, POD, UID)]
    );
    root.logs.remove_pod_logs("batch", "job-1", "1234").unwrap();
    let error = job
        .write(LogStream::Stdout, b"after removal\n")
        .unwrap_err();
    assert!(error.to_string().contains("is closed"), "{error}");
}

#[test]
fn names_that_are_not_kubernetes_names_are_refused() {
    let root = TestRoot::with_default_rotation();
    let error = root
        .logs
        .create_writer(NAMESPACE, "../escape", UID, CONTAINER, 0)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .starts_with("invalid pod name \"../escape\": "),
        "{error}"
    );
    let error = root
        .logs
        .create_writer(NAMESPACE, POD, "a_b", CONTAINER, 0)
        .unwrap_err();
    assert!(
        error.to_string().starts_with("invalid pod uid \"a_b\": "),
        "{error}"
    );
    assert!(root.logs.remove_pod_logs(NAMESPACE, POD, "..").is_err());
    assert!(root.logs.pod_log_dirs().unwrap().is_empty());
}

#[test]
fn rotation_settings_the_kubelet_refuses_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let error = LogRoot::open(
        directory.path(),
        LogRotation {
            max_size: 1024,
            max_files: 1,
        },
    )
    .err()
    .unwrap();
    assert!(matches!(error, OpenError::TooFewMaxFiles(1)));
    assert_eq!(
        error.to_string(),
        "invalid configuration: containerLogMaxFiles 1 must be greater than 1"
    );
    let error = LogRoot::open(
        directory.path(),
        LogRotation {
            max_size: 0,
            max_files: 5,
        },
    )
    .err()
    .unwrap();
    assert!(matches!(error, OpenError::MaxSizeNotPositive(0)));
}
