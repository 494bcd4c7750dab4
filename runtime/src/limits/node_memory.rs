//! The node's memory: every running container's memories and tables together may not
//! grow past it, as the processes of a machine share its RAM. When a growth does not fit,
//! the node's OOM killer acts as the kernel's does on a full machine: it picks the
//! container with the highest OOM score — the memory it holds, weighed by the kubelet's
//! `oom_score_adj` for its QoS class — and kills it (`OOMKilled`, exit code 137); the
//! growth waits until the victim's memory is released. If the growing container is the
//! one with the highest score, it is the one killed.
//!
//! The pool's total is changed only under its lock, and a growth is granted only if it
//! fits there, so no interleaving of containers lets the total pass the node's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use wasmkube_admission::quantity::Quantity;

use super::memory::{KilledBySystemOom, MemoryOwner, MemoryUsage};
use super::oom_score::oom_badness;

/// How long a growth waits for the OOM victim's memory before its own container is
/// killed instead: a victim that is not stopped at once (an HTTP component's request,
/// stopped only at its next growth) must not hold the grower forever.
const VICTIM_RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a node memory size was refused.
#[derive(Debug, thiserror::Error)]
pub enum NodeMemoryError {
    #[error("invalid memory quantity {text:?}: {message}")]
    Quantity { text: String, message: String },
    #[error("the node's memory must be more than 0, not {0:?}")]
    Empty(String),
}

/// Reads a node memory size written as a Kubernetes quantity (`2Gi`, `1500Mi`, `2G`).
pub fn parse_node_memory(text: &str) -> Result<u64, NodeMemoryError> {
    let quantity = Quantity::parse(text).map_err(|error| NodeMemoryError::Quantity {
        text: text.to_owned(),
        message: error.to_string(),
    })?;
    match u64::try_from(quantity.value()) {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(NodeMemoryError::Empty(text.to_owned())),
    }
}

/// One kill by the node's OOM killer, for the node's `SystemOOM` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemOomKill {
    /// The container killed; `None` for a run that is not a container's.
    pub victim: Option<MemoryOwner>,
    /// The bytes the victim held.
    pub victim_bytes: u64,
}

/// The node's memory shared by all its containers.
#[derive(Debug)]
pub struct NodeMemory {
    capacity_bytes: u64,
    state: Mutex<PoolState>,
    /// Signalled whenever memory is given back, for growths waiting on a victim.
    released: Notify,
    kills: mpsc::UnboundedSender<SystemOomKill>,
}

#[derive(Debug, Default)]
struct PoolState {
    used_bytes: u64,
    /// The runs holding memory, by the address of their usage (stable while any limiter
    /// of the run holds it).
    holders: HashMap<usize, Weak<MemoryUsage>>,
}

/// What one attempt at a growth came to.
enum Attempt {
    Granted,
    /// Another run was chosen (now or before) and is being stopped.
    WaitForVictim,
    ClaimantKilled,
}

fn address(usage: &Arc<MemoryUsage>) -> usize {
    Arc::as_ptr(usage) as usize
}

impl NodeMemory {
    /// A pool of `capacity_bytes`, and the receiver of its kills (which the node turns
    /// into events; dropping it only loses the events).
    pub fn new(capacity_bytes: u64) -> (NodeMemory, mpsc::UnboundedReceiver<SystemOomKill>) {
        let (kills, kills_receiver) = mpsc::unbounded_channel();
        let pool = NodeMemory {
            capacity_bytes,
            state: Mutex::new(PoolState::default()),
            released: Notify::new(),
            kills,
        };
        (pool, kills_receiver)
    }

    /// A pool nothing can fill, for runtimes that are not a node's (benchmarks, tests).
    pub fn unlimited() -> NodeMemory {
        NodeMemory::new(u64::MAX).0
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    pub fn used_bytes(&self) -> u64 {
        self.lock().used_bytes
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `bytes` more for `claimant`'s run, waiting while a victim of the OOM killer
    /// is being stopped; an error when the claimant itself was killed.
    pub async fn reserve(
        &self,
        bytes: u64,
        claimant: &Arc<MemoryUsage>,
    ) -> Result<(), KilledBySystemOom> {
        let deadline = tokio::time::Instant::now() + VICTIM_RELEASE_TIMEOUT;
        loop {
            // Registered before the attempt, so a release between the attempt and the
            // wait is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.attempt(bytes, claimant) {
                Attempt::Granted => return Ok(()),
                Attempt::ClaimantKilled => return Err(KilledBySystemOom),
                Attempt::WaitForVictim => {}
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                self.kill(claimant);
                return Err(KilledBySystemOom);
            }
        }
    }

    fn attempt(&self, bytes: u64, claimant: &Arc<MemoryUsage>) -> Attempt {
        let mut state = self.lock();
        if claimant.oom_killed() {
            return Attempt::ClaimantKilled;
        }
        if state.used_bytes.saturating_add(bytes) <= self.capacity_bytes {
            state.used_bytes += bytes;
            claimant
                .bytes
                .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
            state
                .holders
                .insert(address(claimant), Arc::downgrade(claimant));
            return Attempt::Granted;
        }
        state.holders.retain(|_, holder| holder.strong_count() > 0);
        // The lock is held through the choice, so two growths never pick two victims.
        let holders: Vec<Arc<MemoryUsage>> =
            state.holders.values().filter_map(Weak::upgrade).collect();
        // One victim at a time, as the kernel waits for a victim that is still exiting.
        if holders
            .iter()
            .any(|holder| holder.oom_killed() && holder.bytes() > 0)
        {
            return Attempt::WaitForVictim;
        }
        // The claimant wins ties: among equals, the container whose growth does not fit
        // is the one that ends.
        let mut victim = claimant;
        let mut victim_badness = oom_badness(claimant, self.capacity_bytes);
        for holder in &holders {
            let badness = oom_badness(holder, self.capacity_bytes);
            if badness > victim_badness && holder.bytes() > 0 {
                victim = holder;
                victim_badness = badness;
            }
        }
        self.kill(victim);
        if Arc::ptr_eq(victim, claimant) {
            Attempt::ClaimantKilled
        } else {
            Attempt::WaitForVictim
        }
    }

    fn kill(&self, victim: &Arc<MemoryUsage>) {
        tracing::info!(
            victim = ?victim.owner(),
            victim_bytes = victim.bytes(),
            node_memory_bytes = self.capacity_bytes,
            "the node is out of memory: OOM-killing a container"
        );
        victim.kill();
        // Nobody listening only means no event is recorded.
        let _ = self.kills.send(SystemOomKill {
            victim: victim.owner().cloned(),
            victim_bytes: victim.bytes(),
        });
    }

    /// Gives back what a run's limiter held, when the run ends.
    pub fn release(&self, bytes: u64, holder: &Arc<MemoryUsage>) {
        {
            let mut state = self.lock();
            state.used_bytes = state.used_bytes.saturating_sub(bytes);
            let left = holder
                .bytes
                .fetch_sub(bytes, std::sync::atomic::Ordering::SeqCst)
                .saturating_sub(bytes);
            if left == 0 {
                state.holders.remove(&address(holder));
            }
        }
        self.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
