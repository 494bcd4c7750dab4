//! A DaemonSet's pods: the template they are made from (automatic tolerations, revision
//! labels, the node they are meant for as a required node affinity), which node a pod
//! belongs to, and which of a node's pods is the one to keep.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec,
};

use super::eligibility::{NODE_NAME_FIELD, add_daemon_pod_tolerations};

/// The label that carries the template's revision hash (`apps.DefaultDaemonSetUniqueLabelKey`).
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The label of the deprecated template generation (`extensions.DaemonSetTemplateGenerationKey`).
const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation an API server of Kubernetes' keeps the template generation in
/// (`apps.DeprecatedTemplateGeneration`).
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// `GetTemplateGeneration`: the deprecated generation annotation, when present and a number.
pub fn template_generation(daemon_set: &DaemonSet) -> Option<i64> {
    daemon_set
        .metadata
        .annotations
        .as_ref()?
        .get(TEMPLATE_GENERATION_ANNOTATION)?
        .parse()
        .ok()
}

/// `CreatePodTemplate`: the DaemonSet's template with the automatic tolerations and the
/// revision labels.
pub fn daemon_pod_template(
    template: &PodTemplateSpec,
    generation: Option<i64>,
    hash: &str,
) -> PodTemplateSpec {
    let mut template = template.clone();
    add_daemon_pod_tolerations(template.spec.get_or_insert_with(Default::default));
    let labels = template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    if let Some(generation) = generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.to_owned(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(REVISION_HASH_LABEL.to_owned(), hash.to_owned());
    }
    template
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the template's required node affinity
/// becomes the one term `metadata.name In [node]`, so the scheduler binds the pod to that
/// node (and checks its resources and taints) rather than the controller binding it.
pub fn for_node(template: &PodTemplateSpec, node_name: &str) -> PodTemplateSpec {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    let node_affinity = spec
        .affinity
        .get_or_insert_with(Affinity::default)
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: NODE_NAME_FIELD.to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![node_name.to_owned()]),
            }]),
            match_expressions: None,
        }],
    });
    template
}

/// `GetTargetNodeName`: the node the pod is bound to, or for a pod not bound yet the one
/// its `metadata.name In [node]` affinity names.
pub fn target_node_name(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node_name) = spec.node_name.as_ref().filter(|name| !name.is_empty()) {
        return Some(node_name.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|term| term.match_fields.iter().flatten())
        .find(|field| field.key == NODE_NAME_FIELD && field.operator == "In")
        .and_then(|field| match field.values.as_deref() {
            Some([node_name]) => Some(node_name.clone()),
            _ => None,
        })
}

/// `IsPodUpdated`: the pod carries the current revision hash, or the current deprecated
/// template generation.
pub fn is_pod_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = pod.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|labels| labels.get(key));
    let generation_matches = generation.is_some_and(|generation| {
        label(TEMPLATE_GENERATION_LABEL).is_some_and(|label| *label == generation.to_string())
    });
    let hash_matches =
        !hash.is_empty() && label(REVISION_HASH_LABEL).is_some_and(|label| label == hash);
    hash_matches || generation_matches
}

/// `podByCreationTimestampAndPhase`: bound pods first, then the oldest, then by name; the
/// first of a node's pods is the one that counts and stays.
pub fn oldest_bound_first(left: &Pod, right: &Pod) -> Ordering {
    let is_bound = |pod: &Pod| {
        pod.spec
            .as_ref()
            .and_then(|spec| spec.node_name.as_deref())
            .is_some_and(|name| !name.is_empty())
    };
    is_bound(right)
        .cmp(&is_bound(left))
        .then_with(|| {
            let created = |pod: &Pod| pod.metadata.creation_timestamp.as_ref().map(|time| time.0);
            created(left).cmp(&created(right))
        })
        .then_with(|| left.metadata.name.cmp(&right.metadata.name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("a pod")
    }

    #[test]
    fn a_pod_for_a_node_names_it_in_its_affinity_and_keeps_its_other_affinities() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "agent"}},
            "spec": {
                "containers": [{"name": "app", "image": "hollow/run"}],
                "affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east"]}]},
                    ]},
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 1, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                    ],
                }},
            },
        }))
        .expect("a template");
        let made = for_node(&daemon_pod_template(&template, Some(3), "abc"), "n1");
        let made = pod(json!({"metadata": made.metadata, "spec": made.spec}));
        assert_eq!(target_node_name(&made).as_deref(), Some("n1"));
        let labels = made.metadata.labels.clone().expect("labels");
        assert_eq!(labels[REVISION_HASH_LABEL], "abc");
        assert_eq!(labels[TEMPLATE_GENERATION_LABEL], "3");
        let node_affinity = made
            .spec
            .as_ref()
            .and_then(|spec| spec.affinity.as_ref())
            .and_then(|affinity| affinity.node_affinity.as_ref())
            .expect("a node affinity");
        assert!(
            node_affinity
                .preferred_during_scheduling_ignored_during_execution
                .is_some()
        );
        assert!(is_pod_updated(&made, "abc", None));
        assert!(is_pod_updated(&made, "other", Some(3)));
        assert!(!is_pod_updated(&made, "other", Some(4)));
    }

    #[test]
    fn a_bound_pod_targets_its_node_and_sorts_first() {
        let bound = pod(json!({
            "metadata": {"name": "b", "creationTimestamp": "2024-01-02T00:00:00Z"},
            "spec": {"containers": [], "nodeName": "n2"},
        }));
        let pending = pod(json!({
            "metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": []},
        }));
        assert_eq!(target_node_name(&bound).as_deref(), Some("n2"));
        assert_eq!(target_node_name(&pending), None);
        assert_eq!(oldest_bound_first(&bound, &pending), Ordering::Less);
    }
}
