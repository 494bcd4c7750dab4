//! What the network benchmark computes from its runs: medians over rounds, the cost of
//! one way of reaching a server relative to another, and transfer rates read from
//! `testbox tcp-sink`'s report.

use std::time::Duration;

use super::requests::{ConnectionMode, EchoTarget, RequestReport};

const MEBIBYTE: f64 = 1024.0 * 1024.0;

/// The median of `values` (the mean of the middle two for an even count), or None for
/// no values. NaNs sort last.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        length if length % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// How much more time per request `measured` takes than `baseline`, in percent, from
/// their requests per second: +20 means a request costs a fifth more.
pub fn added_cost_percent(measured_per_second: f64, baseline_per_second: f64) -> f64 {
    (baseline_per_second / measured_per_second - 1.0) * 100.0
}

/// A transfer as `testbox tcp-sink` reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transfer {
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Transfer {
    pub fn mebibytes_per_second(&self) -> f64 {
        self.bytes as f64 / MEBIBYTE / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Reads the line `received BYTES bytes in SECONDS s` from `tcp-sink`'s output, which
/// may hold other lines (a container log's, say).
pub fn parse_sink_report(output: &str) -> Option<Transfer> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("received ")?;
        let (bytes, rest) = rest.split_once(" bytes in ")?;
        let seconds = rest.strip_suffix(" s")?;
        let seconds: f64 = seconds.parse().ok()?;
        Some(Transfer {
            bytes: bytes.parse().ok()?,
            elapsed: Duration::try_from_secs_f64(seconds).ok()?,
        })
    })
}

/// The medians over rounds of one target reached in one connection mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EchoSummary {
    pub target: EchoTarget,
    pub mode: ConnectionMode,
    pub rounds: usize,
    /// Failed requests over every round.
    pub failed: usize,
    /// Answered requests per second.
    pub requests_per_second: f64,
    /// Nanoseconds, over the rounds in which some request was answered (None when none
    /// was).
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// The added time per request over the next more direct way in (the Service over
    /// the pod IP, the pod IP over native), when both answered requests.
    pub added_cost_percent: Option<f64>,
}

/// The way in that `target` is compared with: one hop less.
fn baseline_of(target: EchoTarget) -> Option<EchoTarget> {
    match target {
        EchoTarget::Service => Some(EchoTarget::PodIp),
        EchoTarget::PodIp => Some(EchoTarget::Native),
        EchoTarget::Native => None,
    }
}

/// Medians per target and mode, in the order of target then mode.
pub fn summarize(reports: &[RequestReport]) -> Vec<EchoSummary> {
    let mut keys: Vec<(EchoTarget, ConnectionMode)> = reports
        .iter()
        .map(|report| (report.target, report.mode))
        .collect();
    keys.sort();
    keys.dedup();
    let mut summaries: Vec<EchoSummary> = keys
        .into_iter()
        .filter_map(|(target, mode)| {
            let runs: Vec<&RequestReport> = reports
                .iter()
                .filter(|report| report.target == target && report.mode == mode)
                .collect();
            let answered = |report: &&&RequestReport| report.latency.count > 0;
            let of = |value: fn(&RequestReport) -> f64, only_answered: bool| {
                let values: Vec<f64> = runs
                    .iter()
                    .filter(|report| !only_answered || answered(report))
                    .map(|report| value(report))
                    .collect();
                median(&values)
            };
            Some(EchoSummary {
                target,
                mode,
                rounds: runs.len(),
                failed: runs.iter().map(|report| report.failed).sum(),
                requests_per_second: of(RequestReport::requests_per_second, false)?,
                p50: of(|report| report.latency.p50 as f64, true),
                p99: of(|report| report.latency.p99 as f64, true),
                added_cost_percent: None,
            })
        })
        .collect();
    let rates: Vec<(EchoTarget, ConnectionMode, f64)> = summaries
        .iter()
        .map(|summary| (summary.target, summary.mode, summary.requests_per_second))
        .collect();
    for summary in &mut summaries {
        let measured = summary.requests_per_second;
        summary.added_cost_percent = baseline_of(summary.target).and_then(|baseline| {
            rates
                .iter()
                .find(|(target, mode, _)| *target == baseline && *mode == summary.mode)
                .filter(|(_, _, rate)| *rate > 0.0 && measured > 0.0)
                .map(|(_, _, rate)| added_cost_percent(measured, *rate))
        });
    }
    summaries
}
