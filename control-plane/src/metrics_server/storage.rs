//! The last two points of every node and container, kept as metrics-server keeps them,
//! and the usage they give: CPU as the rate between the two points, memory as the last
//! point's. A point replaces the last only when it is newer; a container that restarted
//! (its start time is after the last point) starts over, since its counter did.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use jiff::Timestamp;

use super::decode::{MetricsPoint, NodeBatch, PodKey};

/// A fresh container's start counts as its first point (at zero CPU) when its first real
/// point comes at least this long after the start, as metrics-server does: nearer the
/// start the rate would be too rough.
const FRESH_CONTAINER_MINIMUM_WINDOW: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
struct Points {
    last: MetricsPoint,
    previous: Option<MetricsPoint>,
}

#[derive(Debug)]
struct NodeRecord {
    node: Option<Points>,
    pods: BTreeMap<PodKey, BTreeMap<String, Points>>,
}

/// What a node or a container used over its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

/// When a usage was measured and over how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeInfo {
    pub timestamp: Timestamp,
    pub window: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodUsage {
    pub time: TimeInfo,
    /// By container name.
    pub containers: Vec<(String, Usage)>,
}

/// The metrics of every scraped node, shared by the scraper (which writes them) and the
/// metrics.k8s.io handlers (which read them).
#[derive(Debug)]
pub struct ResourceMetrics {
    /// The scrape interval: a fresh container's start is used as a point only within it.
    resolution: Duration,
    nodes: RwLock<BTreeMap<String, NodeRecord>>,
}

fn elapsed(from: Timestamp, to: Timestamp) -> Option<Duration> {
    Duration::try_from(to.duration_since(from)).ok()
}

/// The usage between two points, or None if they cannot give one (the counter went
/// backwards or no time passed).
fn usage(last: &MetricsPoint, previous: &MetricsPoint) -> Option<(Usage, TimeInfo)> {
    if last.start_time < previous.start_time {
        return None;
    }
    let used = last
        .cumulative_cpu_nanoseconds
        .checked_sub(previous.cumulative_cpu_nanoseconds)?;
    let window = elapsed(previous.timestamp, last.timestamp).filter(|window| !window.is_zero())?;
    let rate = used as f64 / window.as_secs_f64();
    Some((
        Usage {
            cpu_nanocores: rate as u64,
            memory_bytes: last.memory_bytes,
        },
        TimeInfo {
            timestamp: last.timestamp,
            window,
        },
    ))
}

/// The previous point of a node after `new` arrives, given what was stored.
fn next_node_previous(new: &MetricsPoint, stored: Option<&Points>) -> Option<MetricsPoint> {
    let stored = stored?;
    if new.timestamp > stored.last.timestamp {
        return Some(stored.last);
    }
    stored
        .previous
        .filter(|previous| previous.timestamp < new.timestamp)
}

