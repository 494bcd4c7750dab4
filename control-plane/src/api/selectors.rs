//! Label and field selectors, with Kubernetes' syntax and its list of selectable fields.

use std::collections::BTreeMap;

use serde_json::Value;

use super::status::{ApiError, ApiResult};

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

fn parse_set(key: &str, rest: &str, selector: &str) -> ApiResult<Vec<String>> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'));
    let inner = inner.ok_or_else(|| ApiError::bad_request(format!("unable to parse requirement: found '{rest}', expected: '(' in {selector:?} for key {key}")))?;
    Ok(inner
        .split(',')
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect())
}

impl LabelSelector {
    pub fn parse(selector: &str) -> ApiResult<Self> {
        let mut requirements = Vec::new();
        for part in split_top_level(selector) {
            let requirement = if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_owned(), parse_set(key, rest, selector)?)
            } else if let Some((key, rest)) = part.split_once(" in ") {
                Requirement::In(key.trim().to_owned(), parse_set(key, rest, selector)?)
            } else if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(key.trim().to_owned())
            } else if part
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "-_./".contains(character))
            {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(ApiError::bad_request(format!(
                    "unable to parse requirement: {part:?} in label selector {selector:?}"
                )));
            };
            requirements.push(requirement);
        }
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels: BTreeMap<&str, &str> = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(key, value) => {
                    labels.get(key.as_str()) == Some(&value.as_str())
                }
                Requirement::NotEquals(key, value) => {
                    labels.get(key.as_str()) != Some(&value.as_str())
                }
                Requirement::In(key, values) => labels
                    .get(key.as_str())
                    .is_some_and(|label| values.iter().any(|value| value == label)),
                Requirement::NotIn(key, values) => labels
                    .get(key.as_str())
                    .is_none_or(|label| values.iter().all(|value| value != label)),
                Requirement::Exists(key) => labels.contains_key(key.as_str()),
                Requirement::DoesNotExist(key) => !labels.contains_key(key.as_str()),
            })
    }
}

/// Field selectors: `metadata.name`, `metadata.namespace` everywhere, plus each kind's
/// own selectable fields, as the Kubernetes API server allows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<(String, bool, String)>,
}

fn selectable_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Secret" => &["type"],
        "Node" => &["spec.unschedulable"],
        "Namespace" => &["status.phase"],
        "ReplicaSet" => &["status.replicas"],
        "Job" => &["status.successful"],
        _ => &[],
    }
}

/// The value a field selector compares, as Kubernetes renders it (booleans as text,
/// Event's `source` as its component).
fn field_value(object: &Value, field: &str) -> String {
    let path = if field == "source" {
        "/source/component".to_owned()
    } else {
        format!("/{}", field.replace('.', "/"))
    };
    match object.pointer(&path) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::Number(number)) => number.to_string(),
        _ if field == "spec.unschedulable" || field == "spec.hostNetwork" => "false".to_owned(),
        _ => String::new(),
    }
}

impl FieldSelector {
    pub fn parse(selector: &str, kind: &str) -> ApiResult<Self> {
        let mut requirements = Vec::new();
        for part in split_top_level(selector) {
            let (field, equal, value) = if let Some((field, value)) = part.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                (field, true, value)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if !["metadata.name", "metadata.namespace"].contains(&field)
                && !selectable_fields(kind).contains(&field)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            requirements.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements
            .iter()
            .all(|(field, equal, value)| (field_value(object, field) == *value) == *equal)
    }

    /// The namespace this selector pins, which lets a list read a narrower key range.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// Both selectors of a request.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_follow_kubernetes_syntax() {
        let object = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (selector, expected) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("tier notin (front)", false),
            ("app,!missing", true),
            ("missing", false),
            ("env notin (prod)", true),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(selector).unwrap().matches(&object),
                expected,
                "{selector}"
            );
        }
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b c").is_err());
    }

    #[test]
    fn field_selectors_allow_only_selectable_fields() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(
            FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed", "Pod")
                .unwrap()
                .matches(&pod)
        );
        assert!(
            !FieldSelector::parse("metadata.name=q", "Pod")
                .unwrap()
                .matches(&pod)
        );
        assert!(
            FieldSelector::parse("spec.nodeName=", "Pod")
                .unwrap()
                .matches(&json!({"metadata": {}}))
        );
        let error = FieldSelector::parse("spec.image=x", "Pod").unwrap_err();
        assert_eq!(error.message, "field label not supported: spec.image");
        let event = json!({"involvedObject": {"name": "p", "uid": "u"}, "source": {"component": "kubelet"}});
        assert!(
            FieldSelector::parse(
                "involvedObject.name=p,involvedObject.uid=u,source=kubelet",
                "Event"
            )
            .unwrap()
            .matches(&event)
        );
    }
}
