//! The kubelet's resource metrics in Prometheus' text format: the same metric names, help
//! texts, labels (sorted by name, as Prometheus' client writes them) and millisecond
//! timestamps, so that anything that reads a kubelet's `/metrics/resource` reads ours.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use jiff::Timestamp;

use super::{ContainerSample, NodeSample};

/// A metric family: its name, kind and help text (with its stability level, as the
/// kubelet's component-base metrics prefix it).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

const CONTAINER_CPU: Family = Family {
    name: "container_cpu_usage_seconds_total",
    kind: "counter",
    help: "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
};
const CONTAINER_MEMORY: Family = Family {
    name: "container_memory_working_set_bytes",
    kind: "gauge",
    help: "[STABLE] Current working set of the container in bytes",
};
const CONTAINER_START_TIME: Family = Family {
    name: "container_start_time_seconds",
    kind: "gauge",
    help: "[STABLE] Start time of the container since unix epoch in seconds",
};
const NODE_CPU: Family = Family {
    name: "node_cpu_usage_seconds_total",
    kind: "counter",
    help: "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
};
const NODE_MEMORY: Family = Family {
    name: "node_memory_working_set_bytes",
    kind: "gauge",
    help: "[STABLE] Current working set of the node in bytes",
};
const POD_CPU: Family = Family {
    name: "pod_cpu_usage_seconds_total",
    kind: "counter",
    help: "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
};
const POD_MEMORY: Family = Family {
    name: "pod_memory_working_set_bytes",
    kind: "gauge",
    help: "[STABLE] Current working set of the pod in bytes",
};
const RESOURCE_SCRAPE_ERROR: Family = Family {
    name: "resource_scrape_error",
    kind: "gauge",
    help: "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
};
const SCRAPE_ERROR: Family = Family {
    name: "scrape_error",
    kind: "gauge",
    help: "[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise",
};

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The lines of one family; a family without samples is left out, as Prometheus'
/// registry leaves it out.
fn family(output: &mut String, family: &Family, samples: &[String]) {
    if samples.is_empty() {
        return;
    }
    let _ = writeln!(output, "# HELP {} {}", family.name, family.help);
    let _ = writeln!(output, "# TYPE {} {}", family.name, family.kind);
    for sample in samples {
        let _ = writeln!(output, "{}{sample}", family.name);
    }
}

fn container_labels(sample: &ContainerSample) -> String {
    format!(
        "{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}}",
        escape(&sample.identity.container),
        escape(&sample.identity.namespace),
        escape(&sample.identity.pod)
    )
}

/// The whole answer of `/metrics/resource`: `node` None means the node's own figures
/// could not be read, which the kubelet reports as a scrape error.
pub fn render(node: Option<NodeSample>, containers: &[ContainerSample], now: Timestamp) -> String {
    let milliseconds = now.as_millisecond();
    let mut pods: BTreeMap<(&str, &str), (Duration, u64)> = BTreeMap::new();
    for sample in containers {
        let pod = pods
            .entry((&sample.identity.namespace, &sample.identity.pod))
            .or_default();
        pod.0 += sample.cpu;
        pod.1 = pod.1.saturating_add(sample.memory_bytes);
    }
    let mut output = String::new();
    let per_container = |value: &dyn Fn(&ContainerSample) -> String| -> Vec<String> {
        containers
            .iter()
            .map(|sample| format!("{} {}", container_labels(sample), value(sample)))
            .collect()
    };
    family(
        &mut output,
        &CONTAINER_CPU,
        &per_container(&|sample| format!("{} {milliseconds}", seconds(sample.cpu))),
    );
    family(
        &mut output,
        &CONTAINER_MEMORY,
        &per_container(&|sample| format!("{} {milliseconds}", sample.memory_bytes)),
    );
    family(
        &mut output,
        &CONTAINER_START_TIME,
        &per_container(&|sample| {
            let nanoseconds = sample.started_at.as_nanosecond();
            // Seconds with their fraction, as the kubelet writes a start time.
            format!("{}", nanoseconds as f64 / 1e9)
        }),
    );
    if let Some(node) = node {
        family(
            &mut output,
            &NODE_CPU,
            &[format!(" {} {milliseconds}", seconds(node.cpu))],
        );
        family(
            &mut output,
            &NODE_MEMORY,
            &[format!(" {} {milliseconds}", node.memory_bytes)],
        );
    }
    let pod_lines = |value: &dyn Fn(&(Duration, u64)) -> String| -> Vec<String> {
        pods.iter()
            .map(|((namespace, pod), usage)| {
                format!(
                    "{{namespace=\"{}\",pod=\"{}\"}} {}",
                    escape(namespace),
                    escape(pod),
                    value(usage)
                )
            })
            .collect()
    };
    family(
        &mut output,
        &POD_CPU,
        &pod_lines(&|usage| format!("{} {milliseconds}", seconds(usage.0))),
    );
    family(
        &mut output,
        &POD_MEMORY,
        &pod_lines(&|usage| format!("{} {milliseconds}", usage.1)),
    );
    let error = if node.is_some() { "0" } else { "1" };
    family(&mut output, &RESOURCE_SCRAPE_ERROR, &[format!(" {error}")]);
    family(&mut output, &SCRAPE_ERROR, &[format!(" {error}")]);
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_usage::ContainerIdentity;

    fn sample(
        pod: &str,
        container: &str,
        cpu_milliseconds: u64,
        memory_bytes: u64,
    ) -> ContainerSample {
        ContainerSample {
            identity: ContainerIdentity {
                namespace: "default".to_owned(),
                pod: pod.to_owned(),
                container: container.to_owned(),
            },
            started_at: Timestamp::from_second(1_700_000_000).expect("a time"),
            cpu: Duration::from_millis(cpu_milliseconds),
            memory_bytes,
        }
    }

    #[test]
    fn the_text_has_the_kubelets_names_labels_and_timestamps() {
        let now = Timestamp::from_millisecond(1_700_000_123_456).expect("a time");
        let node = NodeSample {
            cpu: Duration::from_millis(2500),
            memory_bytes: 1_048_576,
        };
        let text = render(
            Some(node),
            &[
                sample("web", "app", 1500, 65536),
                sample("web", "sidecar", 250, 131072),
            ],
            now,
        );
        let expected = "\
# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web\"} 1.5 1700000123456
container_cpu_usage_seconds_total{container=\"sidecar\",namespace=\"default\",pod=\"web\"} 0.25 1700000123456
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web\"} 65536 1700000123456
container_memory_working_set_bytes{container=\"sidecar\",namespace=\"default\",pod=\"web\"} 131072 1700000123456
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"web\"} 1700000000
container_start_time_seconds{container=\"sidecar\",namespace=\"default\",pod=\"web\"} 1700000000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 2.5 1700000123456
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1048576 1700000123456
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web\"} 1.75 1700000123456
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 196608 1700000123456
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
";
        assert_eq!(text, expected);
    }

    #[test]
    fn without_node_figures_the_scrape_error_is_one_and_label_values_are_escaped() {
        let now = Timestamp::from_millisecond(1_700_000_000_000).expect("a time");
        let text = render(None, &[sample("we\"ird\\pod", "app", 0, 0)], now);
        assert!(text.contains("pod=\"we\\\"ird\\\\pod\""), "{text}");
        assert!(!text.contains("node_cpu_usage_seconds_total"), "{text}");
        assert!(text.contains("\nscrape_error 1\n"), "{text}");
    }
}
