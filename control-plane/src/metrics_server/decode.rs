//! Reading a node's `/metrics/resource` (Prometheus' text format) into one batch of
//! points, as metrics-server's decoder does: the node's CPU and memory, and each
//! container's CPU, memory and start time. A sample without a timestamp takes the
//! scrape's time; a node or a pod whose figures are incomplete is left out.

use std::collections::BTreeMap;

use jiff::Timestamp;

/// One measurement of a node or a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsPoint {
    /// When the container started (its CPU counter was zero then); None for a node.
    pub start_time: Option<Timestamp>,
    pub timestamp: Timestamp,
    pub cumulative_cpu_nanoseconds: u64,
    pub memory_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

/// Everything one scrape of a node gave.
#[derive(Debug, Default, PartialEq)]
pub struct NodeBatch {
    pub node: Option<MetricsPoint>,
    pub pods: BTreeMap<PodKey, BTreeMap<String, MetricsPoint>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("failed parsing metrics: line {line}: {problem}")]
pub struct DecodeError {
    line: usize,
    problem: String,
}

/// A point being assembled from its separate series.
#[derive(Clone, Copy, Debug, Default)]
struct PartialPoint {
    start_time: Option<Timestamp>,
    timestamp: Option<Timestamp>,
    cpu_nanoseconds: Option<u64>,
    memory_bytes: Option<u64>,
}

impl PartialPoint {
    /// The point, if it has a timestamp and non-zero CPU and memory: metrics-server
    /// treats a zero as a figure that was not there.
    fn complete(self) -> Option<MetricsPoint> {
        Some(MetricsPoint {
            start_time: self.start_time,
            timestamp: self.timestamp?,
            cumulative_cpu_nanoseconds: self.cpu_nanoseconds.filter(|cpu| *cpu != 0)?,
            memory_bytes: self.memory_bytes.filter(|memory| *memory != 0)?,
        })
    }
}

/// One sample line: `name{label="value",...} value [timestamp]`.
struct Sample<'text> {
    name: &'text str,
    labels: BTreeMap<String, String>,
    value: f64,
    timestamp_milliseconds: Option<i64>,
}

fn parse_labels(text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after_name) = rest
            .split_once('=')
            .ok_or_else(|| format!("a label without a value in {text:?}"))?;
        let mut characters = after_name
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of label {name:?} is not quoted"))?
            .char_indices();
        let mut value = String::new();
        let end = loop {
            match characters.next() {
                Some((index, '"')) => break index,
                Some((_, '\\')) => match characters.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => return Err(format!("label {name:?} ends inside an escape")),
                },
                Some((_, character)) => value.push(character),
                None => return Err(format!("the value of label {name:?} is not closed")),
            }
        };
        labels.insert(name.trim().to_owned(), value);
        rest = &after_name[end + 2..];
    }
}

fn parse_sample(line: &str) -> Result<Sample<'_>, String> {
    let name_end = line
        .find(['{', ' ', '\t'])
        .ok_or_else(|| "a series without a value".to_owned())?;
    let name = &line[..name_end];
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(labelled) => parse_labels(labelled)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("series {name} has no value"))?;
    let value: f64 = value
        .parse()
        .map_err(|_| format!("series {name} has the value {value:?}, which is not a number"))?;
    let timestamp_milliseconds = fields
        .next()
        .map(|timestamp| {
            timestamp
                .parse()
                .map_err(|_| format!("series {name} has the timestamp {timestamp:?}"))
        })
        .transpose()?;
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_milliseconds,
    })
}

/// Seconds (as Prometheus writes them) in nanoseconds; a negative or NaN value is zero.
fn nanoseconds(seconds: f64) -> u64 {
    (seconds * 1e9) as u64
}

