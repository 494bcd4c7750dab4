//! The behavior annotation of an autoscaling/v1 HorizontalPodAutoscaler. Kubernetes
//! marshals its internal type there, which has no JSON tags: Go's field names
//! (`ScaleUp`, `StabilizationWindowSeconds`, …) and `null` for unset pointers, read back
//! case-insensitively as Go's `encoding/json` reads them.

use serde_json::{Map, Value, json};

/// Go's name of each field of HPAScalingRules and HPAScalingPolicy, with the JSON name.
const RULES_FIELDS: [(&str, &str); 4] = [
    ("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
    ("SelectPolicy", "selectPolicy"),
    ("Policies", "policies"),
    ("Tolerance", "tolerance"),
];
const POLICY_FIELDS: [(&str, &str); 3] = [
    ("Type", "type"),
    ("Value", "value"),
    ("PeriodSeconds", "periodSeconds"),
];
const DIRECTIONS: [(&str, &str); 2] = [("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown")];

fn renamed(value: &Value, fields: &[(&str, &str)], from_go: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (go_name, json_name) in fields {
        let (from, to) = if from_go {
            (*go_name, *json_name)
        } else {
            (*json_name, *go_name)
        };
        let found = if from_go {
            case_insensitive(value, from)
        } else {
            value.get(from)
        };
        let found = found.cloned().unwrap_or(Value::Null);
        // Go writes every field; v2's JSON leaves unset ones out.
        if !from_go || !found.is_null() {
            out.insert(to.to_owned(), found);
        }
    }
    out
}

fn case_insensitive<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn rules(value: &Value, from_go: bool) -> Value {
    let mut rules = renamed(value, &RULES_FIELDS, from_go);
    let policies_key = if from_go { "policies" } else { "Policies" };
    if let Some(Value::Array(policies)) = rules.get_mut(policies_key) {
        for policy in policies.iter_mut() {
            *policy = Value::Object(renamed(policy, &POLICY_FIELDS, from_go));
        }
    }
    Value::Object(rules)
}

/// A v2 `spec.behavior` as the annotation holds it.
pub fn to_go_fields(behavior: &Value) -> Value {
    let mut out = Map::new();
    for (go_name, json_name) in DIRECTIONS {
        let direction = behavior
            .get(json_name)
            .filter(|rules| !rules.is_null())
            .map_or(Value::Null, |found| rules(found, false));
        out.insert(go_name.to_owned(), direction);
    }
    Value::Object(out)
}

/// The annotation's behavior as v2's `spec.behavior`; None when it is malformed or
/// names neither direction, which Kubernetes ignores.
pub fn from_go_fields(text: &str) -> Option<Value> {
    let parsed: Value = serde_json::from_str(text).ok()?;
    parsed.as_object()?;
    let mut out = Map::new();
    for (go_name, json_name) in DIRECTIONS {
        if let Some(found) = case_insensitive(&parsed, go_name).filter(|rules| rules.is_object()) {
            out.insert(json_name.to_owned(), rules(found, true));
        }
    }
    (!out.is_empty()).then(|| json!(out))
}
