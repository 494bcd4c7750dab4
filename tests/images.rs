//! `wasmkube image push` and `wasmkube image ls` against a real `wasmkube up`: binaries
//! pushed under names and tags, listed, pushed again, and bad files and names refused
//! before anything reaches the cluster.

mod support;

use std::path::Path;
use std::process::Output;

use support::{Cluster, ok, text};

/// The smallest valid WebAssembly core module: the magic and version 1.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// A component's header (layer 1) followed by a custom section.
const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0\0\x04\x03abc";

/// sha256 of [`EMPTY_MODULE`] and of [`COMPONENT`], as `sha256sum` prints them.
const EMPTY_MODULE_DIGEST: &str =
    "sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476";
const COMPONENT_DIGEST: &str =
    "sha256:41d2bdf48909685f242e0701af961b34e5de599e281914da26e1ab0533192e35";

/// Asserts that a command failed as [`support::fails`] says, printing nothing on stdout,
/// and returns its stderr.
fn fails(output: Output) -> String {
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    support::fails(output)
}

fn write_file(directory: &Path, name: &str, content: &[u8]) -> String {
    let path = directory.join(name);
    std::fs::write(&path, content).expect("write a file");
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// The blobs the cluster's image store holds, by file name.
fn stored_blobs(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("images/blobs/sha256"))
        .expect("the blob directory")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn images_are_pushed_listed_and_pushed_again() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let files = tempfile::tempdir().expect("temp dir");
    let module = write_file(files.path(), "hello.wasm", EMPTY_MODULE);
    let component = write_file(files.path(), "greeter.wasm", COMPONENT);

    let pushed = ok(cluster.wasmkube(&["image", "push", &module, "hello"]));
    assert_eq!(
        pushed,
        format!("pushed hello:latest ({EMPTY_MODULE_DIGEST}, 8 bytes)\n")
    );
    let pushed = ok(cluster.wasmkube(&["image", "push", &component, "team/greeter:v1"]));
    assert_eq!(
        pushed,
        format!("pushed team/greeter:v1 ({COMPONENT_DIGEST}, 14 bytes)\n")
    );
    let again = ok(cluster.wasmkube(&["image", "push", &module, "hello"]));
    assert_eq!(
        again,
        format!("pushed hello:latest ({EMPTY_MODULE_DIGEST}, 8 bytes)\n")
    );
    ok(cluster.wasmkube(&["image", "push", &component, "hello:v2"]));

    let listed = ok(cluster.wasmkube(&["image", "ls"]));
    let digest_header = format!("{:<74}", "DIGEST");
    assert_eq!(
        listed,
        format!(
            "NAME           TAG      {digest_header}SIZE\n\
             hello          latest   {EMPTY_MODULE_DIGEST}   8\n\
             hello          v2       {COMPONENT_DIGEST}   14\n\
             team/greeter   v1       {COMPONENT_DIGEST}   14\n"
        )
    );
    let hex = |digest: &str| digest.trim_start_matches("sha256:").to_owned();
    let mut expected = vec![hex(COMPONENT_DIGEST), hex(EMPTY_MODULE_DIGEST)];
    expected.sort();
    assert_eq!(stored_blobs(data_dir.path()), expected, "each content once");
    let stored = data_dir
        .path()
        .join("images/blobs/sha256")
        .join(hex(COMPONENT_DIGEST));
    assert_eq!(std::fs::read(stored).expect("the stored blob"), COMPONENT);
}

#[test]
fn bad_files_and_names_are_refused_before_anything_reaches_the_cluster() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let files = tempfile::tempdir().expect("temp dir");
    let script = write_file(files.path(), "hello.sh", b"#!/bin/sh\necho hello\n");
    let module = write_file(files.path(), "hello.wasm", EMPTY_MODULE);
    let missing = files.path().join("missing.wasm");
    let missing = missing.to_str().expect("a UTF-8 path");

    let refused = fails(cluster.wasmkube(&["image", "push", &script, "hello"]));
    assert_eq!(
        refused,
        format!("error: {script} is not a WebAssembly module or component\n")
    );
    let unreadable = fails(cluster.wasmkube(&["image", "push", missing, "hello"]));
    assert!(
        unreadable.starts_with(&format!("error: cannot read {missing}: ")),
        "{unreadable}"
    );
    let uppercase = fails(cluster.wasmkube(&["image", "push", &module, "Hello"]));
    assert_eq!(
        uppercase,
        "error: invalid image name \"Hello\": repository name must be lowercase\n"
    );
    let bad_tag = fails(cluster.wasmkube(&["image", "push", &module, "hello:-1"]));
    assert!(
        bad_tag.starts_with("error: invalid tag \"-1\": "),
        "{bad_tag}"
    );

    let listed = cluster.wasmkube(&["image", "ls"]);
    let (stdout, stderr) = text(&listed);
    assert!(listed.status.success(), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr, "No images found in the cluster's image store.\n");
    assert_eq!(stored_blobs(data_dir.path()), Vec::<String>::new());
}
