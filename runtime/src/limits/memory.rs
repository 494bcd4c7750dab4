//! The memory limit: a container's linear memories and tables together may not grow
//! past `limits.memory`, and all containers of the node together may not grow past the
//! node's memory (the [`NodeMemory`] pool, where the node's OOM killer acts).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;
use wasmtime::ResourceLimiterAsync;

use super::node_memory::NodeMemory;

/// Each table element is a pointer-sized reference on the host.
const BYTES_PER_TABLE_ELEMENT: u64 = 8;

/// The error that ends a guest whose memory would grow past its limit. Returning an
/// error (rather than refusing the growth) stops the guest at once, as the kernel's OOM
/// killer stops a process, instead of letting it limp on with a failed allocation.
#[derive(Debug, thiserror::Error)]
#[error(
    "the container's memory limit of {limit_bytes} bytes was exceeded: growing to {requested_bytes} bytes"
)]
pub struct MemoryLimitExceeded {
    pub limit_bytes: u64,
    pub requested_bytes: u64,
}

/// The error that ends a guest chosen by the node's OOM killer.
#[derive(Debug, thiserror::Error)]
#[error("the node ran out of memory and its OOM killer chose this container")]
pub struct KilledBySystemOom;

/// Which container a run's memory belongs to, for the node's `SystemOOM` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryOwner {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// The bytes a container's running guest holds in memories and tables now, shared with
/// whoever reports it (the node's resource metrics) and with the node's memory pool,
/// which may pick the run as its OOM victim. A guest's memory never shrinks while it
/// runs, and all of it is released when the guest ends.
#[derive(Debug, Default)]
pub struct MemoryUsage {
    pub(super) bytes: AtomicU64,
    /// The container, when the run is one (an exec probe's or a benchmark's is not).
    owner: Option<MemoryOwner>,
    /// The kubelet's `oom_score_adj` for the container: from -997 (Guaranteed) to 1000
    /// (BestEffort); it weighs the run in the OOM killer's choice.
    oom_score_adj: i64,
    oom_killed: AtomicBool,
    oom_kill: Notify,
}

impl MemoryUsage {
    pub fn for_container(owner: MemoryOwner, oom_score_adj: i64) -> MemoryUsage {
        MemoryUsage {
            owner: Some(owner),
            oom_score_adj,
            ..MemoryUsage::default()
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn owner(&self) -> Option<&MemoryOwner> {
        self.owner.as_ref()
    }

    pub fn oom_score_adj(&self) -> i64 {
        self.oom_score_adj
    }

    /// Whether the node's OOM killer chose this run.
    pub fn oom_killed(&self) -> bool {
        self.oom_killed.load(Ordering::SeqCst)
    }

    /// Marks the run as the OOM killer's victim and wakes [`stop_when_oom_killed`].
    pub(super) fn kill(&self) {
        self.oom_killed.store(true, Ordering::SeqCst);
        self.oom_kill.notify_waiters();
    }

    async fn until_oom_killed(&self) {
        loop {
            let notified = self.oom_kill.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.oom_killed() {
                return;
            }
            notified.await;
        }
    }
}

/// Runs a guest until it ends or the node's OOM killer chooses it, whichever is first: a
/// victim is stopped at once, even while it sleeps in a host call, so that its memory is
/// released for the container that is waiting for it.
pub async fn stop_when_oom_killed<T>(
    usage: &MemoryUsage,
    guest: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    tokio::select! {
        biased;
        () = usage.until_oom_killed() => Err(wasmtime::Error::new(KilledBySystemOom)),
        outcome = guest => outcome,
    }
}

/// Counts the bytes a container's memories and tables hold and refuses growth past the
/// limit or past what the node has left, remembering that it did so: the container then
/// ends as `OOMKilled`.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: u64,
    used_bytes: u64,
    exceeded: bool,
    usage: Arc<MemoryUsage>,
    node_memory: Arc<NodeMemory>,
}

impl MemoryLimiter {
    pub fn new(
        limit_bytes: u64,
        usage: Arc<MemoryUsage>,
        node_memory: Arc<NodeMemory>,
    ) -> MemoryLimiter {
        MemoryLimiter {
            limit_bytes,
            used_bytes: 0,
            exceeded: false,
            usage,
            node_memory,
        }
    }

