//! What the scheduler keeps of a pod: its identity, and the facts other pods' affinity
//! terms and the preemption check read (namespace, labels, priority, its own compiled
//! affinity terms), as Kubernetes' `framework.PodInfo` keeps them.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use kube::ResourceExt;

use super::selector::{Selector, SelectorError};

/// A pod's identity while it waits and while it is placed: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn of(pod: &Pod) -> PodKey {
        PodKey {
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
        }
    }
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.namespace, self.name)
    }
}

/// Each namespace's labels, which terms with a `namespaceSelector` match.
pub type NamespaceLabels = HashMap<String, BTreeMap<String, String>>;

/// One pod (anti-)affinity term, compiled (Kubernetes' `framework.AffinityTerm`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    /// The namespaces named by the term, or the owning pod's own when it names none and
    /// has no namespace selector.
    namespaces: Vec<String>,
    namespace_selector: Selector,
    selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    fn compile(
        owner_namespace: &str,
        term: &PodAffinityTerm,
    ) -> Result<AffinityTerm, SelectorError> {
        let named = term.namespaces.clone().unwrap_or_default();
        let namespaces = if named.is_empty() && term.namespace_selector.is_none() {
            vec![owner_namespace.to_owned()]
        } else {
            named
        };
        Ok(AffinityTerm {
            namespaces,
            namespace_selector: Selector::compile(term.namespace_selector.as_ref())?,
            selector: Selector::compile(term.label_selector.as_ref())?,
            topology_key: term.topology_key.clone(),
        })
    }

    /// Whether the pod is one the term is about: in one of its namespaces (named, or
    /// selected by their labels) and selected by its label selector.
    pub fn matches(&self, pod: &PodFacts, namespaces: &NamespaceLabels) -> bool {
        let in_namespace = self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .matches(namespaces.get(&pod.namespace).unwrap_or(&BTreeMap::new()));
        in_namespace && self.selector.matches(&pod.labels)
    }
}

/// A preferred term and its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedTerm {
    pub term: AffinityTerm,
    pub weight: i64,
}

/// A pod's pod affinity and anti-affinity, compiled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AffinityTerms {
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedTerm>,
    pub preferred_anti_affinity: Vec<WeightedTerm>,
}

impl AffinityTerms {
    /// The pod's terms; nothing when it has no pod affinity or anti-affinity at all.
    pub fn of(pod: &Pod) -> Result<Option<AffinityTerms>, SelectorError> {
        let Some(affinity) = pod.spec.as_ref().and_then(|spec| spec.affinity.as_ref()) else {
            return Ok(None);
        };
        if affinity.pod_affinity.is_none() && affinity.pod_anti_affinity.is_none() {
            return Ok(None);
        }
        let namespace = pod.namespace().unwrap_or_default();
        let required = |terms: Option<&Vec<PodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .map(|term| AffinityTerm::compile(&namespace, term))
                .collect::<Result<Vec<_>, _>>()
        };
        let preferred = |terms: Option<&Vec<WeightedPodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .map(|weighted| {
                    Ok(WeightedTerm {
                        term: AffinityTerm::compile(&namespace, &weighted.pod_affinity_term)?,
                        weight: i64::from(weighted.weight),
                    })
                })
                .collect::<Result<Vec<_>, SelectorError>>()
        };
        let affinity_part = affinity.pod_affinity.as_ref();
        let anti_affinity_part = affinity.pod_anti_affinity.as_ref();
        Ok(Some(AffinityTerms {
            required_affinity: required(affinity_part.and_then(|part| {
                part.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }))?,
            required_anti_affinity: required(anti_affinity_part.and_then(|part| {
                part.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }))?,
            preferred_affinity: preferred(affinity_part.and_then(|part| {
                part.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }))?,
            preferred_anti_affinity: preferred(anti_affinity_part.and_then(|part| {
                part.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }))?,
        }))
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity.is_empty()
    }

    pub fn has_preferred_terms(&self) -> bool {
        !self.preferred_affinity.is_empty() || !self.preferred_anti_affinity.is_empty()
    }
}

/// What other pods' terms and the preemption check read of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFacts {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// `spec.priority`, 0 when unset (Kubernetes' `PodPriority`).
    pub priority: i32,
    /// Nothing when the pod has no pod (anti-)affinity.
    pub affinity: Option<AffinityTerms>,
}

