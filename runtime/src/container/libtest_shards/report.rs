//! A shard's log in libtest's own pretty format: `running N tests`, a `test NAME ... ok`
//! line per test as it ends, then the failures (`---- NAME stdout ----` and the test's
//! output) and the `test result:` line, so that people and tools read it as any
//! `cargo test` output. Each test ran in an instance of its own; its outcome is read
//! from that run's exit code and result line.

use std::time::Duration;

use super::ShardAssignment;

/// How one test's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// `#[ignore]`d (and not asked for with `--ignored`).
    Ignored,
    /// Left out by the container's own filters (its args), as libtest's "filtered out".
    NotRun,
    /// The test failed: what it printed, its panic message included.
    Failed(String),
}

impl TestOutcome {
    /// Reads a test's run: its exit code, its output (both streams, as written), and the
    /// runtime's message about a trap.
    pub fn of_run(name: &str, exit_code: i32, output: &str, message: Option<&str>) -> TestOutcome {
        if exit_code == 0 {
            return match result_counts(output) {
                Some(counts) if counts.ignored > 0 => TestOutcome::Ignored,
                Some(counts) if counts.passed > 0 => TestOutcome::Passed,
                Some(_) => TestOutcome::NotRun,
                None => TestOutcome::Failed(
                    "the test binary exited with 0 without libtest's `test result:` line"
                        .to_owned(),
                ),
            };
        }
        let printed = test_output(name, output);
        let ending = message
            .and_then(trap_summary)
            .map(|summary| format!(" ({summary})"))
            .unwrap_or_default();
        let note = format!("note: the test's instance ended with exit code {exit_code}{ending}");
        TestOutcome::Failed(if printed.is_empty() {
            note
        } else {
            format!("{printed}\n{note}")
        })
    }
}

/// The gist of the runtime's message about a trap: from `wasm trap:` on (the message
/// starts with a wasm backtrace, of no use without symbols), else its last line.
fn trap_summary(message: &str) -> Option<&str> {
    match message.find("wasm trap: ") {
        Some(start) => message[start..].lines().next(),
        None => message.lines().last(),
    }
}

/// The counts of a `test result:` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ResultCounts {
    passed: usize,
    ignored: usize,
}