    /// Whether the guest tried to grow past its limit, or the node's OOM killer chose it
    /// (and it was stopped for it).
    pub fn exceeded(&self) -> bool {
        self.exceeded || self.usage.oom_killed()
    }

    async fn grow(&mut self, current_bytes: u64, desired_bytes: u64) -> wasmtime::Result<bool> {
        let growth = desired_bytes.saturating_sub(current_bytes);
        let requested_bytes = self.used_bytes.saturating_add(growth);
        if requested_bytes > self.limit_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_bytes: self.limit_bytes,
                requested_bytes,
            }));
        }
        if self.usage.oom_killed() {
            return Err(wasmtime::Error::new(KilledBySystemOom));
        }
        self.node_memory
            .reserve(growth, &self.usage)
            .await
            .map_err(wasmtime::Error::new)?;
        self.used_bytes = requested_bytes;
        Ok(true)
    }
}

/// The limiter lives in the guest's store, so it is dropped when the guest's memories are:
/// what it counted is released then.
impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.node_memory.release(self.used_bytes, &self.usage);
    }
}

/// A growth may have to wait: when the node is out of memory and its OOM killer chose
/// another container, the growth goes ahead once that container's memory is released,
/// as an allocation in the kernel waits for the OOM victim to exit.
impl ResourceLimiterAsync for MemoryLimiter {
    fn memory_growing<'limiter, 'future>(
        &'limiter mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = wasmtime::Result<bool>> + Send + 'future>>
    where
        'limiter: 'future,
        Self: 'future,
    {
        Box::pin(self.grow(current as u64, desired as u64))
    }

    fn table_growing<'limiter, 'future>(
        &'limiter mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = wasmtime::Result<bool>> + Send + 'future>>
    where
        'limiter: 'future,
        Self: 'future,
    {
        Box::pin(self.grow(
            (current as u64).saturating_mul(BYTES_PER_TABLE_ELEMENT),
            (desired as u64).saturating_mul(BYTES_PER_TABLE_ELEMENT),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited_node() -> Arc<NodeMemory> {
        Arc::new(NodeMemory::new(u64::MAX).0)
    }

    #[tokio::test]
    async fn growth_within_the_limit_is_allowed_and_counted_across_memories() {
        let usage = Arc::new(MemoryUsage::default());
        let node = unlimited_node();
        let mut limiter = MemoryLimiter::new(100, Arc::clone(&usage), Arc::clone(&node));
        assert!(limiter.memory_growing(0, 60, None).await.unwrap());
        assert!(limiter.table_growing(0, 5, None).await.unwrap());
        assert!(!limiter.exceeded());
        assert_eq!(usage.bytes(), 100);
        assert_eq!(node.used_bytes(), 100);
        let error = limiter.memory_growing(0, 1, None).await.unwrap_err();
        assert!(limiter.exceeded());
        assert_eq!(
            error.to_string(),
            "the container's memory limit of 100 bytes was exceeded: growing to 101 bytes"
        );
        assert_eq!(usage.bytes(), 100, "refused growth is not counted");
        drop(limiter);
        assert_eq!(usage.bytes(), 0, "a guest's memory is released with it");
        assert_eq!(node.used_bytes(), 0, "and given back to the node");
    }

    #[tokio::test]
    async fn an_oom_killed_guest_is_stopped_even_while_it_waits() {
        let usage = Arc::new(MemoryUsage::default());
        let sleeper = {
            let usage = Arc::clone(&usage);
            tokio::spawn(async move {
                stop_when_oom_killed(&usage, async {
                    std::future::pending::<()>().await;
                    Ok(())
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        usage.kill();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("the victim stops at once")
            .expect("the task ran");
        assert!(outcome.unwrap_err().is::<KilledBySystemOom>());
    }
}
