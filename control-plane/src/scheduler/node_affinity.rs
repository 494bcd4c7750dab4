//! Kubernetes' NodeAffinity plugin: whether a node is one the pod asks for (its
//! `nodeSelector` and its required node affinity, matched as
//! `nodeaffinity.RequiredNodeAffinity` matches them), the nodes its required terms name
//! outright (the pre-filter), and how much its preferred terms like a node (the score).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, PodSpec};

/// The only field a `matchFields` requirement may name.
const NODE_NAME_FIELD: &str = "metadata.name";

/// Every `nodeSelector` label, and at least one required affinity term.
pub fn node_matches(
    spec: &PodSpec,
    node_name: &str,
    node_labels: &BTreeMap<String, String>,
) -> bool {
    let selector_matches = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(key, value)| node_labels.get(key).is_some_and(|label| label == value));
    let required_terms = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    selector_matches
        && required_terms.is_none_or(|required| {
            required
                .node_selector_terms
                .iter()
                .any(|term| term_matches(term, node_name, node_labels))
        })
}

/// The nodes the pod's required terms restrict it to by name.
#[derive(Debug, PartialEq, Eq)]
pub enum NamedNodes {
    /// Some term does not name nodes: every node remains to be filtered.
    Any,
    /// Only these nodes can match.
    Only(BTreeSet<String>),
    /// The terms name nodes, but no node is named by all the requirements of any term.
    Conflict,
}

/// NodeAffinity's pre-filter: when every required term names its nodes with
/// `metadata.name In [...]`, only those nodes are worth filtering (DaemonSet pods pin
/// themselves to their node this way).
pub fn required_node_names(spec: &PodSpec) -> NamedNodes {
    let Some(terms) = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|required| &required.node_selector_terms)
        .filter(|terms| !terms.is_empty())
    else {
        return NamedNodes::Any;
    };
    let mut named = BTreeSet::new();
    for term in terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for requirement in term.match_fields.iter().flatten() {
            if requirement.key == NODE_NAME_FIELD && requirement.operator == "In" {
                let values: BTreeSet<String> =
                    requirement.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => values,
                    Some(previous) => previous.intersection(&values).cloned().collect(),
                });
            }
        }
        match term_names {
            // The terms are ORed: one that names no node lets every node through.
            None => return NamedNodes::Any,
            Some(names) => named.extend(names),
        }
    }
    if named.is_empty() {
        NamedNodes::Conflict
    } else {
        NamedNodes::Only(named)
    }
}

/// NodeAffinity's score before normalisation: the weights of the preferred terms the node
/// matches, added up.
pub fn preferred_score(
    spec: &PodSpec,
    node_name: &str,
    node_labels: &BTreeMap<String, String>,
) -> i64 {
    spec.affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .filter(|term| term_matches(&term.preference, node_name, node_labels))
        .map(|term| i64::from(term.weight))
        .sum()
}

/// Whether the pod has preferred node affinity terms at all (without them the score is
/// skipped).
pub fn has_preferred_terms(spec: &PodSpec) -> bool {
    spec.affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| {
            affinity
                .preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_some_and(|terms| !terms.is_empty())
}

/// All of a term's expressions and fields match; a term with neither matches no node.
fn term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    node_labels: &BTreeMap<String, String>,
) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|requirement| expression_matches(requirement, node_labels))
        && fields
            .iter()
            .all(|requirement| field_matches(requirement, node_name))
}

/// A label requirement. One Kubernetes would refuse to turn into a selector (values where
/// none belong, none where some do, a bound that is not an integer) matches nothing.
fn expression_matches(
    requirement: &NodeSelectorRequirement,
    node_labels: &BTreeMap<String, String>,
) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let label = node_labels.get(&requirement.key);
    match requirement.operator.as_str() {
        "In" => !values.is_empty() && label.is_some_and(|label| values.contains(label)),
        "NotIn" => !values.is_empty() && label.is_none_or(|label| !values.contains(label)),
        "Exists" => values.is_empty() && label.is_some(),
        "DoesNotExist" => values.is_empty() && label.is_none(),
        operator @ ("Gt" | "Lt") => {
            let [bound] = values else {
                return false;
            };
            let (Ok(bound), Some(Ok(label))) = (
                bound.parse::<i64>(),
                label.map(|label| label.parse::<i64>()),
            ) else {
                return false;
            };
            if operator == "Gt" {
                label > bound
            } else {
                label < bound
            }
        }
        _ => false,
    }
}

