//! Field-level validation errors, rendered exactly like apimachinery's `field.Error`.

use serde_json::Value;

/// The kind of problem with a field; each maps to a Kubernetes `StatusCause` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorReason {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorReason {
    /// The `StatusCause.reason` value Kubernetes reports for this kind of problem.
    pub fn cause_type(&self) -> &'static str {
        match self {
            FieldErrorReason::Required => "FieldValueRequired",
            FieldErrorReason::Invalid => "FieldValueInvalid",
            FieldErrorReason::NotSupported => "FieldValueNotSupported",
            FieldErrorReason::Duplicate => "FieldValueDuplicate",
            FieldErrorReason::Forbidden => "FieldValueForbidden",
            FieldErrorReason::TooLong => "FieldValueTooLong",
            FieldErrorReason::TooMany => "FieldValueTooMany",
            FieldErrorReason::NotFound => "FieldValueNotFound",
        }
    }

    /// The human words Kubernetes prints for this kind of problem (`ErrorType.String()`).
    fn words(&self) -> &'static str {
        match self {
            FieldErrorReason::Required => "Required value",
            FieldErrorReason::Invalid => "Invalid value",
            FieldErrorReason::NotSupported => "Unsupported value",
            FieldErrorReason::Duplicate => "Duplicate value",
            FieldErrorReason::Forbidden => "Forbidden",
            FieldErrorReason::TooLong => "Too long",
            FieldErrorReason::TooMany => "Too many",
            FieldErrorReason::NotFound => "Not found",
        }
    }
}

/// One field problem, rendered by the API server as Kubernetes does: `<field>: <message>`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub reason: FieldErrorReason,
    pub field: String,
    pub detail: String,
    pub bad_value: Option<Value>,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            reason: FieldErrorReason::Required,
            field: field.into(),
            detail: detail.into(),
            bad_value: None,
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        bad_value: Value,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError {
            reason: FieldErrorReason::Invalid,
            field: field.into(),
            detail: detail.into(),
            bad_value: Some(bad_value),
        }
    }

    /// An enumerated field holding a value outside `supported`; the detail lists them quoted.
    pub fn not_supported(
        field: impl Into<String>,
        bad_value: Value,
        supported: &[&str],
    ) -> FieldError {
        let quoted: Vec<String> = supported.iter().map(|value| go_quote(value)).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError {
            reason: FieldErrorReason::NotSupported,
            field: field.into(),
            detail,
            bad_value: Some(bad_value),
        }
    }

    pub fn duplicate(field: impl Into<String>, bad_value: Value) -> FieldError {
        FieldError {
            reason: FieldErrorReason::Duplicate,
            field: field.into(),
            detail: String::new(),
            bad_value: Some(bad_value),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            reason: FieldErrorReason::Forbidden,
            field: field.into(),
            detail: detail.into(),
            bad_value: None,
        }
    }

    pub fn not_found(field: impl Into<String>, bad_value: Value) -> FieldError {
        FieldError {
            reason: FieldErrorReason::NotFound,
            field: field.into(),
            detail: String::new(),
            bad_value: Some(bad_value),
        }
    }

    /// A value longer than `max_bytes`; Kubernetes never echoes the too-long value.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> FieldError {
        FieldError {
            reason: FieldErrorReason::TooLong,
            field: field.into(),
            detail: format!("may not be more than {max_bytes} bytes"),
            bad_value: None,
        }
    }

    /// Kubernetes' `field.Error.Error()` text, e.g. `spec.containers[0].image: Required value`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    /// Kubernetes' `ErrorBody()`: the words for the reason, the bad value when it is shown, and
    /// the detail.
    pub fn body(&self) -> String {
        let mut body = self.reason.words().to_string();
        let shows_value = !matches!(
            self.reason,
            FieldErrorReason::Required | FieldErrorReason::Forbidden | FieldErrorReason::TooLong
        );
        if shows_value && let Some(value) = &self.bad_value {
            body.push_str(": ");
            body.push_str(&render_go_value(value));
        }
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

/// Quotes a string the way Go's `strconv.Quote` (and so `%q`) does.
pub fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            other if (other as u32) < 0x20 || other as u32 == 0x7f => {
                quoted.push_str(&format!("\\x{:02x}", other as u32));
            }
            other if other.is_control() => {
                quoted.push_str(&format!("\\u{:04x}", other as u32));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// Renders a bad value as Go's `%v`/`%q`/`%#v` would for the Go type Kubernetes holds there:
/// strings quoted, numbers and booleans bare, string maps as `map[string]string{...}`, label
/// selectors as `v1.LabelSelector{...}`, and anything else as JSON.
pub fn render_go_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(text) => go_quote(text),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Object(map) if is_label_selector(map) => render_label_selector(map),
        Value::Object(map) if map.values().all(Value::is_string) => render_string_map(map),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items.iter().map(render_go_value).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        other => other.to_string(),
    }
}

