//! The pure part of kubectl's client-side apply: the last-applied-configuration
//! annotation and the three-way patch from (last applied, new config, live object).

use serde_json::{Map, Value};

/// The annotation kubectl's client-side apply keeps the previously applied config in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The text stored in the annotation: the config with the annotation itself removed
/// (leaving an empty `annotations` map, as kubectl does), compact JSON with sorted keys,
/// followed by a newline.
pub fn last_applied_text(config: &Value) -> String {
    let mut stripped = config.clone();
    if let Some(metadata) = stripped.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.remove(LAST_APPLIED_ANNOTATION);
        }
    }
    let mut text = stripped.to_string();
    text.push('\n');
    text
}

/// The config as it is sent to the server: with the last-applied annotation set to
/// [`last_applied_text`] of itself.
pub fn config_with_last_applied(config: &Value) -> Value {
    let annotation_value = last_applied_text(config);
    let mut modified = config.clone();
    if let Some(object) = modified.as_object_mut() {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(
                    LAST_APPLIED_ANNOTATION.to_string(),
                    Value::String(annotation_value),
                );
            }
        }
    }
    modified
}

/// Reads and parses the last-applied annotation of a live object, if it has one.
pub fn last_applied_of(live: &Value) -> Option<Value> {
    live.pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(LAST_APPLIED_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok())
}

/// Computes the patch that turns `live` into `modified` without touching fields nobody
/// applied: every key of `modified` whose value differs from `live` (maps recursively),
/// plus `null` for keys that the previous apply (`last_applied`) set but `modified` no
/// longer has. An empty object means the apply changes nothing ("unchanged").
///
/// Lists are compared element by element (so server-defaulted fields inside list items do
/// not count as a change) and, when they differ, sent whole.
pub fn three_way_patch(last_applied: Option<&Value>, modified: &Value, live: &Value) -> Value {
    let empty = Map::new();
    let modified_map = modified.as_object().unwrap_or(&empty);
    let live_map = live.as_object().unwrap_or(&empty);
    let last_applied_map = last_applied.and_then(Value::as_object);
    Value::Object(three_way_map(last_applied_map, modified_map, live_map))
}

fn three_way_map(
    last_applied: Option<&Map<String, Value>>,
    modified: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, modified_value) in modified {
        let previous = last_applied.and_then(|map| map.get(key));
        match (modified_value, live.get(key)) {
            (Value::Object(modified_child), Some(Value::Object(live_child))) => {
                let child_patch = three_way_map(
                    previous.and_then(Value::as_object),
                    modified_child,
                    live_child,
                );
                if !child_patch.is_empty() {
                    patch.insert(key.clone(), Value::Object(child_patch));
                }
            }
            (modified_value, Some(live_value)) if !covers(previous, modified_value, live_value) => {
                patch.insert(key.clone(), modified_value.clone());
            }
            (_, Some(_)) => {}
            (modified_value, None) => {
                patch.insert(key.clone(), modified_value.clone());
            }
        }
    }
    if let Some(last_applied) = last_applied {
        for key in last_applied.keys() {
            if !modified.contains_key(key) && live.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    patch
}

/// True when `live` already says everything `modified` says: equal scalars, maps whose
/// three-way patch is empty, or equally long lists whose items each cover.
fn covers(previous: Option<&Value>, modified: &Value, live: &Value) -> bool {
    match (modified, live) {
        (Value::Object(modified_map), Value::Object(live_map)) => {
            three_way_map(previous.and_then(Value::as_object), modified_map, live_map).is_empty()
        }
        (Value::Array(modified_items), Value::Array(live_items)) => {
            let previous_items = previous.and_then(Value::as_array);
            modified_items.len() == live_items.len()
                && modified_items.iter().zip(live_items).enumerate().all(
                    |(index, (modified_item, live_item))| {
                        let previous_item = previous_items.and_then(|items| items.get(index));
                        covers(previous_item, modified_item, live_item)
                    },
                )
        }
        _ => modified == live,
    }
}

/// Built-in API groups understand strategic merge patch; custom resources only take
/// JSON merge patch, which is what kubectl falls back to for them too.
pub fn supports_strategic_merge(group: &str) -> bool {
    group.is_empty()
        || group.ends_with(".k8s.io")
        || matches!(group, "apps" | "batch" | "autoscaling" | "policy")
}

#[cfg(test)]
#[path = "apply_patch_tests.rs"]
mod tests;
