//! The sandboxes of the node's running containers, where `kubectl exec` runs commands:
//! each container run registers its sandbox when it starts, and the registration goes
//! away when the run ends, which also stops the commands still running in it (as a
//! container's exec'ed processes die with it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::pod::probes::ExecSandbox;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ContainerKey {
    pod_uid: String,
    container: String,
}

struct Entry {
    /// Which registration this is, so that an earlier run's end does not remove the
    /// entry of the run that replaced it.
    generation: u64,
    sandbox: ExecSandbox,
    running: watch::Receiver<()>,
}

/// The running containers' sandboxes, by pod uid and container name.
#[derive(Clone, Default)]
pub struct ExecSandboxes {
    entries: Arc<Mutex<HashMap<ContainerKey, Entry>>>,
    generations: Arc<AtomicU64>,
}

/// A running container's sandbox, as an exec finds it.
pub struct FoundSandbox {
    pub sandbox: ExecSandbox,
    /// Changes (with an error) when the container's run ends.
    pub running: watch::Receiver<()>,
}

/// Keeps a container run's sandbox registered; dropping it (when the run ends)
/// unregisters it and stops the commands running in it.
pub struct ExecRegistration {
    sandboxes: ExecSandboxes,
    key: ContainerKey,
    generation: u64,
    _running: watch::Sender<()>,
}

impl ExecSandboxes {
    /// Registers a container run's sandbox, replacing an earlier run's.
    pub fn register(
        &self,
        pod_uid: &str,
        container: &str,
        sandbox: ExecSandbox,
    ) -> ExecRegistration {
        let key = ContainerKey {
            pod_uid: pod_uid.to_owned(),
            container: container.to_owned(),
        };
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let (running_sender, running) = watch::channel(());
        self.lock().insert(
            key.clone(),
            Entry {
                generation,
                sandbox,
                running,
            },
        );
        ExecRegistration {
            sandboxes: self.clone(),
            key,
            generation,
            _running: running_sender,
        }
    }

    /// The sandbox of the container, while it runs.
    pub fn find(&self, pod_uid: &str, container: &str) -> Option<FoundSandbox> {
        let key = ContainerKey {
            pod_uid: pod_uid.to_owned(),
            container: container.to_owned(),
        };
        self.lock().get(&key).map(|entry| FoundSandbox {
            sandbox: entry.sandbox.clone(),
            running: entry.running.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ContainerKey, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for ExecRegistration {
    fn drop(&mut self) {
        let mut entries = self.sandboxes.lock();
        if entries
            .get(&self.key)
            .is_some_and(|entry| entry.generation == self.generation)
        {
            entries.remove(&self.key);
        }
    }
}
