//! The network benchmark's tables: a row printed as each run ends, and the medians over
//! the rounds at the end of each measurement.

use std::io::Write;

use super::loopback::LoopbackReport;
use super::requests::RequestReport;
use super::statistics::EchoSummary;

/// Nanoseconds as microseconds with one decimal, or `-` for none.
fn microseconds(nanoseconds: Option<f64>) -> String {
    nanoseconds.map_or_else(
        || "-".to_owned(),
        |nanoseconds| format!("{:.1}", nanoseconds / 1e3),
    )
}

pub fn echo_header(out: &mut impl Write, requests: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "Echo over HTTP/1.1 from the node: {requests} GETs per run, one at a time"
    )?;
    writeln!(
        out,
        "{:>5} {:>8} {:>11} {:>8} {:>9} {:>6} | {:>9} {:>9} {:>9}",
        "round", "target", "connection", "seconds", "req/s", "failed", "p50 µs", "p99 µs", "max µs"
    )
}

pub fn echo_row(out: &mut impl Write, round: usize, report: &RequestReport) -> std::io::Result<()> {
    let answered = report.latency.count > 0;
    writeln!(
        out,
        "{:>5} {:>8} {:>11} {:>8.3} {:>9.0} {:>6} | {:>9} {:>9} {:>9}",
        round,
        report.target.label(),
        report.mode.label(),
        report.elapsed.as_secs_f64(),
        report.requests_per_second(),
        report.failed,
        microseconds(answered.then_some(report.latency.p50 as f64)),
        microseconds(answered.then_some(report.latency.p99 as f64)),
        microseconds(answered.then_some(report.latency.max as f64)),
    )?;
    if let Some(failure) = &report.first_failure {
        writeln!(out, "      first failure: {failure}")?;
    }
    out.flush()
}

pub fn echo_summary(out: &mut impl Write, summaries: &[EchoSummary]) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Medians over the rounds; 'added' is the time per request over one hop less (service over pod-ip, pod-ip over native)"
    )?;
    writeln!(
        out,
        "{:>8} {:>11} {:>6} {:>9} {:>6} | {:>9} {:>9} | {:>8}",
        "target", "connection", "rounds", "req/s", "failed", "p50 µs", "p99 µs", "added"
    )?;
    for summary in summaries {
        let added = summary
            .added_cost_percent
            .map_or_else(String::new, |percent| format!("{percent:+.1}%"));
        writeln!(
            out,
            "{:>8} {:>11} {:>6} {:>9.0} {:>6} | {:>9} {:>9} | {:>8}",
            summary.target.label(),
            summary.mode.label(),
            summary.rounds,
            summary.requests_per_second,
            summary.failed,
            microseconds(summary.p50),
            microseconds(summary.p99),
            added,
        )?;
    }
    out.flush()
}

pub fn loopback_header(out: &mut impl Write, mebibytes: u64) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Loopback: testbox tcp-source -> tcp-sink over 127.0.0.1, {mebibytes} MiB per run, timed by the sink"
    )?;
    writeln!(
        out,
        "{:>5} {:>7} {:>12} {:>8} {:>9}",
        "round", "side", "bytes", "seconds", "MiB/s"
    )
}

pub fn loopback_row(out: &mut impl Write, report: &LoopbackReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5} {:>7} {:>12} {:>8.3} {:>9.0}",
        report.round,
        report.side.label(),
        report.transfer.bytes,
        report.transfer.elapsed.as_secs_f64(),
        report.transfer.mebibytes_per_second(),
    )?;
    out.flush()
}

pub fn loopback_summary(
    out: &mut impl Write,
    pod: Option<f64>,
    native: Option<f64>,
) -> std::io::Result<()> {
    let shown =
        |rate: Option<f64>| rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}"));
    write!(
        out,
        "Medians: pod {} MiB/s, native {} MiB/s",
        shown(pod),
        shown(native)
    )?;
    if let (Some(pod), Some(native)) = (pod, native) {
        write!(out, " (pod / native = {:.2})", pod / native)?;
    }
    writeln!(out)?;
    out.flush()
}
