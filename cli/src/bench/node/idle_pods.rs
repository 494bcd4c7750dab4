//! Idle pods per node: pods running `testbox sleep-forever` are started in batches up to
//! a target, and the resident memory of the node agent's process (and of the API
//! server's, when it runs apart) is read as they accumulate.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::join_all;

use super::cluster::{BenchCluster, sleeping_pod};
use super::memory::MemorySample;
use super::running_watch::RunningWatch;
use super::startup::POD_START_TIMEOUT;

pub struct IdleLoad {
    /// Pods to reach, counting the first one, which compiles the module.
    pub target: usize,
    /// Pods created at once; each batch runs before the next is created.
    pub batch: usize,
    /// A checkpoint is reported each time this many more pods run.
    pub report_every: usize,
    pub name_prefix: String,
    pub image: String,
}

/// The state after some number of pods run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdleCheckpoint {
    pub running: usize,
    /// Since the first pod was running.
    pub elapsed: Duration,
    pub memory: MemorySample,
    /// The memory with the first pod running and its module compiled.
    pub baseline: MemorySample,
}

impl IdleCheckpoint {
    /// The node agent's process's memory per pod beyond the first, in bytes; `None`
    /// before there is one.
    pub fn agent_bytes_per_pod(&self) -> Option<f64> {
        self.per_added_pod(self.baseline.agent_bytes, self.memory.agent_bytes)
    }

    /// The node agent's process's proportional set size per pod beyond the first, where
    /// the system reports it.
    pub fn agent_proportional_bytes_per_pod(&self) -> Option<f64> {
        self.per_added_pod(
            self.baseline.agent_proportional_bytes?,
            self.memory.agent_proportional_bytes?,
        )
    }

    /// The API server's memory per pod beyond the first, when it runs apart.
    pub fn server_bytes_per_pod(&self) -> Option<f64> {
        self.per_added_pod(self.baseline.server_bytes?, self.memory.server_bytes?)
    }

    fn per_added_pod(&self, baseline: u64, now: u64) -> Option<f64> {
        let added = self.running.checked_sub(1).filter(|added| *added > 0)?;
        Some((now as f64 - baseline as f64) / added as f64)
    }
}

pub struct IdleReport {
    pub target: usize,
    pub last: IdleCheckpoint,
    /// Why fewer than the target run, if they do.
    pub stopped_by: Option<String>,
}

/// Starts pods until `load.target` run or one does not start; `checkpoint` is called
/// with the first pod, every `load.report_every` pods and at the end.
pub async fn run(
    cluster: &BenchCluster,
    watch: &RunningWatch,
    load: &IdleLoad,
    mut checkpoint: impl FnMut(&IdleCheckpoint) -> anyhow::Result<()>,
) -> anyhow::Result<IdleReport> {
    let pods = &cluster.pods;
    let first = sleeping_pod(&format!("{}0", load.name_prefix), &load.image)?;
    watch
        .create_and_wait(pods, &first, POD_START_TIMEOUT)
        .await
        .context("the first idle pod does not run")?;
    let baseline = cluster.memory()?;
    let started = Instant::now();
    let measure = |running: usize| -> anyhow::Result<IdleCheckpoint> {
        Ok(IdleCheckpoint {
            running,
            elapsed: started.elapsed(),
            memory: cluster.memory()?,
            baseline,
        })
    };
    let mut running = 1;
    let mut last = measure(running)?;
    checkpoint(&last)?;
    let mut stopped_by = None;
    while running < load.target && stopped_by.is_none() {
        let batch = load.batch.clamp(1, load.target - running);
        let created = (running..running + batch).map(|index| async move {
            let pod = sleeping_pod(&format!("{}{index}", load.name_prefix), &load.image)?;
            watch.create_and_wait(pods, &pod, POD_START_TIMEOUT).await
        });
        for result in join_all(created).await {
            match result {
                Ok(_) => running += 1,
                Err(error) if stopped_by.is_none() => stopped_by = Some(format!("{error:#}")),
                Err(_) => {}
            }
        }
        let report_every = load.report_every.max(1);
        let crossed_a_report = running / report_every != last.running / report_every;
        if crossed_a_report || running >= load.target || stopped_by.is_some() {
            last = measure(running)?;
            checkpoint(&last)?;
        }
    }
    Ok(IdleReport {
        target: load.target,
        last,
        stopped_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_per_pod_counts_the_pods_after_the_first() {
        let checkpoint = |running, server_bytes| IdleCheckpoint {
            running,
            elapsed: Duration::ZERO,
            memory: MemorySample {
                agent_bytes: 100 + 9 * 50,
                agent_proportional_bytes: Some(90 + 9 * 40),
                agent_mappings: None,
                server_bytes,
            },
            baseline: MemorySample {
                agent_bytes: 100,
                agent_proportional_bytes: Some(90),
                agent_mappings: None,
                server_bytes: server_bytes.map(|_| 1000),
            },
        };
        assert_eq!(checkpoint(10, None).agent_bytes_per_pod(), Some(50.0));
        assert_eq!(
            checkpoint(10, None).agent_proportional_bytes_per_pod(),
            Some(40.0)
        );
        assert_eq!(checkpoint(10, None).server_bytes_per_pod(), None);
        assert_eq!(
            checkpoint(10, Some(1000 + 9 * 20)).server_bytes_per_pod(),
            Some(20.0)
        );
        assert_eq!(checkpoint(1, None).agent_bytes_per_pod(), None);
        assert_eq!(checkpoint(0, None).agent_bytes_per_pod(), None);
    }
}
