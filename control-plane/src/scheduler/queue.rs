//! The scheduling queue: pods waiting for a node, tried highest `spec.priority` first and
//! then oldest first. A pod no node could take waits until the cluster changes; one whose
//! binding failed backs off; one being scheduled or bound is never handed out twice.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::pod_info::PodKey;

/// Kubernetes' `podInitialBackoffDuration` and `podMaxBackoffDuration`.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The order pods are tried in: fields compare in declaration order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct QueueOrder {
    priority: Reverse<i32>,
    created: Option<Timestamp>,
    key: PodKey,
}

impl QueueOrder {
    fn of(pod: &Pod) -> QueueOrder {
        QueueOrder {
            priority: Reverse(
                pod.spec
                    .as_ref()
                    .and_then(|spec| spec.priority)
                    .unwrap_or(0),
            ),
            created: pod.metadata.creation_timestamp.as_ref().map(|time| time.0),
            key: PodKey::of(pod),
        }
    }
}

#[derive(Debug)]
enum Place {
    /// Ready to be tried.
    Active,
    /// Handed out: being scheduled, or its binding is on its way.
    InFlight,
    /// No node could take it; `attempted` is the pod as it was then, so that only a
    /// change to the pod itself (not to its status) sends it back early.
    Unschedulable { attempted: Arc<Pod> },
    /// Its binding failed; it waits for its backoff to pass.
    BackingOff,
}

#[derive(Debug)]
struct Entry {
    order: QueueOrder,
    place: Place,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    active: BTreeSet<QueueOrder>,
    entries: HashMap<PodKey, Entry>,
}

/// What the scheduler reads of a pod: a change to anything else (its status, its
/// resourceVersion) cannot make it schedulable.
fn scheduling_inputs_differ(before: &Pod, after: &Pod) -> bool {
    before.spec != after.spec
        || before.metadata.labels != after.metadata.labels
        || before.metadata.annotations != after.metadata.annotations
}