impl ResourceMetrics {
    pub fn new(resolution: Duration) -> ResourceMetrics {
        ResourceMetrics {
            resolution,
            nodes: RwLock::new(BTreeMap::new()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, NodeRecord>> {
        self.nodes.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, NodeRecord>> {
        self.nodes.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The previous point of a container after `new` arrives.
    fn next_container_previous(
        &self,
        new: &MetricsPoint,
        stored: Option<&Points>,
    ) -> Option<MetricsPoint> {
        if let Some(start_time) = new.start_time
            && let Some(since_start) = elapsed(start_time, new.timestamp)
            && since_start < self.resolution
            && since_start >= FRESH_CONTAINER_MINIMUM_WINDOW
        {
            return Some(MetricsPoint {
                timestamp: start_time,
                cumulative_cpu_nanoseconds: 0,
                ..*new
            });
        }
        let stored = stored?;
        // A start after the stored point is a restart: the old points are of another run.
        let same_run = new
            .start_time
            .is_none_or(|start_time| start_time < stored.last.timestamp);
        if !same_run {
            return None;
        }
        next_node_previous(new, Some(stored))
    }

    /// Stores one node's scrape, replacing what it reported before: pods it no longer
    /// reports are gone.
    pub fn store(&self, node_name: &str, batch: NodeBatch) {
        let mut nodes = self.write();
        let stored = nodes.get(node_name);
        let node = batch.node.map(|last| Points {
            last,
            previous: next_node_previous(&last, stored.and_then(|record| record.node.as_ref())),
        });
        let pods = batch
            .pods
            .into_iter()
            .map(|(pod, containers)| {
                let stored_pod = stored.and_then(|record| record.pods.get(&pod));
                let containers = containers
                    .into_iter()
                    .map(|(name, last)| {
                        let previous = self.next_container_previous(
                            &last,
                            stored_pod.and_then(|containers| containers.get(&name)),
                        );
                        (name, Points { last, previous })
                    })
                    .collect();
                (pod, containers)
            })
            .collect();
        nodes.insert(node_name.to_owned(), NodeRecord { node, pods });
    }

    /// Forgets every node not in `scraped`: a node that is gone, not Ready, or failed
    /// its scrape has no current metrics.
    pub fn retain_nodes(&self, scraped: &BTreeSet<String>) {
        self.write().retain(|name, _| scraped.contains(name));
    }

    pub fn node_usage(&self, node_name: &str) -> Option<(Usage, TimeInfo)> {
        let nodes = self.read();
        let points = nodes.get(node_name)?.node?;
        usage(&points.last, &points.previous?)
    }

    /// A pod's usage per container, if every container it reported has two points.
    pub fn pod_usage(&self, pod: &PodKey) -> Option<PodUsage> {
        let nodes = self.read();
        let containers = nodes.values().find_map(|record| record.pods.get(pod))?;
        let mut earliest: Option<TimeInfo> = None;
        let mut usages = Vec::new();
        for (name, points) in containers {
            let previous = points.previous?;
            // A counter that went backwards leaves this container out, not the pod.
            let Some((container_usage, time)) = usage(&points.last, &previous) else {
                continue;
            };
            usages.push((name.clone(), container_usage));
            if earliest.is_none_or(|earliest| time.timestamp < earliest.timestamp) {
                earliest = Some(time);
            }
        }
        Some(PodUsage {
            time: earliest?,
            containers: usages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("a time")
    }

    fn point(seconds: i64, cpu_seconds: u64, start: Option<i64>) -> MetricsPoint {
        MetricsPoint {
            start_time: start.map(time),
            timestamp: time(seconds),
            cumulative_cpu_nanoseconds: cpu_seconds * 1_000_000_000,
            memory_bytes: 1024 * (seconds as u64),
        }
    }

    fn web() -> PodKey {
        PodKey {
            namespace: "default".to_owned(),
            name: "web".to_owned(),
        }
    }

    fn batch(node: MetricsPoint, containers: &[(&str, MetricsPoint)]) -> NodeBatch {
        NodeBatch {
            node: Some(node),
            pods: [(
                web(),
                containers
                    .iter()
                    .map(|(name, point)| ((*name).to_owned(), *point))
                    .collect(),
            )]
            .into(),
        }
    }

    #[test]
    fn usage_needs_two_points_and_is_the_rate_between_them() {
        let metrics = ResourceMetrics::new(Duration::from_secs(5));
        metrics.store(
            "node-1",
            batch(point(100, 10, None), &[("app", point(100, 1, Some(90)))]),
        );
        assert_eq!(metrics.node_usage("node-1"), None);
        assert_eq!(metrics.pod_usage(&web()), None);
        metrics.store(
            "node-1",
            batch(point(105, 20, None), &[("app", point(104, 3, Some(90)))]),
        );
        assert_eq!(
            metrics.node_usage("node-1"),
            Some((
                Usage {
                    cpu_nanocores: 2_000_000_000,
                    memory_bytes: 105 * 1024
                },
                TimeInfo {
                    timestamp: time(105),
                    window: Duration::from_secs(5)
                }
            ))
        );
        let pod = metrics.pod_usage(&web()).expect("two points");
        assert_eq!(
            pod.containers,
            [(
                "app".to_owned(),
                Usage {
                    cpu_nanocores: 500_000_000,
                    memory_bytes: 104 * 1024
                }
            )]
        );
        assert_eq!(pod.time.window, Duration::from_secs(4));
    }

    #[test]
    fn a_restarted_container_starts_over_and_a_pod_needs_all_its_containers() {
        let metrics = ResourceMetrics::new(Duration::from_secs(5));
        metrics.store(
            "node-1",
            batch(point(100, 10, None), &[("app", point(100, 5, Some(90)))]),
        );
        metrics.store(
            "node-1",
            batch(point(105, 11, None), &[("app", point(105, 6, Some(90)))]),
        );
        assert!(metrics.pod_usage(&web()).is_some());
        metrics.store(
            "node-1",
            batch(
                point(110, 12, None),
                &[
                    ("app", point(110, 1, Some(107))),
                    ("sidecar", point(110, 1, Some(90))),
                ],
            ),
        );
        assert_eq!(metrics.pod_usage(&web()), None);
        metrics.store(
            "node-1",
            batch(point(115, 13, None), &[("app", point(115, 2, Some(107)))]),
        );
        assert!(metrics.pod_usage(&web()).is_some());
    }

    #[test]
    fn a_fresh_containers_start_is_its_first_point_within_the_resolution() {
        let metrics = ResourceMetrics::new(Duration::from_secs(30));
        metrics.store(
            "node-1",
            batch(point(100, 10, None), &[("app", point(100, 6, Some(88)))]),
        );
        let pod = metrics.pod_usage(&web()).expect("the start stands in");
        assert_eq!(pod.containers[0].1.cpu_nanocores, 500_000_000);
        assert_eq!(pod.time.window, Duration::from_secs(12));
    }

    #[test]
    fn nodes_not_scraped_are_forgotten() {
        let metrics = ResourceMetrics::new(Duration::from_secs(5));
        for seconds in [100, 105] {
            metrics.store("node-1", batch(point(seconds, 1, None), &[]));
            metrics.store("node-2", batch(point(seconds, 1, None), &[]));
        }
        metrics.retain_nodes(&["node-2".to_owned()].into());
        assert_eq!(metrics.node_usage("node-1"), None);
        assert!(metrics.node_usage("node-2").is_some());
    }
}
