//! Reading a shard's outcome from its pod: the phase says passed or failed, the log says
//! which tests (libtest's `test result:` line and its `---- NAME stdout ----` sections).

use std::fmt::Write as _;

/// What one shard's pod log says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardLog {
    /// libtest's summary line, `test result: ok. 7 passed; 0 failed; …`.
    pub result_line: Option<String>,
    /// The tests whose failure libtest reported, in the log's order.
    pub failed_tests: Vec<String>,
    /// The tests the log says ran (`test NAME ... ok|FAILED|ignored`).
    pub tests_run: Vec<String>,
}

impl ShardLog {
    pub fn parse(log: &str) -> ShardLog {
        let mut parsed = ShardLog::default();
        for line in log.lines() {
            if line.starts_with("test result: ") {
                parsed.result_line = Some(line.trim_end().to_owned());
            } else if let Some(name) = line
                .strip_prefix("---- ")
                .and_then(|rest| rest.strip_suffix(" stdout ----"))
            {
                parsed.failed_tests.push(name.to_owned());
            } else if let Some((name, status)) = line
                .strip_prefix("test ")
                .and_then(|rest| rest.rsplit_once(" ... "))
                && matches!(status.trim_end(), "ok" | "FAILED" | "ignored")
            {
                parsed.tests_run.push(name.to_owned());
            }
        }
        parsed
    }
}

/// How a shard ended, as its pod's phase says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardResult {
    Passed,
    Failed,
    /// No pod finished for this index (the Job ended first, or it is gone).
    NotFinished,
}

impl ShardResult {
    pub fn label(self) -> &'static str {
        match self {
            ShardResult::Passed => "PASSED",
            ShardResult::Failed => "FAILED",
            ShardResult::NotFinished => "NOT FINISHED",
        }
    }
}

/// One shard's line in `wasmkube test`'s table.
pub struct ShardRow {
    pub index: usize,
    pub pod: String,
    pub result: ShardResult,
    pub log: ShardLog,
}

/// The shards as a kubectl-style table: SHARD, POD, RESULT, SUMMARY, FAILED TESTS.
pub fn shard_table(rows: &[ShardRow]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|row| {
            [
                row.index.to_string(),
                if row.pod.is_empty() {
                    "<none>".to_owned()
                } else {
                    row.pod.clone()
                },
                row.result.label().to_owned(),
                row.log
                    .result_line
                    .as_deref()
                    .and_then(|line| line.strip_prefix("test result: "))
                    .unwrap_or("<no test result>")
                    .to_owned(),
                if row.log.failed_tests.is_empty() {
                    "<none>".to_owned()
                } else {
                    row.log.failed_tests.join(",")
                },
            ]
        })
        .collect();
    let header = ["SHARD", "POD", "RESULT", "SUMMARY", "FAILED TESTS"].map(str::to_owned);
    let mut widths = header.clone().map(|cell| cell.len());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut table = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}   ");
            }
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED_SHARD: &str = "wasmkube: shard 2 of 4: 3 of 26 tests\n\nrunning 3 tests\n\
        test discount::tests::never_more_than_the_subtotal ... ok\n\
        test discount::tests::percent_off_the_subtotal ... FAILED\n\
        test tax::tests::new_york_rate ... ok\n\nfailures:\n\n\
        ---- discount::tests::percent_off_the_subtotal stdout ----\n\
        thread 'main' (1) panicked at ci/src/discount.rs:85:9:\nassertion `left == right` failed\n\n\
        failures:\n    discount::tests::percent_off_the_subtotal\n\n\
        test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 23 filtered out; finished in 0.01s\n\n";

    #[test]
    fn a_failed_shard_names_its_failing_test() {
        let log = ShardLog::parse(FAILED_SHARD);
        assert_eq!(
            log.result_line.as_deref(),
            Some(
                "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 23 filtered out; finished in 0.01s"
            )
        );
        assert_eq!(
            log.failed_tests,
            ["discount::tests::percent_off_the_subtotal"]
        );
        assert_eq!(
            log.tests_run,
            [
                "discount::tests::never_more_than_the_subtotal",
                "discount::tests::percent_off_the_subtotal",
                "tax::tests::new_york_rate"
            ]
        );
    }

    #[test]
    fn the_table_aligns_its_columns() {
        let rows = [
            ShardRow {
                index: 0,
                pod: "ci-0-abcde".to_owned(),
                result: ShardResult::Passed,
                log: ShardLog {
                    result_line: Some("test result: ok. 7 passed; 0 failed".to_owned()),
                    ..ShardLog::default()
                },
            },
            ShardRow {
                index: 1,
                pod: String::new(),
                result: ShardResult::NotFinished,
                log: ShardLog::default(),
            },
        ];
        assert_eq!(
            shard_table(&rows),
            "SHARD   POD          RESULT         SUMMARY                  FAILED TESTS\n\
             0       ci-0-abcde   PASSED         ok. 7 passed; 0 failed   <none>\n\
             1       <none>       NOT FINISHED   <no test result>         <none>\n"
        );
    }
}