impl SchedulingQueue {
    fn activate(&mut self, key: &PodKey) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Active;
            self.active.insert(entry.order.clone());
        }
    }

    /// A pod that needs a node was added or changed.
    pub fn observe(&mut self, pod: &Pod) {
        let key = PodKey::of(pod);
        match self.entries.get(&key).map(|entry| &entry.place) {
            None => {
                let order = QueueOrder::of(pod);
                self.active.insert(order.clone());
                self.entries.insert(
                    key,
                    Entry {
                        order,
                        place: Place::Active,
                        failures: 0,
                    },
                );
            }
            Some(Place::Unschedulable { attempted })
                if scheduling_inputs_differ(attempted, pod) =>
            {
                self.activate(&key);
            }
            Some(_) => {}
        }
    }

    /// The pod is bound or gone: it needs nothing more.
    pub fn remove(&mut self, key: &PodKey) {
        if let Some(entry) = self.entries.remove(key) {
            self.active.remove(&entry.order);
        }
    }

    /// The next pod to try; it stays handed out until it is removed or put back.
    pub fn pop(&mut self) -> Option<PodKey> {
        let order = self.active.pop_first()?;
        if let Some(entry) = self.entries.get_mut(&order.key) {
            entry.place = Place::InFlight;
        }
        Some(order.key)
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// No node could take the pod: it waits for the cluster to change.
    pub fn unschedulable(&mut self, key: &PodKey, attempted: Arc<Pod>) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Unschedulable { attempted };
        }
    }

    /// The pod's binding failed: it waits 1 s, then twice as long after each further
    /// failure, up to 10 s. Answers how long, or nothing if the pod is no longer queued.
    pub fn back_off(&mut self, key: &PodKey) -> Option<Duration> {
        let entry = self.entries.get_mut(key)?;
        entry.place = Place::BackingOff;
        let doublings = entry.failures.min(4);
        entry.failures += 1;
        Some((INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF))
    }

    /// The pod's backoff has passed.
    pub fn backoff_expired(&mut self, key: &PodKey) {
        if matches!(
            self.entries.get(key).map(|entry| &entry.place),
            Some(Place::BackingOff)
        ) {
            self.activate(key);
        }
    }

    /// The cluster changed in a way that may make room: every pod that found no node
    /// tries again.
    pub fn retry_unschedulable(&mut self) {
        let waiting: Vec<PodKey> = self
            .entries
            .iter()
            .filter(|(_, entry)| matches!(entry.place, Place::Unschedulable { .. }))
            .map(|(key, _)| key.clone())
            .collect();
        for key in waiting {
            self.activate(&key);
        }
    }

    /// Keeps only the pods in `still_waiting` (after a relist of pods).
    pub fn retain(&mut self, still_waiting: impl Fn(&PodKey) -> bool) {
        let gone: Vec<PodKey> = self
            .entries
            .keys()
            .filter(|key| !still_waiting(key))
            .cloned()
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, priority: i32, created: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"priority": priority, "containers": [{"name": "app"}]},
        }))
        .expect("a pod")
    }

    fn names(queue: &mut SchedulingQueue) -> Vec<String> {
        std::iter::from_fn(|| queue.pop())
            .map(|key| key.name)
            .collect()
    }

    #[test]
    fn higher_priority_first_then_oldest_first() {
        let mut queue = SchedulingQueue::default();
        queue.observe(&pod("late", 0, "2024-01-01T00:00:02Z"));
        queue.observe(&pod("early", 0, "2024-01-01T00:00:01Z"));
        queue.observe(&pod("important", 1000, "2024-01-01T00:00:03Z"));
        queue.observe(&pod("early", 0, "2024-01-01T00:00:01Z"));
        assert_eq!(names(&mut queue), ["important", "early", "late"]);
        assert!(!queue.has_active());
    }

    #[test]
    fn a_pod_handed_out_is_not_handed_out_again() {
        let mut queue = SchedulingQueue::default();
        let web = pod("web", 0, "2024-01-01T00:00:00Z");
        queue.observe(&web);
        let key = queue.pop().expect("a pod");
        queue.observe(&web);
        queue.retry_unschedulable();
        assert!(queue.pop().is_none());
        queue.remove(&key);
        queue.observe(&web);
        assert_eq!(queue.pop(), Some(key));
    }

    #[test]
    fn unschedulable_pods_wait_for_a_change_to_the_cluster_or_to_themselves() {
        let mut queue = SchedulingQueue::default();
        let web = pod("web", 0, "2024-01-01T00:00:00Z");
        queue.observe(&web);
        let key = queue.pop().expect("a pod");
        queue.unschedulable(&key, Arc::new(web.clone()));
        let mut with_status = web.clone();
        with_status.status = Some(Default::default());
        queue.observe(&with_status);
        assert!(
            queue.pop().is_none(),
            "a status change is not a reason to retry"
        );
        queue.retry_unschedulable();
        assert_eq!(queue.pop(), Some(key.clone()));
        queue.unschedulable(&key, Arc::new(web.clone()));
        let mut tolerating = web;
        tolerating.spec.as_mut().expect("a spec").tolerations = Some(vec![Default::default()]);
        queue.observe(&tolerating);
        assert_eq!(queue.pop(), Some(key));
    }

    #[test]
    fn failed_bindings_back_off_doubling_up_to_ten_seconds() {
        let mut queue = SchedulingQueue::default();
        queue.observe(&pod("web", 0, "2024-01-01T00:00:00Z"));
        let key = queue.pop().expect("a pod");
        let mut delays = Vec::new();
        for _ in 0..6 {
            delays.push(queue.back_off(&key).expect("still queued").as_secs());
            queue.retry_unschedulable();
            assert!(queue.pop().is_none(), "backing off is not unschedulable");
            queue.backoff_expired(&key);
            assert_eq!(queue.pop(), Some(key.clone()));
        }
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        queue.retain(|_| false);
        assert_eq!(queue.back_off(&key), None);
    }
}