fn is_label_selector(map: &serde_json::Map<String, Value>) -> bool {
    !map.is_empty()
        && map
            .keys()
            .all(|key| key == "matchLabels" || key == "matchExpressions")
}

fn render_string_map(map: &serde_json::Map<String, Value>) -> String {
    if map.is_empty() {
        return "map[string]string{}".to_string();
    }
    let entries: Vec<String> = map
        .iter()
        .map(|(key, value)| format!("{}:{}", go_quote(key), render_go_value(value)))
        .collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

fn render_label_selector(map: &serde_json::Map<String, Value>) -> String {
    let match_labels = match map.get("matchLabels").and_then(Value::as_object) {
        Some(labels) if !labels.is_empty() => render_string_map(labels),
        _ => "map[string]string(nil)".to_string(),
    };
    let match_expressions = match map.get("matchExpressions").and_then(Value::as_array) {
        Some(expressions) if !expressions.is_empty() => {
            let rendered: Vec<String> = expressions
                .iter()
                .map(render_selector_requirement)
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
        _ => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{match_expressions}}}")
}

fn render_selector_requirement(requirement: &Value) -> String {
    let text_of = |name: &str| {
        requirement
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let values = match requirement.get("values").and_then(Value::as_array) {
        Some(values) if !values.is_empty() => {
            let quoted: Vec<String> = values.iter().map(render_go_value).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        _ => "[]string(nil)".to_string(),
    };
    format!(
        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
        go_quote(text_of("key")),
        go_quote(text_of("operator"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_kubernetes_field_errors() {
        assert_eq!(
            FieldError::required("spec.containers[0].image", "").message(),
            "spec.containers[0].image: Required value"
        );
        assert_eq!(
            FieldError::invalid("metadata.name", json!("A_B"), "bad").message(),
            "metadata.name: Invalid value: \"A_B\": bad"
        );
        assert_eq!(
            FieldError::not_supported(
                "spec.restartPolicy",
                json!("Foo"),
                &["Always", "OnFailure", "Never"]
            )
            .message(),
            "spec.restartPolicy: Unsupported value: \"Foo\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        assert_eq!(
            FieldError::invalid(
                "spec.ports[0].port",
                json!(70000),
                "must be between 1 and 65535, inclusive"
            )
            .message(),
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            FieldError::duplicate("spec.containers[1].name", json!("a")).message(),
            "spec.containers[1].name: Duplicate value: \"a\""
        );
        assert_eq!(
            FieldError::not_found("spec.containers[0].volumeMounts[0].name", json!("data"))
                .message(),
            "spec.containers[0].volumeMounts[0].name: Not found: \"data\""
        );
        assert_eq!(
            FieldError::forbidden("spec", "nope").message(),
            "spec: Forbidden: nope"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldErrorReason::NotSupported.cause_type(),
            "FieldValueNotSupported"
        );
    }

    #[test]
    fn go_values_are_rendered_like_fmt() {
        assert_eq!(go_quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\x01\"");
        assert_eq!(
            render_go_value(&json!({"b": "2", "a": "1"})),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(
            render_go_value(&json!({"matchLabels": {"app": "x"}})),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(
            render_go_value(
                &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]})
            ),
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"k\", Operator:\"In\", Values:[]string{\"v\"}}}}"
        );
        assert_eq!(render_go_value(&Value::Null), "null");
    }
}
