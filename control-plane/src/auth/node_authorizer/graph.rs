//! The node authorizer's index: which node each pod is bound to, and for every secret,
//! configmap, serviceaccount and persistentvolumeclaim, how many pods of each node
//! reference it. Kubernetes keeps the same relationships as a graph (node ← pod ←
//! secret); with only one level of indirection, counted maps answer each question with
//! two hash lookups.

use std::collections::HashMap;

use serde_json::Value;

use super::references::{PodReferences, ReferencedKind, pod_references};
use crate::store::{Event, EventType, ObjectKey};

/// A pod bound to a node, as the index remembers it.
#[derive(Debug)]
struct BoundPod {
    uid: String,
    node: String,
    ephemeral_containers: usize,
    references: PodReferences,
}

/// Pods by `namespace/name`, and the referenced objects by kind and `namespace/name`
/// with, per node, the number of that node's pods referencing them.
#[derive(Debug, Default)]
pub struct PodGraph {
    /// Every pod change up to this revision is reflected.
    revision: u64,
    pods: HashMap<String, BoundPod>,
    referenced: HashMap<(ReferencedKind, String), HashMap<String, usize>>,
}

fn object_path(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl PodGraph {
    /// The index of `pods` (store keys and objects), as of `revision`.
    pub fn from_pods<'a>(
        pods: impl IntoIterator<Item = (&'a str, &'a Value)>,
        revision: u64,
    ) -> Self {
        let mut graph = Self {
            revision,
            ..Self::default()
        };
        for (key, pod) in pods {
            if let Some(key) = ObjectKey::decode(key) {
                graph.set_pod(&key.namespace, &key.name, Some(pod));
            }
        }
        graph
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Records that nothing changed for pods up to `revision`.
    pub fn advance_to(&mut self, revision: u64) {
        self.revision = self.revision.max(revision);
    }

    /// Applies one change to a pod. Changes at or before the index's revision were
    /// already applied (two watches may feed the index) and are skipped.
    pub fn apply(&mut self, event: &Event) {
        if event.revision <= self.revision {
            return;
        }
        self.revision = event.revision;
        let Some(key) = ObjectKey::decode(&event.key) else {
            return;
        };
        let pod = match event.event_type {
            EventType::Deleted => None,
            EventType::Added | EventType::Modified => Some(event.object.as_ref()),
        };
        self.set_pod(&key.namespace, &key.name, pod);
    }

    /// Replaces what the index knows of one pod: `None` when it is gone.
    pub fn set_pod(&mut self, namespace: &str, name: &str, pod: Option<&Value>) {
        let path = object_path(namespace, name);
        let bound = pod.and_then(|pod| {
            let node = pod.pointer("/spec/nodeName").and_then(Value::as_str)?;
            (!node.is_empty()).then_some((pod, node))
        });
        let Some((pod, node)) = bound else {
            if let Some(previous) = self.pods.remove(&path) {
                self.forget_references(namespace, &previous);
            }
            return;
        };
        let uid = pod
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ephemeral_containers = pod
            .pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        // A bound pod's references cannot change, except that ephemeral containers can be
        // added; most changes are status updates, which need no work here.
        if let Some(previous) = self.pods.get(&path)
            && previous.uid == uid
            && previous.node == node
            && previous.ephemeral_containers == ephemeral_containers
        {
            return;
        }
        let entry = BoundPod {
            uid: uid.to_owned(),
            node: node.to_owned(),
            ephemeral_containers,
            references: pod_references(pod),
        };
        for (kind, name) in &entry.references {
            *self
                .referenced
                .entry((*kind, object_path(namespace, name)))
                .or_default()
                .entry(entry.node.clone())
                .or_default() += 1;
        }
        if let Some(previous) = self.pods.insert(path, entry) {
            self.forget_references(namespace, &previous);
        }
    }

    fn forget_references(&mut self, namespace: &str, pod: &BoundPod) {
        for (kind, name) in &pod.references {
            let key = (*kind, object_path(namespace, name));
            let Some(nodes) = self.referenced.get_mut(&key) else {
                continue;
            };
            if let Some(count) = nodes.get_mut(&pod.node) {
                *count -= 1;
                if *count == 0 {
                    nodes.remove(&pod.node);
                }
            }
            if nodes.is_empty() {
                self.referenced.remove(&key);
            }
        }
    }

    /// Whether the pod `namespace/name` is bound to `node`.
    pub fn is_bound(&self, namespace: &str, name: &str, node: &str) -> bool {
        self.pods
            .get(&object_path(namespace, name))
            .is_some_and(|pod| pod.node == node)
    }

    /// Whether a pod bound to `node` references the object.
    pub fn is_referenced(
        &self,
        kind: ReferencedKind,
        namespace: &str,
        name: &str,
        node: &str,
    ) -> bool {
        self.referenced
            .get(&(kind, object_path(namespace, name)))
            .is_some_and(|nodes| nodes.contains_key(node))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn pod(name: &str, uid: &str, node: Option<&str>, secret: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": uid},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": secret}}]}],
            },
        })
    }

    fn event(revision: u64, event_type: EventType, name: &str, object: Value) -> Event {
        Event {
            revision,
            event_type,
            key: format!("pods/default/{name}"),
            object: Arc::new(object),
            object_json: bytes::Bytes::new(),
            previous: None,
        }
    }

    #[test]
    fn a_reference_lasts_while_any_pod_of_the_node_holds_it() {
        let first = pod("a", "u1", Some("n1"), "shared");
        let second = pod("b", "u2", Some("n1"), "shared");
        let mut graph =
            PodGraph::from_pods([("pods/default/a", &first), ("pods/default/b", &second)], 5);
        assert!(graph.is_referenced(ReferencedKind::Secret, "default", "shared", "n1"));
        assert!(!graph.is_referenced(ReferencedKind::Secret, "default", "shared", "n2"));
        assert!(!graph.is_referenced(ReferencedKind::Secret, "other", "shared", "n1"));
        assert!(!graph.is_referenced(ReferencedKind::ConfigMap, "default", "shared", "n1"));

        graph.apply(&event(6, EventType::Deleted, "a", first.clone()));
        assert!(graph.is_referenced(ReferencedKind::Secret, "default", "shared", "n1"));
        graph.apply(&event(7, EventType::Deleted, "b", second));
        assert!(!graph.is_referenced(ReferencedKind::Secret, "default", "shared", "n1"));
        assert!(
            graph.referenced.is_empty(),
            "no empty entries are left behind"
        );
        assert!(!graph.is_bound("default", "a", "n1"));
    }

    #[test]
    fn a_pod_counts_once_it_is_bound_and_moves_with_a_new_uid() {
        let mut graph = PodGraph::default();
        graph.apply(&event(1, EventType::Added, "a", pod("a", "u1", None, "s")));
        assert!(!graph.is_referenced(ReferencedKind::Secret, "default", "s", "n1"));
        graph.apply(&event(
            2,
            EventType::Modified,
            "a",
            pod("a", "u1", Some("n1"), "s"),
        ));
        assert!(graph.is_bound("default", "a", "n1"));
        assert!(graph.is_referenced(ReferencedKind::Secret, "default", "s", "n1"));
        // The same name recreated on another node with another secret.
        graph.apply(&event(
            3,
            EventType::Modified,
            "a",
            pod("a", "u2", Some("n2"), "t"),
        ));
        assert!(!graph.is_bound("default", "a", "n1"));
        assert!(graph.is_bound("default", "a", "n2"));
        assert!(!graph.is_referenced(ReferencedKind::Secret, "default", "s", "n1"));
        assert!(graph.is_referenced(ReferencedKind::Secret, "default", "t", "n2"));
        assert_eq!(graph.revision(), 3);
    }

    #[test]
    fn changes_already_applied_are_skipped() {
        let mut graph = PodGraph::default();
        graph.apply(&event(
            4,
            EventType::Added,
            "a",
            pod("a", "u1", Some("n1"), "s"),
        ));
        graph.apply(&event(
            3,
            EventType::Deleted,
            "a",
            pod("a", "u1", Some("n1"), "s"),
        ));
        assert!(graph.is_bound("default", "a", "n1"));
        graph.advance_to(2);
        assert_eq!(graph.revision(), 4);
    }

    #[test]
    fn an_added_ephemeral_container_adds_its_references() {
        let mut graph = PodGraph::default();
        let mut running = pod("a", "u1", Some("n1"), "s");
        graph.apply(&event(1, EventType::Added, "a", running.clone()));
        running["spec"]["ephemeralContainers"] = json!([
            {"name": "debug", "envFrom": [{"configMapRef": {"name": "debugging"}}]}
        ]);
        graph.apply(&event(2, EventType::Modified, "a", running));
        assert!(graph.is_referenced(ReferencedKind::ConfigMap, "default", "debugging", "n1"));
        assert!(graph.is_referenced(ReferencedKind::Secret, "default", "s", "n1"));
    }
}
