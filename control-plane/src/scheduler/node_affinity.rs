//! Whether a node is one the pod asks for: its `nodeSelector` and its required node
//! affinity, matched as Kubernetes' NodeAffinity plugin (`nodeaffinity.RequiredNodeAffinity`)
//! matches them.

use std::collections::BTreeMap;

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
