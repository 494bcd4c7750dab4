//! Rate-limited retries per key, as client-go's default controller rate limiter: a key
//! that keeps failing waits 5 ms, 10 ms, 20 ms … up to 1000 s before its next try, and a
//! success forgets its failures. kube-runtime's `Controller` calls the error policy with
//! the object, so the counts are kept here, by the object's namespace/name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{Lookup, ObjectRef};

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAXIMUM_DELAY: Duration = Duration::from_secs(1000);

#[derive(Debug, Default)]
pub struct RetryBackoff {
    failures: Mutex<HashMap<String, u32>>,
}

fn key<K: Resource<DynamicType = ()>>(object: &K) -> String {
    ObjectRef::from_obj(object).to_string()
}

impl RetryBackoff {
    /// The delay before the object's next try after another failure.
    pub fn failed<K: Resource<DynamicType = ()>>(&self, object: &K) -> Duration {
        self.failed_key(key(object))
    }

    fn failed_key(&self, key: String) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key).or_insert(0);
        let delay = BASE_DELAY
            .checked_mul(1u32.checked_shl(*count).unwrap_or(u32::MAX))
            .map_or(MAXIMUM_DELAY, |delay| delay.min(MAXIMUM_DELAY));
        *count = count.saturating_add(1);
        delay
    }

    /// The error policy's answer: try the object again after its back-off.
    pub fn requeue_after_failure<K: Resource<DynamicType = ()>>(&self, object: &K) -> Action {
        Action::requeue(self.failed(object))
    }

    /// Forgets the object's failures after a successful reconcile.
    pub fn succeeded<K: Resource<DynamicType = ()>>(&self, object: &K) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&key(object));
    }

    /// `requeue_after_failure` for an object named by its reference, which is how objects
    /// of dynamic types (the garbage collector's) are known.
    pub fn requeue_after_failure_for<K: Lookup>(&self, object: &ObjectRef<K>) -> Action {
        Action::requeue(self.failed_key(object.to_string()))
    }

    /// `succeeded` for an object named by its reference.
    pub fn succeeded_for<K: Lookup>(&self, object: &ObjectRef<K>) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&object.to_string());
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use kube::api::ObjectMeta;

    use super::*;

    fn replica_set(name: &str) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("default".to_owned()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_delay_doubles_per_failure_up_to_the_maximum_and_success_resets_it() {
        let backoff = RetryBackoff::default();
        let web = replica_set("web");
        assert_eq!(backoff.failed(&web), Duration::from_millis(5));
        assert_eq!(backoff.failed(&web), Duration::from_millis(10));
        assert_eq!(backoff.failed(&web), Duration::from_millis(20));
        assert_eq!(
            backoff.failed(&replica_set("other")),
            Duration::from_millis(5)
        );
        for _ in 0..40 {
            backoff.failed(&web);
        }
        assert_eq!(backoff.failed(&web), MAXIMUM_DELAY);
        backoff.succeeded(&web);
        assert_eq!(backoff.failed(&web), Duration::from_millis(5));
    }
}
