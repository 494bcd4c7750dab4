//! The container instances whose logs are being written now, so that a reader following
//! a log knows whether more can come and is woken when it does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::writer::InstanceLog;

/// Names one run of one container: a pod directory, a container and its restart count.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct InstanceKey {
    pub(crate) pod_directory: String,
    pub(crate) container: String,
    pub(crate) instance: u32,
}

/// The live writers by instance. A writer leaves when it is closed.
#[derive(Default)]
pub(crate) struct Registry {
    live: Mutex<HashMap<InstanceKey, Arc<InstanceLog>>>,
}

impl Registry {
    pub(crate) fn get(&self, key: &InstanceKey) -> Option<Arc<InstanceLog>> {
        lock(&self.live).get(key).cloned()
    }

    /// Registers the log that `create` makes, holding the registry while it does so that
    /// two writers can never be created for the same instance.
    pub(crate) fn insert_new<E>(
        &self,
        key: InstanceKey,
        create: impl FnOnce() -> Result<Arc<InstanceLog>, E>,
        already_live: impl FnOnce(&InstanceKey) -> E,
    ) -> Result<Arc<InstanceLog>, E> {
        let mut live = lock(&self.live);
        if live.contains_key(&key) {
            return Err(already_live(&key));
        }
        let log = create()?;
        live.insert(key, Arc::clone(&log));
        Ok(log)
    }

    /// Forgets a closed log, unless a newer log has taken its key since.
    pub(crate) fn remove(&self, key: &InstanceKey, log: &InstanceLog) {
        let mut live = lock(&self.live);
        if live
            .get(key)
            .is_some_and(|registered| std::ptr::eq(Arc::as_ptr(registered), log))
        {
            live.remove(key);
        }
    }

    /// Every live log of a pod directory.
    pub(crate) fn of_pod(&self, pod_directory: &str) -> Vec<Arc<InstanceLog>> {
        lock(&self.live)
            .iter()
            .filter(|(key, _)| key.pod_directory == pod_directory)
            .map(|(_, log)| Arc::clone(log))
            .collect()
    }
}

/// Locks a mutex even if a thread panicked while holding it: every critical section
/// here leaves its data consistent at each step, so the data is still good to use.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
