//! The node benchmark's tables, one row printed as each measurement ends.

use std::io::Write;
use std::time::Duration;

use wasmkube_runtime::guest::PoolSizing;

use super::super::samples::milliseconds;
use super::cpu_limits::CpuLimitReport;
use super::deployment::DeploymentReport;
use super::fuel::FuelReport;
use super::idle_pods::{IdleCheckpoint, IdleReport};
use super::startup::StartupReport;

const MEBIBYTE: f64 = 1024.0 * 1024.0;

pub fn startup_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Pod start-up: create (HTTPS) -> phase Running seen on a watch; one node, module cached"
    )?;
    writeln!(
        out,
        "{:>11} {:>6} {:>8} {:>7} | {:>8} {:>8} {:>8} {:>8} | {:>11}",
        "concurrency",
        "pods",
        "seconds",
        "pods/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "201 p50 ms"
    )
}

pub fn startup_row(out: &mut impl Write, report: &StartupReport) -> std::io::Result<()> {
    let latency = report.to_running;
    writeln!(
        out,
        "{:>11} {:>6} {:>8.2} {:>7.0} | {:>8} {:>8} {:>8} {:>8} | {:>11}",
        report.concurrency,
        report.pods,
        report.elapsed.as_secs_f64(),
        report.pods as f64 / report.elapsed.as_secs_f64(),
        milliseconds(latency.p50),
        milliseconds(latency.p90),
        milliseconds(latency.p99),
        milliseconds(latency.max),
        milliseconds(report.to_acknowledged.p50),
    )?;
    out.flush()
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

pub fn fuel_header(out: &mut impl Write, rounds: usize, pool: &PoolSizing) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Fuel metering: the same work with fuel and a yield every slice (the node's engine) and without fuel; median of {rounds} runs each"
    )?;
    let bounds = if pool.bounds_checked() {
        "compiled code checks bounds"
    } else {
        "no bounds checks"
    };
    writeln!(
        out,
        "memory slots of {:.0} MiB: {bounds}",
        pool.memory_reservation_bytes as f64 / MEBIBYTE
    )?;
    writeln!(
        out,
        "{:>26} | {:>9} {:>9} | {:>9} {:>9} | {:>9}",
        "", "fuel", "", "no fuel", "", ""
    )?;
    writeln!(
        out,
        "{:>26} | {:>9} {:>9} | {:>9} {:>9} | {:>9} | guest printed",
        "work", "wall s", "CPU s", "wall s", "CPU s", "overhead"
    )
}

pub fn fuel_row(out: &mut impl Write, report: &FuelReport) -> std::io::Result<()> {
    let work = report.work.argv()[1..].join(" ");
    writeln!(
        out,
        "{work:>26} | {:>9} {:>9} | {:>9} {:>9} | {:>+8.1}% | {}",
        seconds(report.metered.wall),
        seconds(report.metered.cpu),
        seconds(report.unmetered.wall),
        seconds(report.unmetered.cpu),
        report.overhead() * 100.0,
        report.output,
    )?;
    out.flush()
}

pub fn cpu_limit_header(out: &mut impl Write, duration: Duration) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "CPU limits: testbox spin-for {}, alone, share of a core = CPU time / wall time",
        duration.as_secs_f64()
    )?;
    writeln!(
        out,
        "{:>6} {:>10} {:>8} {:>8} {:>7} {:>7} {:>10}",
        "limit", "enforced", "wall s", "CPU s", "share", "error", "throttled"
    )
}

pub fn cpu_limit_row(out: &mut impl Write, report: &CpuLimitReport) -> std::io::Result<()> {
    let enforced = report.quota.map_or_else(
        || "none".to_owned(),
        |quota| format!("{}m", quota.millicores),
    );
    writeln!(
        out,
        "{:>6} {enforced:>10} {:>8} {:>8} {:>7.3} {:>+6.1}% {:>10}",
        format!("{}m", report.millicores),
        seconds(report.wall),
        seconds(report.cpu),
        report.share(),
        report.error() * 100.0,
        report.throttled_periods,
    )?;
    out.flush()
}

