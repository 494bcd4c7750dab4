//! Running a container as one shard of a libtest binary: list the tests, take the shard's
//! share, run each in an instance of its own, and write the shard's log and exit as
//! libtest would (`report.rs`).

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use wasmkube_container_logs::LogStream;

use super::report::{ShardReport, TestOutcome};
use super::{ShardAssignment, ShardRequestError, parse_test_list, tests_of_shard};
use crate::guest::{
    CapturedOutput, CompiledGuest, GuestExit, GuestLaunch, GuestLogOutput, GuestOutput,
    GuestRuntime,
};

/// How much of the test list is read. A name takes well under a hundred bytes, so this
/// holds hundreds of thousands of tests; a longer list fails the shard rather than losing
/// tests silently.
const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// How much of one test's output is kept for its failure report.
const MAX_TEST_OUTPUT_BYTES: usize = 1024 * 1024;

/// libtest's exit code when a test failed.
const TESTS_FAILED_EXIT_CODE: i32 = 101;

/// Runs `launch`'s container as the shard `shard` asks for, writing into the container's
/// log, and ends as the container's run. Dropping the future stops the test running, as
/// for any container.
pub async fn run_shard(
    guests: &GuestRuntime,
    compiled: &CompiledGuest,
    launch: GuestLaunch,
    shard: Result<ShardAssignment, ShardRequestError>,
) -> GuestExit {
    let mut log = GuestLogOutput::new(launch.output.clone(), LogStream::Stdout);
    let exit = match shard {
        Ok(shard) => run_assigned(guests, compiled, &launch, shard, &mut log).await,
        Err(error) => {
            let message = format!("cannot run this container as a libtest shard: {error}");
            write(&mut log, &format!("wasmkube: {message}\n")).await;
            GuestExit {
                exit_code: 128,
                reason: "StartError",
                message: Some(message),
            }
        }
    };
    launch.output.close();
    exit
}

async fn run_assigned(
    guests: &GuestRuntime,
    compiled: &CompiledGuest,
    launch: &GuestLaunch,
    shard: ShardAssignment,
    log: &mut GuestLogOutput,
) -> GuestExit {
    let started = Instant::now();
    let listed = CapturedOutput::new(MAX_LIST_BYTES);
    let list_exit = guests
        .run(
            compiled,
            one_run(launch, &["--list", "--format", "terse"], None, &listed),
        )
        .await;
    let list_text = listed.text();
    if list_exit.exit_code != 0 || list_text.len() >= MAX_LIST_BYTES {
        let why = if list_exit.exit_code != 0 {
            format!("it exited with code {}", list_exit.exit_code)
        } else {
            format!("its list is longer than {MAX_LIST_BYTES} bytes")
        };
        let message = format!("listing the tests with `--list --format terse` failed: {why}");
        write(log, &format!("wasmkube: {message}\n{list_text}\n")).await;
        return GuestExit {
            exit_code: if list_exit.exit_code != 0 {
                list_exit.exit_code
            } else {
                1
            },
            reason: if list_exit.exit_code != 0 {
                list_exit.reason
            } else {
                "Error"
            },
            message: Some(message),
        };
    }
    let tests = parse_test_list(&list_text);
    let mine = tests_of_shard(&tests, shard);
    if mine.is_empty() {
        write(
            log,
            &format!(
                "wasmkube: shard {} of {}: 0 of {} tests: nothing to run\n",
                shard.index,
                shard.count,
                tests.len()
            ),
        )
        .await;
        return completed();
    }
    write(log, &ShardReport::header(shard, mine.len(), tests.len())).await;
    let mut report = ShardReport::new(tests.len(), mine.len());
    for name in &mine {
        let output = CapturedOutput::new(MAX_TEST_OUTPUT_BYTES);
        let exit = guests
            .run(compiled, one_run(launch, &[], Some(name), &output))
            .await;
        // An instance stopped at the memory limit has no trap message; its reason says it.
        let message = match (&exit.message, exit.reason) {
            (Some(message), _) => Some(message.clone()),
            (None, "OOMKilled") => Some("OOMKilled: past the container's memory limit".to_owned()),
            (None, _) => None,
        };
        let outcome = TestOutcome::of_run(name, exit.exit_code, &output.text(), message.as_deref());
        write(log, &report.record(name, outcome)).await;
    }
    write(log, &report.summary(started.elapsed())).await;
    if report.failed() {
        GuestExit {
            exit_code: TESTS_FAILED_EXIT_CODE,
            reason: "Error",
            message: None,
        }
    } else {
        completed()
    }
}

fn completed() -> GuestExit {
    GuestExit {
        exit_code: 0,
        reason: "Completed",
        message: None,
    }
}

/// The launch of one run of the container's binary within its sandbox and limits, its
/// output kept in memory: with `extra` arguments (the listing), or for the one test
/// `test`, run alone (`--exact`) with its output shown (`--nocapture`: a test that panics
/// aborts before libtest could print what it captured).
fn one_run(
    launch: &GuestLaunch,
    extra: &[&str],
    test: Option<&str>,
    output: &CapturedOutput,
) -> GuestLaunch {
    let mut argv = launch.argv.clone();
    argv.extend(extra.iter().map(|argument| (*argument).to_owned()));
    if let Some(test) = test {
        // libtest refuses a flag given twice, so a flag the container's args already
        // hold is not added again.
        for flag in ["--exact", "--nocapture"] {
            if !launch.argv.iter().skip(1).any(|argument| argument == flag) {
                argv.push(flag.to_owned());
            }
        }
        argv.push(test.to_owned());
    }
    GuestLaunch {
        argv,
        env: launch.env.clone(),
        working_dir: launch.working_dir.clone(),
        mounts: launch.mounts.clone(),
        output: GuestOutput::Captured(output.clone()),
        memory_limit_bytes: launch.memory_limit_bytes,
        cpu_quota: launch.cpu_quota,
        cpu_usage: Arc::clone(&launch.cpu_usage),
        memory_usage: Arc::clone(&launch.memory_usage),
        network: launch.network.clone(),
        http_port: launch.http_port,
        stdin: None,
    }
}

/// Writes into the container's log. A log that cannot be written is the node's problem,
/// not the test's: it is reported in the node's own log and the run goes on.
async fn write(log: &mut GuestLogOutput, text: &str) {
    if let Err(error) = log.write_all(text.as_bytes()).await {
        tracing::warn!(%error, "cannot write a libtest shard's report into the container's log");
    }
}
