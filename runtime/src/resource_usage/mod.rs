//! The resource usage this node reports, as the kubelet's `/metrics/resource` does: for
//! every running container its cumulative CPU time and the memory its guest holds, their
//! sums per pod, and the node's own figures. The API server's metrics.k8s.io (what
//! metrics-server is in Kubernetes) scrapes it for `kubectl top` and the autoscaler.
//!
//! A container is reported while its guest runs: the pod worker registers each run when it
//! starts the guest, and the registration goes away with the guest's task, whether the
//! guest exited or was stopped.

mod prometheus;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::Timestamp;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::limits::cpu::CpuUsage;
use crate::limits::memory::MemoryUsage;

/// Prometheus' text exposition format, as the kubelet answers it.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which container a run belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContainerIdentity {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

struct RunningContainer {
    identity: ContainerIdentity,
    started_at: Timestamp,
    cpu: Arc<CpuUsage>,
    /// The container's CPU counter when this run started: the counter lives as long as
    /// the container, but a run's figure starts from zero, as a new cgroup's does.
    cpu_at_start: Duration,
    memory: Arc<MemoryUsage>,
}

#[derive(Default)]
struct RunningContainers {
    next_id: u64,
    by_id: BTreeMap<u64, RunningContainer>,
}

/// The node's running containers, shared by the pod workers (which register runs) and
/// the node endpoint (which reports them).
#[derive(Clone, Default)]
pub struct ResourceUsageRegistry {
    running: Arc<Mutex<RunningContainers>>,
}

/// One run's place in the registry; dropping it (with the guest's task) removes the run.
pub struct UsageRegistration {
    running: Arc<Mutex<RunningContainers>>,
    id: u64,
}

impl Drop for UsageRegistration {
    fn drop(&mut self) {
        lock(&self.running).by_id.remove(&self.id);
    }
}

fn lock(running: &Mutex<RunningContainers>) -> MutexGuard<'_, RunningContainers> {
    running.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one running container has used, at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSample {
    pub identity: ContainerIdentity,
    pub started_at: Timestamp,
    pub cpu: Duration,
    pub memory_bytes: u64,
}

/// The node's own figures: those of the agent's process, which runs every guest (and,
/// under `wasmkube up`, the control plane too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeSample {
    pub cpu: Duration,
    pub memory_bytes: u64,
}

impl ResourceUsageRegistry {
    /// Registers a container's run that starts now, with the counters its guest updates.
    pub fn register(
        &self,
        identity: ContainerIdentity,
        cpu: Arc<CpuUsage>,
        memory: Arc<MemoryUsage>,
    ) -> UsageRegistration {
        let mut running = lock(&self.running);
        let id = running.next_id;
        running.next_id += 1;
        running.by_id.insert(
            id,
            RunningContainer {
                identity,
                started_at: Timestamp::now(),
                cpu_at_start: cpu.used(),
                cpu,
                memory,
            },
        );
        UsageRegistration {
            running: Arc::clone(&self.running),
            id,
        }
    }

    /// Every running container's usage now, ordered by namespace, pod and container.
    pub fn containers(&self) -> Vec<ContainerSample> {
        let mut samples: Vec<ContainerSample> = lock(&self.running)
            .by_id
            .values()
            .map(|running| ContainerSample {
                identity: running.identity.clone(),
                started_at: running.started_at,
                cpu: running.cpu.used().saturating_sub(running.cpu_at_start),
                memory_bytes: running.memory.bytes(),
            })
            .collect();
        samples.sort_by(|left, right| left.identity.cmp(&right.identity));
        samples
    }
}

/// The agent process's CPU time and resident memory, or None where the system does not
/// tell them.
pub fn node_sample() -> Option<NodeSample> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new().ok()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory().with_cpu(),
    );
    let process = system.process(pid)?;
    Some(NodeSample {
        cpu: Duration::from_millis(process.accumulated_cpu_time()),
        memory_bytes: process.memory(),
    })
}

async fn resource_metrics(State(registry): State<ResourceUsageRegistry>) -> impl IntoResponse {
    // Reading the process's figures reads /proc: a blocking call, however short.
    let node = tokio::task::spawn_blocking(node_sample)
        .await
        .ok()
        .flatten();
    let text = prometheus::render(node, &registry.containers(), Timestamp::now());
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], text)
}

/// The kubelet's `/metrics/resource` route.
pub fn routes(registry: ResourceUsageRegistry) -> Router {
    Router::new()
        .route("/metrics/resource", get(resource_metrics))
        .with_state(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(pod: &str, container: &str) -> ContainerIdentity {
        ContainerIdentity {
            namespace: "default".to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
        }
    }

    #[test]
    fn a_run_is_reported_until_its_registration_is_dropped() {
        let registry = ResourceUsageRegistry::default();
        let memory = Arc::new(MemoryUsage::default());
        let web = registry.register(
            identity("web", "app"),
            Arc::new(CpuUsage::default()),
            Arc::clone(&memory),
        );
        let api = registry.register(
            identity("api", "app"),
            Arc::new(CpuUsage::default()),
            Arc::new(MemoryUsage::default()),
        );
        let pods: Vec<String> = registry
            .containers()
            .into_iter()
            .map(|sample| sample.identity.pod)
            .collect();
        assert_eq!(pods, ["api", "web"]);
        drop(web);
        let remaining = registry.containers();
        assert_eq!(remaining.len(), 1);
        assert_eq!(remaining[0].identity, identity("api", "app"));
        drop(api);
        assert!(registry.containers().is_empty());
    }

    #[test]
    fn the_node_sample_is_the_processs_own() {
        let sample = node_sample().expect("this test's process has figures");
        assert!(sample.memory_bytes > 0, "{sample:?}");
    }
}
