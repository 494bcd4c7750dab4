//! Label keys and values, annotations and label selectors, validated with Kubernetes' messages,
//! and label-selector matching.

use serde_json::{Map, Value, json};

use crate::field_error::FieldError;
use crate::names::{dns1123_subdomain_problems, max_length_message, regex_message};

const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
const QUALIFIED_NAME_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_RULE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
/// Kubernetes' `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

/// Matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_name_part(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn qualified_name_regex_message() -> String {
    regex_message(
        QUALIFIED_NAME_RULE,
        QUALIFIED_NAME_REGEX,
        &["MyName", "my.name", "123-abc"],
    )
}

/// Kubernetes' `IsQualifiedName`: label keys, annotation keys, finalizers.
pub fn qualified_name_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else {
                for problem in dns1123_subdomain_problems(prefix) {
                    problems.push(format!("prefix part {problem}"));
                }
            }
            *name
        }
        _ => {
            problems.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                qualified_name_regex_message()
            ));
            return problems;
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        problems.push(format!(
            "name part {}",
            max_length_message(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        problems.push(format!("name part {}", qualified_name_regex_message()));
    }
    problems
}

/// Kubernetes' `IsValidLabelValue`.
pub fn label_value_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > QUALIFIED_NAME_MAX_LENGTH {
        problems.push(max_length_message(QUALIFIED_NAME_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        problems.push(regex_message(
            LABEL_VALUE_RULE,
            &format!("({QUALIFIED_NAME_REGEX})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    problems
}

/// Kubernetes' `ValidateLabels`: every problem is reported against the map's own path.
pub fn validate_labels(labels: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(labels) = labels.and_then(Value::as_object) else {
        return errors;
    };
    for (key, value) in labels {
        for problem in qualified_name_problems(key) {
            errors.push(FieldError::invalid(path, json!(key), problem));
        }
        let text = value.as_str().unwrap_or_default();
        for problem in label_value_problems(text) {
            errors.push(FieldError::invalid(path, json!(text), problem));
        }
    }
    errors
}

/// Kubernetes' `ValidateAnnotations`: keys are qualified names ignoring case, and keys plus
/// values may not exceed 256 KiB in total.
pub fn validate_annotations(annotations: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(annotations) = annotations.and_then(Value::as_object) else {
        return errors;
    };
    let mut total_size = 0;
    for (key, value) in annotations {
        for problem in qualified_name_problems(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, json!(key), problem));
        }
        total_size += key.len() + value.as_str().map_or(0, str::len);
    }
    if total_size > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errors.push(FieldError::too_long(
            path,
            TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
        ));
    }
    errors
}

/// Kubernetes' `ValidateLabelSelector` for a `metav1.LabelSelector`.
pub fn validate_label_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = validate_labels(selector.get("matchLabels"), &format!("{path}.matchLabels"));
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    for (index, expression) in expressions.into_iter().flatten().enumerate() {
        let expression_path = format!("{path}.matchExpressions[{index}]");
        let operator = expression
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let values = expression.get("values").and_then(Value::as_array);
        let value_count = values.map_or(0, Vec::len);
        match operator {
            "In" | "NotIn" if value_count == 0 => errors.push(FieldError::required(
                format!("{expression_path}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if value_count > 0 => errors.push(FieldError::forbidden(
                format!("{expression_path}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(FieldError::invalid(
                format!("{expression_path}.operator"),
                json!(other),
                "not a valid selector operator",
            )),
        }
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for problem in qualified_name_problems(key) {
            errors.push(FieldError::invalid(
                format!("{expression_path}.key"),
                json!(key),
                problem,
            ));
        }
        for (value_index, value) in values.into_iter().flatten().enumerate() {
            let text = value.as_str().unwrap_or_default();
            for problem in label_value_problems(text) {
                errors.push(FieldError::invalid(
                    format!("{expression_path}.values[{value_index}]"),
                    json!(text),
                    problem,
                ));
            }
        }
    }
    errors
}

/// True when the selector has neither `matchLabels` nor `matchExpressions` entries.
pub fn selector_is_empty(selector: &Value) -> bool {
    let count = |name: &str| {
        selector.get(name).map_or(0, |value| {
            value.as_object().map_or(0, Map::len) + value.as_array().map_or(0, Vec::len)
        })
    };
    count("matchLabels") + count("matchExpressions") == 0
}

/// Whether `labels` satisfy a `metav1.LabelSelector`; an empty selector matches everything.
pub fn selector_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let empty = Map::new();
    let labels = labels.and_then(Value::as_object).unwrap_or(&empty);
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_match = match_labels
        .into_iter()
        .flatten()
        .all(|(key, wanted)| label(key).is_some() && label(key) == wanted.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_match = expressions.into_iter().flatten().all(|expression| {
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expression.get("operator").and_then(Value::as_str) {
            Some("In") => label(key).is_some_and(|value| values.contains(&value)),
            Some("NotIn") => label(key).is_none_or(|value| !values.contains(&value)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values() {
        assert!(qualified_name_problems("app.kubernetes.io/name").is_empty());
        assert_eq!(
            qualified_name_problems("/a"),
            vec!["prefix part must be non-empty".to_string()]
        );
        assert_eq!(
            qualified_name_problems("-a"),
            vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()]
        );
        assert_eq!(
            qualified_name_problems("a/b/c"),
            vec!["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_string()]
        );
        assert!(label_value_problems("").is_empty());
        assert_eq!(
            label_value_problems("bad value"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string()]
        );
        assert_eq!(
            label_value_problems(&"a".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
    }

    #[test]
    fn label_and_annotation_maps() {
        let errors = validate_labels(
            Some(&json!({"app": "web", "bad key": "x"})),
            "metadata.labels",
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message().starts_with(
                "metadata.labels: Invalid value: \"bad key\": name part must consist of"
            )
        );
        let huge = json!({"big": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)});
        let errors = validate_annotations(Some(&huge), "metadata.annotations");
        assert_eq!(
            errors.iter().map(FieldError::message).collect::<Vec<_>>(),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes".to_string()]
        );
        assert!(
            validate_annotations(
                Some(&json!({"Example.COM/Thing": "x"})),
                "metadata.annotations"
            )
            .is_empty()
        );
    }

    #[test]
    fn selectors_validate_and_match() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        assert!(validate_label_selector(&selector, "spec.selector").is_empty());
        assert!(selector_matches(
            &selector,
            Some(&json!({"app": "web", "tier": "a"}))
        ));
        assert!(!selector_matches(
            &selector,
            Some(&json!({"app": "web", "tier": "c"}))
        ));
        assert!(!selector_matches(&selector, None));
        assert!(selector_matches(&json!({}), None));
        assert!(selector_is_empty(&json!({"matchLabels": {}})));
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "Has"}, {"key": "k", "operator": "In"}]});
        let messages: Vec<String> = validate_label_selector(&bad, "spec.selector")
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            messages,
            vec![
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Has\": not a valid selector operator".to_string(),
                "spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_string(),
            ]
        );
    }
}
