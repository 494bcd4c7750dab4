//! Label selectors as the scheduler applies them to pods and namespaces, compiled once
//! from a `LabelSelector` the way Kubernetes' `metav1.LabelSelectorAsSelector` does: no
//! selector selects nothing, an empty one selects everything, and every `matchLabels`
//! entry and `matchExpressions` requirement must hold.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Why a selector cannot be used; the API server's validation refuses such selectors, so
/// these only reach the scheduler through objects stored before it did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("{operator:?} is not a valid label selector operator")]
    UnknownOperator { operator: String },
    #[error("for 'in', 'notin' operators, values set can't be empty")]
    ValuesRequired,
    #[error("values set must be empty for exists and does not exist")]
    ValuesForbidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// One requirement on one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match &self.operator {
            Operator::In(values) => value.is_some_and(|value| values.contains(value)),
            Operator::NotIn(values) => value.is_none_or(|value| !values.contains(value)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A compiled label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// What an absent selector selects.
    Nothing,
    /// Everything whose labels meet every requirement (none: everything).
    Requirements(Vec<Requirement>),
}

impl Selector {
    pub fn compile(selector: Option<&LabelSelector>) -> Result<Selector, SelectorError> {
        let Some(selector) = selector else {
            return Ok(Selector::Nothing);
        };
        let mut requirements: Vec<Requirement> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(key, value)| Requirement {
                key: key.clone(),
                operator: Operator::In(vec![value.clone()]),
            })
            .collect();
        for expression in selector.match_expressions.iter().flatten() {
            let values = expression.values.clone().unwrap_or_default();
            let operator = match expression.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => return Err(SelectorError::ValuesRequired),
                "In" => Operator::In(values),
                "NotIn" => Operator::NotIn(values),
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(SelectorError::ValuesForbidden);
                }
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::UnknownOperator {
                        operator: other.to_owned(),
                    });
                }
            };
            requirements.push(Requirement {
                key: expression.key.clone(),
                operator,
            });
        }
        Ok(Selector::Requirements(requirements))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Requirements(requirements) => requirements
                .iter()
                .all(|requirement| requirement.matches(labels)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(selector: serde_json::Value) -> Result<Selector, SelectorError> {
        let selector: LabelSelector = serde_json::from_value(selector).expect("a selector");
        Selector::compile(Some(&selector))
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn no_selector_selects_nothing_and_an_empty_one_everything() {
        assert!(
            !Selector::compile(None)
                .expect("valid")
                .matches(&labels(&[]))
        );
        let everything = compile(json!({})).expect("valid");
        assert!(everything.matches(&labels(&[])));
        assert!(everything.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn labels_and_expressions_must_all_hold() {
        let selector = compile(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["west"]},
                {"key": "team", "operator": "Exists"},
            ],
        }))
        .expect("valid");
        let matching = [("app", "web"), ("tier", "edge"), ("team", "a")];
        assert!(selector.matches(&labels(&matching)));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("team", "a"),
            ("canary", "yes"),
        ])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "back"), ("team", "a")])));
        assert!(!selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("team", "a"),
            ("zone", "west"),
        ])));
    }

    #[test]
    fn malformed_requirements_are_refused_with_kubernetes_words() {
        let refused = |expression: serde_json::Value| {
            compile(json!({"matchExpressions": [expression]}))
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refused(json!({"key": "a", "operator": "In", "values": []})),
            "for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            refused(json!({"key": "a", "operator": "Exists", "values": ["x"]})),
            "values set must be empty for exists and does not exist"
        );
        assert_eq!(
            refused(json!({"key": "a", "operator": "Like", "values": ["x"]})),
            "\"Like\" is not a valid label selector operator"
        );
    }
}
