//! Request counters and latency histograms in the Prometheus text format, named as the
//! Kubernetes API server names them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};

const LATENCY_BUCKETS_SECONDS: &[f64] =
    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum_seconds: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latencies: Mutex<BTreeMap<String, Histogram>>,
}

/// The metric's resource label: the path segment after the group version, ignoring the
/// namespace, e.g. "pods" for /api/v1/namespaces/default/pods/p.
fn resource_label(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return String::new(),
    };
    match rest {
        ["namespaces", _, resource, ..] => (*resource).to_owned(),
        [resource, ..] => (*resource).to_owned(),
        [] => String::new(),
    }
}

impl Metrics {
    pub fn observe_request(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let verb = method.as_str().to_owned();
        let resource = resource_label(path);
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((verb.clone(), resource, status.as_u16()))
                .or_default() += 1;
        }
        if let Ok(mut latencies) = self.latencies.lock() {
            let histogram = latencies.entry(verb).or_default();
            if histogram.buckets.is_empty() {
                histogram.buckets = vec![0; LATENCY_BUCKETS_SECONDS.len()];
            }
            let seconds = elapsed.as_secs_f64();
            for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS_SECONDS) {
                if seconds <= *bound {
                    *bucket += 1;
                }
            }
            histogram.sum_seconds += seconds;
            histogram.count += 1;
        }
    }

    pub fn render(&self, current_revision: u64, compacted_revision: u64) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code."
        );
        let _ = writeln!(text, "# TYPE apiserver_request_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((verb, resource, code), count) in requests.iter() {
                let _ = writeln!(
                    text,
                    "apiserver_request_total{{verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\"}} {count}"
                );
            }
        }
        let _ = writeln!(
            text,
            "# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb."
        );
        let _ = writeln!(text, "# TYPE apiserver_request_duration_seconds histogram");
        if let Ok(latencies) = self.latencies.lock() {
            for (verb, histogram) in latencies.iter() {
                for (bucket, bound) in histogram.buckets.iter().zip(LATENCY_BUCKETS_SECONDS) {
                    let _ = writeln!(
                        text,
                        "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"{bound}\"}} {bucket}"
                    );
                }
                let _ = writeln!(
                    text,
                    "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(
                    text,
                    "apiserver_request_duration_seconds_sum{{verb=\"{verb}\"}} {}",
                    histogram.sum_seconds
                );
                let _ = writeln!(
                    text,
                    "apiserver_request_duration_seconds_count{{verb=\"{verb}\"}} {}",
                    histogram.count
                );
            }
        }
        let _ = writeln!(
            text,
            "# HELP wasmkube_store_revision The store's current revision.\n# TYPE wasmkube_store_revision gauge\nwasmkube_store_revision {current_revision}"
        );
        let _ = writeln!(
            text,
            "# HELP wasmkube_store_compacted_revision The newest revision compaction removed.\n# TYPE wasmkube_store_compacted_revision gauge\nwasmkube_store_compacted_revision {compacted_revision}"
        );
        text
    }
}
