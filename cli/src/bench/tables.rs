//! The benchmark's tables, one row printed as each measurement ends.

use std::io::Write;
use std::num::NonZeroU32;

use super::creates::CreateReport;
use super::samples::{Summary, milliseconds};
use super::watchers::{WatchReport, WatchTransport};

pub fn create_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Durable creates: POST ConfigMap, each 201 sent after its group commit's fsync"
    )?;
    writeln!(
        out,
        "{:>8} {:>9} {:>7} {:>8} {:>10} {:>8} {:>8} {:>8}",
        "clients", "created", "failed", "seconds", "creates/s", "p50 ms", "p99 ms", "max ms"
    )
}

pub fn create_row(out: &mut impl Write, report: &CreateReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>8} {:>9} {:>7} {:>8.2} {:>10.0} {:>8} {:>8} {:>8}",
        report.clients,
        report.created,
        report.failed,
        report.elapsed.as_secs_f64(),
        report.creates_per_second(),
        milliseconds(report.latency.p50),
        milliseconds(report.latency.p99),
        milliseconds(report.latency.max),
    )?;
    if let Some(failure) = &report.first_failure {
        writeln!(out, "  first failure: {failure}")?;
    }
    out.flush()
}

fn three(summary: Summary) -> String {
    format!(
        "{:>8} {:>8} {:>8}",
        milliseconds(summary.p50),
        milliseconds(summary.p99),
        milliseconds(summary.max)
    )
}

pub fn watch_header(out: &mut impl Write, events: usize, rate: NonZeroU32) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Watch delivery: {events} ConfigMap creates at {rate}/s, each event timed at every watcher"
    )?;
    writeln!(
        out,
        "{:>53} | {:<26} | {:<26} | {:<26}",
        "", "create sent -> event", "create's 201 -> event", "create sent -> 201"
    )?;
    let columns = format!("{:>8} {:>8} {:>8}", "p50 ms", "p99 ms", "max ms");
    writeln!(
        out,
        "{:>8} {:>13} {:>8} {:>10} {:>10} | {columns} | {columns} | {columns}",
        "watchers", "connections", "created", "delivered", "unexpected"
    )
}

/// Like "1000 HTTP/1.1" or "10 HTTP/2".
fn connections(report: &WatchReport) -> String {
    let protocol = match report.transport {
        WatchTransport::Http1PerWatcher => "HTTP/1.1",
        WatchTransport::Http2(_) => "HTTP/2",
    };
    format!(
        "{} {protocol}",
        report.transport.connections(report.watchers)
    )
}

pub fn watch_row(out: &mut impl Write, report: &WatchReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>8} {:>13} {:>8} {:>10} {:>10} | {} | {} | {}",
        report.watchers,
        connections(report),
        report.created,
        report.delivered,
        report.unexpected,
        three(report.from_send),
        three(report.from_acknowledgement),
        three(report.create_latency),
    )?;
    let expected = report.created * report.watchers;
    if report.delivered != expected {
        writeln!(
            out,
            "  {} of {expected} events were not delivered",
            expected - report.delivered.min(expected)
        )?;
    }
    out.flush()
}