fn result_counts(output: &str) -> Option<ResultCounts> {
    let line = output
        .lines()
        .rev()
        .find(|line| line.starts_with("test result: "))?;
    let count = |label: &str| -> usize {
        line.split(';')
            .find_map(|part| part.trim().strip_suffix(label))
            .and_then(|number| number.trim().rsplit(' ').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or(0)
    };
    Some(ResultCounts {
        passed: count(" passed"),
        ignored: count(" ignored"),
    })
}

/// What a failed test printed, without libtest's framing of its one-test run (which the
/// shard's report gives once for all its tests).
fn test_output(name: &str, output: &str) -> String {
    let without_status = output.replacen(&format!("test {name} ... "), "", 1);
    let section_header = format!("---- {name} stdout ----");
    let kept: Vec<&str> = without_status
        .lines()
        .filter(|line| {
            let trimmed = line.trim();
            trimmed != "running 1 test"
                && trimmed != "FAILED"
                && trimmed != "failures:"
                && trimmed != name
                && trimmed != section_header
                && !trimmed.starts_with("test result: ")
        })
        .collect();
    kept.join("\n").trim().to_owned()
}

/// A shard's tally, from which its log's summary is written.
#[derive(Debug)]
pub struct ShardReport {
    /// Tests listed by the binary that are not this shard's, or that its filters left out.
    filtered_out: usize,
    passed: usize,
    ignored: usize,
    failures: Vec<(String, String)>,
}

impl ShardReport {
    pub fn new(listed: usize, in_shard: usize) -> ShardReport {
        ShardReport {
            filtered_out: listed - in_shard,
            passed: 0,
            ignored: 0,
            failures: Vec::new(),
        }
    }

    /// The line naming the shard, and libtest's header.
    pub fn header(shard: ShardAssignment, in_shard: usize, listed: usize) -> String {
        let plural = if in_shard == 1 { "" } else { "s" };
        format!(
            "wasmkube: shard {} of {}: {in_shard} of {listed} tests\n\nrunning {in_shard} test{plural}\n",
            shard.index, shard.count
        )
    }

    /// Counts one test's outcome and returns its `test NAME ... ok` line (nothing for a
    /// test the container's filters left out, as libtest prints none).
    pub fn record(&mut self, name: &str, outcome: TestOutcome) -> String {
        let status = match outcome {
            TestOutcome::Passed => {
                self.passed += 1;
                "ok"
            }
            TestOutcome::Ignored => {
                self.ignored += 1;
                "ignored"
            }
            TestOutcome::NotRun => {
                self.filtered_out += 1;
                return String::new();
            }
            TestOutcome::Failed(output) => {
                self.failures.push((name.to_owned(), output));
                "FAILED"
            }
        };
        format!("test {name} ... {status}\n")
    }

    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// The failures, if any, and the `test result:` line.
    pub fn summary(&self, elapsed: Duration) -> String {
        let mut text = String::new();
        if self.failed() {
            text.push_str("\nfailures:\n");
            for (name, output) in &self.failures {
                text.push_str(&format!("\n---- {name} stdout ----\n{output}\n"));
            }
            text.push_str("\nfailures:\n");
            for (name, _) in &self.failures {
                text.push_str(&format!("    {name}\n"));
            }
        }
        text.push_str(&format!(
            "\ntest result: {}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s\n\n",
            if self.failed() { "FAILED" } else { "ok" },
            self.passed,
            self.failures.len(),
            self.ignored,
            self.filtered_out,
            elapsed.as_secs_f64()
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSED: &str = "\nrunning 1 test\ntest cart::tests::empty ... ok\n\n\
        test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 25 filtered out; finished in 0.00s\n\n";

    const ABORTED: &str = "\nrunning 1 test\n\nthread 'main' (1) panicked at ci/src/discount.rs:85:9:\n\
        assertion `left == right` failed\n  left: Cents(400)\n right: Cents(600)\n\
        note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
        test discount::tests::percent ... ";

    #[test]
    fn a_passing_run_is_read_from_its_result_line() {
        assert_eq!(
            TestOutcome::of_run("cart::tests::empty", 0, PASSED, None),
            TestOutcome::Passed
        );
        let ignored = "test t ... ignored\n\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.00s\n";
        assert_eq!(
            TestOutcome::of_run("t", 0, ignored, None),
            TestOutcome::Ignored
        );
        let filtered = "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out; finished in 0.00s\n";
        assert_eq!(
            TestOutcome::of_run("t", 0, filtered, None),
            TestOutcome::NotRun
        );
    }

    #[test]
    fn an_aborted_run_keeps_the_panic_message_without_libtest_framing() {
        let outcome = TestOutcome::of_run(
            "discount::tests::percent",
            134,
            ABORTED,
            Some(
                "error while executing at wasm backtrace:\n    0: 0x1 - <unknown>!<wasm function 2>\n    \
                 1: 0x2 - <unknown>!<wasm function 248>: wasm trap: wasm `unreachable` instruction executed",
            ),
        );
        let TestOutcome::Failed(output) = outcome else {
            panic!("an aborted test failed: {outcome:?}");
        };
        assert!(output.starts_with("thread 'main' (1) panicked at ci/src/discount.rs:85:9:"));
        assert!(!output.contains("running 1 test"));
        assert!(!output.contains("test discount::tests::percent ..."));
        assert!(output.ends_with(
            "note: the test's instance ended with exit code 134 (wasm trap: wasm `unreachable` instruction executed)"
        ));
    }

    #[test]
    fn an_exit_without_a_result_line_is_a_failure() {
        assert!(matches!(
            TestOutcome::of_run("t", 0, "hello\n", None),
            TestOutcome::Failed(_)
        ));
    }

    #[test]
    fn the_report_reads_like_libtest() {
        let shard = ShardAssignment { index: 2, count: 4 };
        let mut text = ShardReport::header(shard, 3, 26);
        let mut report = ShardReport::new(26, 3);
        text.push_str(&report.record("a", TestOutcome::Passed));
        text.push_str(&report.record("b", TestOutcome::Failed("boom".to_owned())));
        text.push_str(&report.record("c", TestOutcome::NotRun));
        text.push_str(&report.summary(Duration::from_millis(120)));
        assert_eq!(
            text,
            "wasmkube: shard 2 of 4: 3 of 26 tests\n\nrunning 3 tests\n\
             test a ... ok\ntest b ... FAILED\n\
             \nfailures:\n\n---- b stdout ----\nboom\n\nfailures:\n    b\n\
             \ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 24 filtered out; finished in 0.12s\n\n"
        );
        assert!(report.failed());
    }
}