/// The metrics of one scrape. `scraped_at` stands in for a sample's missing timestamp.
pub fn decode(text: &str, scraped_at: Timestamp) -> Result<NodeBatch, DecodeError> {
    let mut node = PartialPoint::default();
    let mut containers: BTreeMap<PodKey, BTreeMap<String, PartialPoint>> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_sample(line).map_err(|problem| DecodeError {
            line: index + 1,
            problem,
        })?;
        let timestamp = sample
            .timestamp_milliseconds
            .and_then(|milliseconds| Timestamp::from_millisecond(milliseconds).ok())
            .unwrap_or(scraped_at);
        match sample.name {
            "node_cpu_usage_seconds_total" => {
                node.cpu_nanoseconds = Some(nanoseconds(sample.value));
                node.timestamp = Some(timestamp);
            }
            "node_memory_working_set_bytes" => {
                node.memory_bytes = Some(sample.value as u64);
                node.timestamp = Some(timestamp);
            }
            "container_cpu_usage_seconds_total" => {
                let point = container_point(&mut containers, &sample);
                point.cpu_nanoseconds = Some(nanoseconds(sample.value));
                point.timestamp = Some(timestamp);
            }
            "container_memory_working_set_bytes" => {
                let point = container_point(&mut containers, &sample);
                point.memory_bytes = Some(sample.value as u64);
                point.timestamp = Some(timestamp);
            }
            "container_start_time_seconds" => {
                let point = container_point(&mut containers, &sample);
                point.start_time =
                    Timestamp::from_nanosecond(i128::from(nanoseconds(sample.value))).ok();
            }
            _ => {}
        }
    }
    let pods = containers
        .into_iter()
        .filter_map(|(pod, points)| {
            // One incomplete container leaves its whole pod out, as metrics-server does.
            let complete: Option<BTreeMap<String, MetricsPoint>> = points
                .into_iter()
                .map(|(name, point)| point.complete().map(|point| (name, point)))
                .collect();
            complete.map(|points| (pod, points))
        })
        .collect();
    Ok(NodeBatch {
        node: node.complete(),
        pods,
    })
}

fn container_point<'points>(
    containers: &'points mut BTreeMap<PodKey, BTreeMap<String, PartialPoint>>,
    sample: &Sample<'_>,
) -> &'points mut PartialPoint {
    let label = |name: &str| sample.labels.get(name).cloned().unwrap_or_default();
    containers
        .entry(PodKey {
            namespace: label("namespace"),
            name: label("pod"),
        })
        .or_default()
        .entry(label("container"))
        .or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBELET_TEXT: &str = r#"# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 1.5 1700000010000
container_cpu_usage_seconds_total{container="idle",namespace="default",pod="half"} 0 1700000010000
container_cpu_usage_seconds_total{container="app",namespace="default",pod="half"} 0.5 1700000010000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 65536 1700000010000
container_memory_working_set_bytes{container="idle",namespace="default",pod="half"} 65536 1700000010000
container_memory_working_set_bytes{container="app",namespace="default",pod="half"} 65536 1700000010000
container_start_time_seconds{container="app",namespace="default",pod="web"} 1.7000000005e+09
node_cpu_usage_seconds_total 2.5 1700000009000
node_memory_working_set_bytes 1.048576e+06 1700000009000
scrape_error 0
"#;

    fn time(milliseconds: i64) -> Timestamp {
        Timestamp::from_millisecond(milliseconds).expect("a time")
    }

    #[test]
    fn a_kubelets_text_becomes_node_and_container_points() {
        let batch = decode(KUBELET_TEXT, time(1_700_000_011_000)).expect("it decodes");
        assert_eq!(
            batch.node,
            Some(MetricsPoint {
                start_time: None,
                timestamp: time(1_700_000_009_000),
                cumulative_cpu_nanoseconds: 2_500_000_000,
                memory_bytes: 1_048_576,
            })
        );
        let web = PodKey {
            namespace: "default".to_owned(),
            name: "web".to_owned(),
        };
        assert_eq!(
            batch.pods[&web]["app"],
            MetricsPoint {
                start_time: Some(time(1_700_000_000_500)),
                timestamp: time(1_700_000_010_000),
                cumulative_cpu_nanoseconds: 1_500_000_000,
                memory_bytes: 65536,
            }
        );
        assert_eq!(
            batch.pods.len(),
            1,
            "a pod with a container at zero CPU is left out"
        );
    }

    #[test]
    fn samples_without_timestamps_take_the_scrapes_time_and_escapes_are_read() {
        let text = "node_cpu_usage_seconds_total 1\nnode_memory_working_set_bytes 2\ncontainer_cpu_usage_seconds_total{pod=\"a\\\"b\",namespace=\"x\",container=\"c\"} 1\ncontainer_memory_working_set_bytes{namespace=\"x\",pod=\"a\\\"b\",container=\"c\"} 1\n";
        let batch = decode(text, time(5_000)).expect("it decodes");
        assert_eq!(batch.node.map(|node| node.timestamp), Some(time(5_000)));
        let pod = PodKey {
            namespace: "x".to_owned(),
            name: "a\"b".to_owned(),
        };
        assert_eq!(batch.pods[&pod]["c"].timestamp, time(5_000));
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let error = decode("node_cpu_usage_seconds_total lots\n", time(0)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed parsing metrics: line 1: series node_cpu_usage_seconds_total has the value \"lots\", which is not a number"
        );
        assert!(decode("container_cpu_usage_seconds_total{pod=\"x} 1\n", time(0)).is_err());
    }
}