/// A field requirement: only the node's name, compared with one value.
fn field_matches(requirement: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    match (
        requirement.key.as_str(),
        requirement.operator.as_str(),
        values,
    ) {
        (NODE_NAME_FIELD, "In", [name]) => name == node_name,
        (NODE_NAME_FIELD, "NotIn", [name]) => name != node_name,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("zone".to_owned(), "east".to_owned()),
            ("cores".to_owned(), "8".to_owned()),
        ])
    }

    fn spec(spec: Value) -> PodSpec {
        let mut spec = spec;
        spec["containers"] = json!([]);
        serde_json::from_value(spec).expect("a pod spec")
    }

    fn with_terms(terms: Value) -> PodSpec {
        spec(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms},
        }}}))
    }

    fn expression(key: &str, operator: &str, values: Value) -> PodSpec {
        with_terms(
            json!([{"matchExpressions": [{"key": key, "operator": operator, "values": values}]}]),
        )
    }

    #[test]
    fn node_selector_needs_every_label() {
        assert!(node_matches(&spec(json!({})), "n1", &labels()));
        assert!(node_matches(
            &spec(json!({"nodeSelector": {"zone": "east"}})),
            "n1",
            &labels()
        ));
        assert!(!node_matches(
            &spec(json!({"nodeSelector": {"zone": "east", "disk": "ssd"}})),
            "n1",
            &labels()
        ));
    }

    #[test]
    fn expressions_follow_kubernetes_operators() {
        for (key, operator, values, expected) in [
            ("zone", "In", json!(["east", "west"]), true),
            ("zone", "In", json!(["west"]), false),
            ("zone", "In", json!([]), false),
            ("zone", "NotIn", json!(["west"]), true),
            ("missing", "NotIn", json!(["west"]), true),
            ("zone", "NotIn", json!(["east"]), false),
            ("zone", "Exists", json!([]), true),
            ("zone", "Exists", json!(["east"]), false),
            ("missing", "DoesNotExist", json!([]), true),
            ("zone", "DoesNotExist", json!([]), false),
            ("cores", "Gt", json!(["4"]), true),
            ("cores", "Gt", json!(["8"]), false),
            ("cores", "Lt", json!(["16"]), true),
            ("cores", "Lt", json!(["4", "16"]), false),
            ("zone", "Gt", json!(["4"]), false),
            ("cores", "Gt", json!(["four"]), false),
            ("zone", "Equals", json!(["east"]), false),
        ] {
            assert_eq!(
                node_matches(&expression(key, operator, values.clone()), "n1", &labels()),
                expected,
                "{key} {operator} {values}"
            );
        }
    }

    #[test]
    fn terms_are_ored_and_their_requirements_anded() {
        let either = with_terms(json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["west"]}]},
            {"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["east"]},
                {"key": "cores", "operator": "Gt", "values": ["2"]},
            ]},
        ]));
        assert!(node_matches(&either, "n1", &labels()));
        let both = with_terms(json!([{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["east"]},
            {"key": "cores", "operator": "Gt", "values": ["10"]},
        ]}]));
        assert!(!node_matches(&both, "n1", &labels()));
        assert!(!node_matches(&with_terms(json!([{}])), "n1", &labels()));
        assert!(!node_matches(&with_terms(json!([])), "n1", &labels()));
    }

    #[test]
    fn the_pre_filter_keeps_only_nodes_every_term_names() {
        let pinned = with_terms(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]},
            {"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["n3", "n4"]},
                {"key": "metadata.name", "operator": "In", "values": ["n4", "n5"]},
            ]},
        ]));
        assert_eq!(
            required_node_names(&pinned),
            NamedNodes::Only(["n1", "n2", "n4"].map(str::to_owned).into())
        );
        let open = with_terms(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east"]}]},
        ]));
        assert_eq!(required_node_names(&open), NamedNodes::Any);
        let conflicting = with_terms(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["n1"]},
            {"key": "metadata.name", "operator": "In", "values": ["n2"]},
        ]}]));
        assert_eq!(required_node_names(&conflicting), NamedNodes::Conflict);
        assert_eq!(required_node_names(&spec(json!({}))), NamedNodes::Any);
    }

    #[test]
    fn preferred_terms_add_up_the_weights_they_match() {
        let preferring = spec(json!({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}},
                {"weight": 70, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["west"]}]}},
                {"weight": 1, "preference": {}},
            ],
        }}}));
        assert!(has_preferred_terms(&preferring));
        assert_eq!(preferred_score(&preferring, "n1", &labels()), 25);
        assert_eq!(preferred_score(&preferring, "n1", &BTreeMap::new()), 0);
        assert!(!has_preferred_terms(&spec(json!({}))));
    }

    #[test]
    fn fields_match_the_node_name() {
        let named = |operator: &str| {
            with_terms(
                json!([{"matchFields": [{"key": "metadata.name", "operator": operator, "values": ["n1"]}]}]),
            )
        };
        assert!(node_matches(&named("In"), "n1", &labels()));
        assert!(!node_matches(&named("In"), "n2", &labels()));
        assert!(node_matches(&named("NotIn"), "n2", &labels()));
        assert!(!node_matches(&named("Exists"), "n1", &labels()));
    }
}