impl PodFacts {
    /// The facts of a pod that is already placed. Terms that cannot be compiled are left
    /// out, as kube-scheduler leaves out a pod whose `PodInfo` it cannot build.
    pub fn of_placed(pod: &Pod) -> PodFacts {
        let affinity = AffinityTerms::of(pod).unwrap_or_else(|error| {
            tracing::warn!(pod = %PodKey::of(pod), %error, "ignoring the pod's affinity terms");
            None
        });
        PodFacts::with_affinity(pod, affinity)
    }

    pub fn with_affinity(pod: &Pod, affinity: Option<AffinityTerms>) -> PodFacts {
        PodFacts {
            namespace: pod.namespace().unwrap_or_default(),
            labels: pod.labels().clone(),
            priority: pod
                .spec
                .as_ref()
                .and_then(|spec| spec.priority)
                .unwrap_or(0),
            affinity,
        }
    }

    pub fn has_affinity(&self) -> bool {
        self.affinity.is_some()
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        self.affinity
            .as_ref()
            .is_some_and(AffinityTerms::has_required_anti_affinity)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(namespace: &str, labels: serde_json::Value, affinity: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": namespace, "labels": labels},
            "spec": {"containers": [], "affinity": affinity},
        }))
        .expect("a pod")
    }

    fn required_term(term: serde_json::Value) -> AffinityTerm {
        let owner = pod(
            "default",
            json!({}),
            json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}),
        );
        AffinityTerms::of(&owner)
            .expect("valid terms")
            .expect("some terms")
            .required_affinity
            .remove(0)
    }

    #[test]
    fn a_term_without_namespaces_is_about_its_own_pods_namespace() {
        let term = required_term(json!({
            "labelSelector": {"matchLabels": {"app": "db"}},
            "topologyKey": "kubernetes.io/hostname",
        }));
        let namespaces = NamespaceLabels::new();
        let db = |namespace: &str| {
            PodFacts::of_placed(&pod(namespace, json!({"app": "db"}), json!(null)))
        };
        assert!(term.matches(&db("default"), &namespaces));
        assert!(!term.matches(&db("other"), &namespaces));
        let web = PodFacts::of_placed(&pod("default", json!({"app": "web"}), json!(null)));
        assert!(!term.matches(&web, &namespaces));
    }

    #[test]
    fn namespace_selectors_read_the_namespaces_labels() {
        let term = required_term(json!({
            "labelSelector": {"matchLabels": {"app": "db"}},
            "namespaceSelector": {"matchLabels": {"team": "data"}},
            "topologyKey": "kubernetes.io/hostname",
        }));
        let namespaces = NamespaceLabels::from([
            (
                "analytics".to_owned(),
                BTreeMap::from([("team".to_owned(), "data".to_owned())]),
            ),
            ("default".to_owned(), BTreeMap::new()),
        ]);
        let db = |namespace: &str| {
            PodFacts::of_placed(&pod(namespace, json!({"app": "db"}), json!(null)))
        };
        assert!(term.matches(&db("analytics"), &namespaces));
        assert!(
            !term.matches(&db("default"), &namespaces),
            "a namespace selector replaces the owner's namespace"
        );
        let everywhere = required_term(json!({
            "labelSelector": {"matchLabels": {"app": "db"}},
            "namespaceSelector": {},
            "topologyKey": "kubernetes.io/hostname",
        }));
        assert!(everywhere.matches(&db("unknown"), &namespaces));
    }

    #[test]
    fn facts_carry_priority_and_only_real_affinity() {
        let mut plain = pod(
            "default",
            json!({"app": "web"}),
            json!({"nodeAffinity": {}}),
        );
        plain.spec.as_mut().expect("a spec").priority = Some(7);
        let facts = PodFacts::of_placed(&plain);
        assert_eq!(facts.priority, 7);
        assert!(!facts.has_affinity(), "node affinity is not pod affinity");
        let anti = PodFacts::of_placed(&pod(
            "default",
            json!({}),
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {}, "topologyKey": "kubernetes.io/hostname"},
            ]}}),
        ));
        assert!(anti.has_required_anti_affinity());
        let broken = pod(
            "default",
            json!({}),
            json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}, "topologyKey": "zone"},
            ]}}),
        );
        assert!(AffinityTerms::of(&broken).is_err());
        assert!(!PodFacts::of_placed(&broken).has_affinity());
    }
}
