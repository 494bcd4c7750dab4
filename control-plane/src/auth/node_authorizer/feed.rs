//! Keeps the index current from the store: a list of every pod, then the store's watch
//! of `pods/` from the list's revision; a watch that ends or falls behind compaction
//! starts over with a fresh list.
//!
//! The watch is followed by a task, so the index may trail the store by a moment. A node
//! learns of a newly bound pod through its own watch of the same store and may ask for
//! the pod's secrets before that task ran; so a question the index answers "no" first
//! brings the index up to the store's latest revision, synchronously, from the store's
//! in-memory event ring, and is asked again. A "yes" is never delayed.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use futures::FutureExt;

use super::graph::PodGraph;
use crate::store::{ListRequest, SharedStorage, StoreError};

/// The store prefix of every pod.
const PODS_PREFIX: &str = "pods/";
/// How long the follower waits before listing again after a store error other than
/// compaction, so that a failing store is not listed in a tight loop.
const RETRY_AFTER_STORE_ERROR: Duration = Duration::from_millis(500);

/// The index and the store it follows.
pub struct SharedGraph {
    storage: SharedStorage,
    graph: RwLock<PodGraph>,
}

impl SharedGraph {
    /// Lists every pod now, so that the index is complete before the first question.
    pub fn load(storage: SharedStorage) -> Result<Self, StoreError> {
        let graph = list_pods(&storage)?;
        Ok(Self {
            storage,
            graph: RwLock::new(graph),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, PodGraph> {
        self.graph
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, PodGraph> {
        self.graph
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers `question` from the index; a "no" is asked again after catching up.
    pub fn holds(&self, question: impl Fn(&PodGraph) -> bool) -> bool {
        if question(&self.read()) {
            return true;
        }
        self.catch_up() && question(&self.read())
    }

    /// Applies the pod changes the store has published since the index's revision
    /// without waiting for any: a watch that would wait is dropped. False when nothing
    /// was behind, or the store cannot serve the changes (the follower then lists anew).
    fn catch_up(&self) -> bool {
        let revision = self.read().revision();
        if revision >= self.storage.current_revision() {
            return false;
        }
        let Ok(mut stream) = self.storage.watch(PODS_PREFIX, revision) else {
            return false;
        };
        let mut events = Vec::new();
        while let Some(Some(Ok(event))) = stream.next().now_or_never() {
            events.push(event);
        }
        let mut graph = self.write();
        for event in &events {
            graph.apply(event);
        }
        graph.advance_to(stream.position());
        true
    }

    /// Lists every pod and replaces the index with what it found.
    fn relist(&self) -> Result<u64, StoreError> {
        let graph = list_pods(&self.storage)?;
        let revision = graph.revision();
        *self.write() = graph;
        Ok(revision)
    }
}

fn list_pods(storage: &SharedStorage) -> Result<PodGraph, StoreError> {
    let page = storage.list(&ListRequest {
        prefix: PODS_PREFIX.to_owned(),
        ..ListRequest::default()
    })?;
    Ok(PodGraph::from_pods(
        page.items
            .iter()
            .map(|(key, stored)| (key.as_str(), stored.object.as_ref())),
        page.revision,
    ))
}

/// Why a watch stopped.
enum Interruption {
    /// The stream ended, which the store does when it shuts down.
    Ended,
    Failed(StoreError),
}

/// Follows the store's pod changes into the index until the store shuts down.
pub async fn follow(shared: Arc<SharedGraph>) {
    let mut revision = shared.read().revision();
    loop {
        match watch_until_interrupted(&shared, revision).await {
            Interruption::Failed(StoreError::Closed) => return,
            // A list tells whether an ended watch's store is really gone.
            Interruption::Ended | Interruption::Failed(StoreError::Compacted { .. }) => {}
            Interruption::Failed(error) => {
                tracing::warn!(%error, "the node authorizer's pod watch failed; listing again");
                tokio::time::sleep(RETRY_AFTER_STORE_ERROR).await;
            }
        }
        revision = loop {
            match shared.relist() {
                Ok(revision) => break revision,
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::warn!(%error, "the node authorizer cannot list pods; retrying");
                    tokio::time::sleep(RETRY_AFTER_STORE_ERROR).await;
                }
            }
        };
    }
}

/// Applies watched changes after `revision` until the watch stops.
async fn watch_until_interrupted(shared: &SharedGraph, revision: u64) -> Interruption {
    let mut stream = match shared.storage.watch(PODS_PREFIX, revision) {
        Ok(stream) => stream,
        Err(error) => return Interruption::Failed(error),
    };
    loop {
        match stream.next().await {
            Some(Ok(event)) => shared.write().apply(&event),
            Some(Err(error)) => return Interruption::Failed(error),
            None => return Interruption::Ended,
        }
    }
}
