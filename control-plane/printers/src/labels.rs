//! Label maps and label selectors as text, like apimachinery's `labels.FormatLabels`,
//! `metav1.LabelSelectorAsSelector(...).String()` and `metav1.FormatLabelSelector`.

use serde_json::Value;

use crate::object_fields::{array_at, string_at};

/// Why a label selector could not be turned into a selector string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LabelSelectorError {
    #[error("{operator:?} is not a valid label selector operator")]
    UnknownOperator { operator: String },
    #[error("for 'in', 'notin' operators, values set can't be empty")]
    MissingValues,
    #[error("values set must be empty for exists and does not exist")]
    UnexpectedValues,
}

/// Formats a label map as "key=value" pairs sorted by key and joined by commas, or
/// "<none>" when there are no labels.
pub(crate) fn format_labels(labels: Option<&Value>) -> String {
    let mut pairs: Vec<(&str, &str)> = labels
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    // serde_json may keep insertion order (its `preserve_order` feature), while Kubernetes
    // always prints labels sorted by key.
    pairs.sort_unstable();
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// One requirement of a selector, kept with its key so the list can be sorted by key.
struct Requirement {
    key: String,
    text: String,
}

/// Turns a `metav1.LabelSelector` into its selector string, such as
/// "app=web,tier in (backend,frontend)". A missing or empty selector gives "".
pub(crate) fn label_selector_string(
    selector: Option<&Value>,
) -> Result<String, LabelSelectorError> {
    let Some(selector) = selector.filter(|selector| selector.is_object()) else {
        return Ok(String::new());
    };
    let mut requirements = Vec::new();
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in match_labels {
            requirements.push(Requirement {
                key: key.clone(),
                text: format!("{key}={}", value.as_str().unwrap_or_default()),
            });
        }
    }
    for expression in array_at(selector, &["matchExpressions"]) {
        requirements.push(expression_requirement(expression)?);
    }
    // Kubernetes sorts a selector's requirements by key before printing them.
    requirements.sort_by(|left, right| left.key.cmp(&right.key));
    let texts: Vec<String> = requirements
        .into_iter()
        .map(|requirement| requirement.text)
        .collect();
    Ok(texts.join(","))
}

fn expression_requirement(expression: &Value) -> Result<Requirement, LabelSelectorError> {
    let key = string_at(expression, &["key"]).to_string();
    let operator = string_at(expression, &["operator"]);
    let mut values: Vec<&str> = array_at(expression, &["values"])
        .iter()
        .map(|value| value.as_str().unwrap_or_default())
        .collect();
    values.sort_unstable();
    values.dedup();
    let text = match operator {
        "In" | "NotIn" => {
            if values.is_empty() {
                return Err(LabelSelectorError::MissingValues);
            }
            let word = if operator == "In" { "in" } else { "notin" };
            format!("{key} {word} ({})", values.join(","))
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                return Err(LabelSelectorError::UnexpectedValues);
            }
            if operator == "Exists" {
                key.clone()
            } else {
                format!("!{key}")
            }
        }
        other => {
            return Err(LabelSelectorError::UnknownOperator {
                operator: other.to_string(),
            });
        }
    };
    Ok(Requirement { key, text })
}

/// Like `metav1.FormatLabelSelector`: the selector string, "<none>" when it selects by no
/// labels, or "<error>" when the selector is invalid.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
        Err(_) => "<error>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_sorted_pairs_or_none() {
        let labels = json!({"tier": "web", "app": "shop", "app-version": "2"});
        assert_eq!(
            format_labels(Some(&labels)),
            "app=shop,app-version=2,tier=web"
        );
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn selectors_combine_labels_and_expressions_sorted_by_key() {
        let selector = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["frontend", "backend"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "zone", "operator": "Exists"}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=web,!canary,env notin (dev),tier in (backend,frontend),zone"
        );
    }

    #[test]
    fn empty_or_missing_selectors_select_nothing_by_label() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(label_selector_string(None), Ok(String::new()));
    }

    #[test]
    fn invalid_selectors_are_errors() {
        let unknown = json!({"matchExpressions": [{"key": "a", "operator": "Near"}]});
        assert_eq!(
            label_selector_string(Some(&unknown)),
            Err(LabelSelectorError::UnknownOperator {
                operator: "Near".to_string()
            })
        );
        assert_eq!(format_label_selector(Some(&unknown)), "<error>");
        let empty_in = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(
            label_selector_string(Some(&empty_in)),
            Err(LabelSelectorError::MissingValues)
        );
        let exists_with_values =
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]});
        assert_eq!(
            label_selector_string(Some(&exists_with_values)),
            Err(LabelSelectorError::UnexpectedValues)
        );
    }
}
