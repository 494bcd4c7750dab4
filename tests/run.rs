//! `wasmkube run NAME --image=IMAGE --rm -i --restart=Never -- ARGS` against a real
//! `wasmkube up`: the one-shot streams the container's output, exits with its exit code
//! and deletes the pod; a pod whose image is missing fails at once instead of waiting;
//! stdin reaches the guest through pods/attach, from `wasmkube run` and from the real
//! kubectl 1.33 (WebSocket) and 1.27 (SPDY).

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use support::{Cluster, ok, text};
use wasmkube_wasm_guests::WasmTarget;

/// Starts a cluster with the hello and testbox guests pushed as `hello:1` and
/// `testbox:1`.
fn cluster_with_guests(directory: &std::path::Path) -> Cluster {
    let cluster = Cluster::start(directory);
    for (name, image) in [("hello", "hello:1"), ("testbox", "testbox:1")] {
        cluster.push_guest(name, WasmTarget::P2, image);
    }
    cluster
}

/// `run NAME --image=IMAGE --rm -i --restart=Never -- COMMAND…`: an attached one-shot
/// pod, as `wasmkube run` and `kubectl run` both take it.
fn one_shot<'a>(name: &'a str, image_flag: &'a str, command: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = vec![
        "run",
        name,
        image_flag,
        "--rm",
        "-i",
        "--restart=Never",
        "--",
    ];
    arguments.extend_from_slice(command);
    arguments
}

fn exit_code(output: &Output) -> Option<i32> {
    output.status.code()
}

/// Whether the pod is gone, as `kubectl get` says.
fn pod_is_gone(cluster: &Cluster, name: &str) -> bool {
    let output = cluster.kubectl("kubectl", &["get", "pod", name]);
    let (_, stderr) = text(&output);
    !output.status.success() && stderr.contains("NotFound")
}

#[test]
fn wasmkube_run_streams_the_output_exits_with_the_code_and_cleans_up() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = cluster_with_guests(directory.path());

    let hello = cluster.wasmkube(&one_shot("hello", "--image=hello:1", &["a", "b"]));
    let (stdout, stderr) = text(&hello);
    assert_eq!(
        exit_code(&hello),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(
        stdout,
        "Hello from wasmkube!\na\nb\npod \"hello\" deleted\n"
    );
    assert_eq!(stderr, "");
    assert!(pod_is_gone(&cluster, "hello"), "the pod is still there");

    let failing = cluster.wasmkube(&one_shot(
        "three",
        "--image=testbox:1",
        &["exit-with-code", "3"],
    ));
    let (stdout, stderr) = text(&failing);
    assert_eq!(
        exit_code(&failing),
        Some(3),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(stdout, "pod \"three\" deleted\n");
    assert_eq!(stderr, "pod default/three terminated (Error)\n");
    assert!(pod_is_gone(&cluster, "three"));

    // Without --rm the finished pod stays, with its log; a second namespace works too.
    ok(cluster.wasmkube(&["create", "namespace", "team"]));
    let kept = cluster.wasmkube(&[
        "run",
        "echo",
        "-n",
        "team",
        "--image=testbox:1",
        "-i",
        "--restart=Never",
        "--env=GREETING=hi",
        "--",
        "env",
    ]);
    let (stdout, _) = text(&kept);
    assert_eq!(exit_code(&kept), Some(0));
    assert!(stdout.lines().any(|line| line == "GREETING=hi"), "{stdout}");
    let phase = cluster.wait_for_jsonpath(
        &["pod", "echo", "-n", "team"],
        "{.status.phase}",
        Duration::from_secs(10),
        |phase| phase == "Succeeded",
    );
    assert_eq!(phase, "Succeeded");
    let labels = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "echo",
            "-n",
            "team",
            "-o",
            "jsonpath={.metadata.labels.run} {.spec.containers[0].stdinOnce}",
        ],
    ));
    assert_eq!(labels, "echo true");
}

