//! Sandboxed CI end to end, with a real `wasmkube up` and the ci example's real test
//! binary (built for wasm32-wasip2 by `cargo test --no-run`): the example's Indexed Job
//! deals the tests out to four pods so that every test runs exactly once, seen with
//! kubectl's own views; `wasmkube test` reports every shard PASSED and exits 0, and with
//! a bug injected (`CI_EXAMPLE_BREAK=discount`) the Job fails, the shard that holds the
//! broken test shows FAILED with its name, the name is in that pod's log, and the exit
//! code is 1.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use support::{Cluster, ok, text};
use wasmkube_wasm_guests::test_suite;

const BROKEN_TEST: &str = "discount::tests::percent_off_the_subtotal";

/// A pod that lists the binary's tests, as libtest prints them with no sharding.
const LIST_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ci-list
spec:
  restartPolicy: Never
  containers:
  - name: tests
    image: ci-tests:1.0
    args: [--list, --format, terse]
"#;

/// A pod that asks to be a shard without being an Indexed Job's pod.
const NOT_INDEXED_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ci-not-indexed
  annotations:
    wasmkube.dev/libtest-shards: "4"
spec:
  restartPolicy: Never
  containers:
  - name: tests
    image: ci-tests:1.0
"#;

fn job_manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/ci/manifests/ci-job.yaml")
}

/// The test names a shard's log says ran (`test NAME ... ok`).
fn tests_run(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| line.strip_prefix("test ")?.rsplit_once(" ... "))
        .filter(|(_, status)| matches!(*status, "ok" | "FAILED" | "ignored"))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The rows of `wasmkube test`'s table, split into words: shard, pod, result, then the
/// summary's words and the failed tests.
fn shard_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("SHARD "))
        .skip(1)
        .take_while(|line| !line.starts_with("job.batch/"))
        .map(|line| line.split_whitespace().collect())
        .collect()
}

#[test]
fn the_example_job_runs_every_test_exactly_once_over_four_shards() {
    let suite = test_suite("ci");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());
    ok(cluster.wasmkube(&["image", "push", &suite.to_string_lossy(), "ci-tests:1.0"]));
    ok(cluster.kubectl_with_input(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&format!("{LIST_POD}---{NOT_INDEXED_POD}")),
    ));
    let manifest = job_manifest();
    ok(cluster.kubectl("kubectl", &["apply", "-f", &manifest.to_string_lossy()]));
    cluster.wait_for_jsonpath(
        &["job", "ci"],
        "{.status.conditions[?(@.status==\"True\")].type}",
        Duration::from_secs(40),
        |conditions| conditions.contains("Complete"),
    );

    cluster.wait_for_jsonpath(
        &["pod", "ci-list"],
        "{.status.phase}",
        Duration::from_secs(20),
        |phase| phase == "Succeeded",
    );
    let listed: BTreeSet<String> = ok(cluster.kubectl("kubectl", &["logs", "ci-list"]))
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 20, "the suite lists its tests: {listed:?}");

    // kubectl's own view: one pod per completion index, each Completed.
    let pods = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-l",
            "batch.kubernetes.io/job-name=ci",
            "-L",
            "batch.kubernetes.io/job-completion-index",
            "--no-headers",
        ],
    ));
    let mut indexes = BTreeSet::new();
    let mut ran = Vec::new();
    for line in pods.lines() {
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(columns[2], "Completed", "every shard completed: {pods}");
        indexes.insert(columns[columns.len() - 1].to_owned());
        let log = ok(cluster.kubectl("kubectl", &["logs", columns[0]]));
        assert!(
            log.starts_with(&format!(
                "wasmkube: shard {} of 4: ",
                columns[columns.len() - 1]
            )),
            "the log names its shard: {log}"
        );
        assert!(log.contains("test result: ok."), "{log}");
        ran.extend(tests_run(&log));
    }
    assert_eq!(
        indexes,
        BTreeSet::from(["0", "1", "2", "3"].map(str::to_owned))
    );
    let ran_once: BTreeSet<String> = ran.iter().cloned().collect();
    assert_eq!(ran.len(), ran_once.len(), "no test ran twice: {ran:?}");
    assert_eq!(
        ran_once, listed,
        "the shards together ran every listed test"
    );

    // A pod that asks to be a shard but has no completion index fails with the reason.
    cluster.wait_for_jsonpath(
        &["pod", "ci-not-indexed"],
        "{.status.phase}",
        Duration::from_secs(20),
        |phase| phase == "Failed",
    );
    let terminated = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pod",
            "ci-not-indexed",
            "-o=jsonpath={.status.containerStatuses[0].state.terminated.reason}: {.status.containerStatuses[0].state.terminated.message}",
        ],
    ));
    assert!(
        terminated.starts_with("StartError: ")
            && terminated.contains("batch.kubernetes.io/job-completion-index"),
        "{terminated}"
    );
    let log = ok(cluster.kubectl("kubectl", &["logs", "ci-not-indexed"]));
    assert!(log.contains("needs a pod of an Indexed Job"), "{log}");
}

#[test]
fn wasmkube_test_passes_every_shard_and_fails_on_a_broken_test() {
    let suite = test_suite("ci");
    let suite = suite.to_string_lossy();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(directory.path());

    let passing = cluster.wasmkube(&["test", &suite, "--shards", "4", "--memory", "64Mi"]);
    let (stdout, stderr) = text(&passing);
    assert!(passing.status.success(), "{stdout}\n{stderr}");
    let results: Vec<&str> = shard_rows(&stdout).iter().map(|row| row[2]).collect();
    assert_eq!(results, ["PASSED"; 4], "{stdout}");
    assert!(stdout.contains("job.batch/ci Complete"), "{stdout}");

    // The same name again replaces the finished Job; the injected bug fails one shard.
    let failing = cluster.wasmkube(&[
        "test",
        &suite,
        "--shards",
        "4",
        "--env",
        "CI_EXAMPLE_BREAK=discount",
    ]);
    let (stdout, stderr) = text(&failing);
    assert_eq!(failing.status.code(), Some(1), "{stdout}\n{stderr}");
    let rows = shard_rows(&stdout);
    let failed: Vec<&Vec<&str>> = rows.iter().filter(|row| row[2] == "FAILED").collect();
    assert_eq!(failed.len(), 1, "one shard failed: {stdout}");
    assert_eq!(failed[0].last(), Some(&BROKEN_TEST), "{stdout}");
    assert!(
        stdout.contains("job.batch/ci Failed: BackoffLimitExceeded"),
        "{stdout}"
    );
    let failed_pod = failed[0][1];
    cluster.wait_for_jsonpath(
        &["job", "ci"],
        "{.status.conditions[?(@.status==\"True\")].type}",
        Duration::from_secs(10),
        |conditions| conditions.contains("Failed"),
    );
    let log = ok(cluster.kubectl("kubectl", &["logs", failed_pod]));
    assert!(
        log.contains(&format!("test {BROKEN_TEST} ... FAILED"))
            && log.contains(&format!("---- {BROKEN_TEST} stdout ----"))
            && log.contains("panicked at"),
        "{log}"
    );
    assert!(log.contains("test result: FAILED."), "{log}");
}