pub fn idle_header(out: &mut impl Write, target: usize, batch: usize) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Idle pods: testbox sleep-forever, {target} pods in batches of {batch}; memory of the node agent's process (RSS and PSS) and of the API server's (RSS), with KiB per pod after the first, and the agent's memory mappings"
    )?;
    writeln!(
        out,
        "{:>8} {:>8} {:>7} | {:>13} {:>8} | {:>13} {:>8} | {:>14} {:>8} | {:>8}",
        "running",
        "seconds",
        "pods/s",
        "agent RSS MiB",
        "KiB/pod",
        "agent PSS MiB",
        "KiB/pod",
        "server RSS MiB",
        "KiB/pod",
        "mappings"
    )
}

/// Bytes in MiB, one decimal; "-" when not measured.
fn mebibytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".to_owned(),
        |bytes| format!("{:.1}", bytes as f64 / MEBIBYTE),
    )
}

/// Bytes in KiB, one decimal; "-" when not measured.
fn kibibytes(bytes: Option<f64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |bytes| format!("{:.1}", bytes / 1024.0))
}

pub fn idle_row(out: &mut impl Write, checkpoint: &IdleCheckpoint) -> std::io::Result<()> {
    let seconds = checkpoint.elapsed.as_secs_f64();
    let added = checkpoint.running.saturating_sub(1);
    let pace = if seconds > 0.0 {
        added as f64 / seconds
    } else {
        0.0
    };
    writeln!(
        out,
        "{:>8} {seconds:>8.1} {pace:>7.0} | {:>13} {:>8} | {:>13} {:>8} | {:>14} {:>8} | {:>8}",
        checkpoint.running,
        mebibytes(Some(checkpoint.memory.agent_bytes)),
        kibibytes(checkpoint.agent_bytes_per_pod()),
        mebibytes(checkpoint.memory.agent_proportional_bytes),
        kibibytes(checkpoint.agent_proportional_bytes_per_pod()),
        mebibytes(checkpoint.memory.server_bytes),
        kibibytes(checkpoint.server_bytes_per_pod()),
        checkpoint
            .memory
            .agent_mappings
            .map_or_else(|| "-".to_owned(), |mappings| mappings.to_string()),
    )?;
    out.flush()
}

pub fn idle_summary(out: &mut impl Write, report: &IdleReport) -> std::io::Result<()> {
    let last = &report.last;
    let reached = if last.running >= report.target {
        "reached"
    } else {
        "NOT reached"
    };
    writeln!(
        out,
        "target of {} pods {reached}: {} running after {:.1} s",
        report.target,
        last.running,
        last.elapsed.as_secs_f64(),
    )?;
    if let Some(reason) = &report.stopped_by {
        writeln!(out, "stopped: {reason}")?;
    }
    out.flush()
}

pub fn deployment_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Deployments: create -> every replica Running on a watch; controller manager, scheduler and one node in this process, module cached; seconds since the create was sent"
    )?;
    writeln!(
        out,
        "{:>8} | {:>7} {:>9} {:>11} {:>9} {:>11} {:>11} | {:>7}",
        "replicas", "201", "1st run", "all created", "all bound", "half run", "all run", "pods/s"
    )
}

pub fn deployment_row(out: &mut impl Write, report: &DeploymentReport) -> std::io::Result<()> {
    let seconds = |duration: Duration| duration.as_secs_f64();
    writeln!(
        out,
        "{:>8} | {:>7.3} {:>9.3} {:>11.3} {:>9.3} {:>11.3} {:>11.3} | {:>7.0}",
        report.replicas,
        seconds(report.acknowledged),
        seconds(report.first_running),
        seconds(report.all_created),
        seconds(report.all_bound),
        seconds(report.half_running),
        seconds(report.all_running),
        report.pods_per_second(),
    )?;
    out.flush()
}