#[test]
fn a_missing_image_fails_clearly_and_without_waiting_for_the_timeout() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());

    let started = Instant::now();
    let missing = cluster.wasmkube(&[
        "run",
        "nope",
        "--image=nope:1",
        "--rm",
        "-i",
        "--restart=Never",
    ]);
    let (stdout, stderr) = text(&missing);
    assert_eq!(
        exit_code(&missing),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(stdout, "pod \"nope\" deleted\n");
    assert!(
        stderr.starts_with("error: pod default/nope cannot start: ErrImagePull: ")
            || stderr.starts_with("error: pod default/nope cannot start: ImagePullBackOff: "),
        "{stderr}"
    );
    assert!(stderr.contains("nope:1"), "{stderr}");
    assert!(pod_is_gone(&cluster, "nope"));

    // Without -i, run only creates the pod, as kubectl does; --rm needs -i.
    let created = ok(cluster.wasmkube(&["run", "later", "--image=nope:1"]));
    assert_eq!(created, "pod/later created\n");
    let refused = cluster.wasmkube(&["run", "x", "--image=nope:1", "--rm"]);
    assert_eq!(exit_code(&refused), Some(1));
    assert_eq!(
        text(&refused).1,
        "error: --rm should only be used for attached containers\n"
    );
}

#[test]
fn stdin_piped_into_wasmkube_run_reaches_the_guest() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = cluster_with_guests(directory.path());

    let copied = cluster.wasmkube_with_input(
        &one_shot("cat", "--image=testbox:1", &["copy-stdin"]),
        "line one\nline two\n",
    );
    let (stdout, stderr) = text(&copied);
    assert_eq!(
        exit_code(&copied),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(stdout, "line one\nline two\npod \"cat\" deleted\n");
    assert_eq!(stderr, "");
}

#[test]
fn kubectl_run_attaches_streams_and_exits_with_the_code() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = cluster_with_guests(directory.path());

    for kubectl in ["kubectl.1.33", "kubectl.1.27"] {
        let suffix = kubectl.replace('.', "-");
        let hello = format!("hello-{suffix}");
        let output = cluster.kubectl(kubectl, &one_shot(&hello, "--image=hello:1", &["a", "b"]));
        let (stdout, stderr) = text(&output);
        assert_eq!(exit_code(&output), Some(0), "{kubectl}: {stdout}\n{stderr}");
        assert_eq!(
            stdout,
            format!("Hello from wasmkube!\na\nb\npod \"{hello}\" deleted\n"),
            "{kubectl}: {stderr}"
        );
        assert!(!stderr.contains("falling back"), "{kubectl}: {stderr}");
        assert!(pod_is_gone(&cluster, &hello));

        let three = format!("three-{suffix}");
        let output = cluster.kubectl(
            kubectl,
            &one_shot(&three, "--image=testbox:1", &["exit-with-code", "3"]),
        );
        let (stdout, stderr) = text(&output);
        assert_eq!(exit_code(&output), Some(3), "{kubectl}: {stdout}\n{stderr}");
        assert!(
            stderr.ends_with(&format!("pod default/{three} terminated (Error)\n")),
            "{kubectl}: {stderr}"
        );
    }

    // Both attach protocols carry stdin to the guest: kubectl 1.30 and later speak
    // WebSockets, older ones SPDY.
    for kubectl in ["kubectl.1.33", "kubectl.1.27"] {
        let cat = format!("cat-{}", kubectl.replace('.', "-"));
        let output = cluster.kubectl_with_input(
            kubectl,
            &one_shot(&cat, "--image=testbox:1", &["copy-stdin"]),
            Some("through kubectl\n"),
        );
        let (stdout, stderr) = text(&output);
        assert_eq!(exit_code(&output), Some(0), "{kubectl}: {stdout}\n{stderr}");
        assert_eq!(
            stdout,
            format!("through kubectl\npod \"{cat}\" deleted\n"),
            "{kubectl}: {stderr}"
        );
        assert!(!stderr.contains("falling back"), "{kubectl}: {stderr}");
    }
}
