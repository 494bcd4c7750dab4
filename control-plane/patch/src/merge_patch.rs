//! RFC 7386 JSON merge patch (`application/merge-patch+json`).
//!
//! Follows evanphx/json-patch v4's `MergePatch`, which the Kubernetes API
//! server uses: a patch that is not an object is rejected, and nulls inside
//! newly added objects are dropped rather than stored.

use serde_json::{Map, Value};

use crate::PatchError;

/// Applies an RFC 7386 JSON merge patch to a copy of `original`.
pub fn json_merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    match patch {
        Value::Object(patch_map) => {
            let mut document = original.clone();
            match &mut document {
                Value::Object(document_map) => merge_objects(document_map, patch_map),
                // A non-object document is replaced by the (null-free) patch.
                other => *other = without_nulls(patch),
            }
            Ok(document)
        }
        // The merged result would be a list, which no Kubernetes object can be
        // decoded from.
        Value::Array(_) => Err(PatchError::CannotUnmarshal {
            found_json_type: "array",
            expected_go_type: "map[string]interface {}",
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            Err(PatchError::InvalidMergePatch)
        }
    }
}

fn merge_objects(document: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, patch_value) in patch {
        if patch_value.is_null() {
            document.remove(key);
            continue;
        }
        match document.get_mut(key) {
            Some(Value::Object(current)) => match patch_value {
                Value::Object(patch_object) => merge_objects(current, patch_object),
                // An object replaced by a non-object takes the patch value as is.
                other => {
                    document.insert(key.clone(), other.clone());
                }
            },
            Some(current) if !current.is_null() => *current = without_nulls(patch_value),
            _ => {
                document.insert(key.clone(), without_nulls(patch_value));
            }
        }
    }
}

/// Removes null members from objects, at any depth, including objects inside
/// lists; null list elements stay.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, member)| !member.is_null())
                .map(|(key, member)| (key.clone(), without_nulls(member)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
