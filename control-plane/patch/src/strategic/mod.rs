//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`).
//!
//! This follows apimachinery's strategicpatch package as the API server runs
//! it (`StrategicMergeMapPatch`, merging parallel lists, ignoring unmatched
//! nulls): objects merge key by key, `null` deletes a key, lists declared as
//! merge lists merge element by element by their merge key, and other lists
//! are replaced. The directives `$patch`, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are
//! honoured. Quirks of the Go code that decide observable results are kept on
//! purpose and pointed out where they happen.

mod element_order;
mod lists;

use serde_json::{Map, Value};

use crate::PatchError;
use crate::go_format::{format_as_string_verb, format_map, json_type_name};
use crate::merge_keys::{FieldPatchMetadata, StructPatchSchema, schema_for_kind};

/// The key of the `$patch` directive.
const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// Applies a strategic merge patch to a copy of `original`, an object of the
/// given kind. Kinds without a merge-key table (custom kinds) are patched with
/// every list replaced, like a JSON merge patch, but directives still apply.
pub fn strategic_merge_patch(
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let patch_map = match patch {
        Value::Object(patch_map) => patch_map.clone(),
        // Go decodes `null` into an empty map: the patch changes nothing.
        Value::Null => return Ok(original.clone()),
        other => {
            return Err(PatchError::CannotUnmarshal {
                found_json_type: json_type_name(other),
                expected_go_type: "map[string]interface {}",
            });
        }
    };
    let Value::Object(original_map) = original else {
        return Err(PatchError::BadJsonDocument);
    };
    let merged = merge_map(original_map.clone(), patch_map, schema_for_kind(kind))?;
    let mut result = Value::Object(merged);
    remove_leftover_directives(&mut result);
    Ok(result)
}

/// Merges `patch` into `original`, an object whose fields are described by
/// `schema` (`None` when nothing is known about them).
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<&'static StructPatchSchema>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE_MARKER) {
        return apply_directive_to_map(directive, patch);
    }
    apply_retain_keys_directive(&mut original, &mut patch)?;
    element_order::merge_set_element_order_lists(&mut original, &mut patch, schema)?;

    for (patch_key, patch_value) in patch {
        let (key, is_delete_list) = if patch_key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            let key = extract_key(
                &patch_key,
                DELETE_FROM_PRIMITIVE_LIST_PREFIX,
                PatchError::BadPatchFormatForPrimitiveList,
            )?;
            (key, true)
        } else {
            (patch_key, false)
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        // A field the stored object lacks takes the patch value as it is. For
        // a deletion list that means the list of values to delete is stored,
        // exactly as Kubernetes does.
        let Some(slot) = original.get_mut(&key) else {
            original.insert(key, patch_value);
            continue;
        };
        let field = FieldPatchMetadata::lookup(schema, &key);
        let original_value = std::mem::take(slot);
        *slot = merge_field_values(original_value, patch_value, field, is_delete_list)?;
    }
    Ok(original)
}

/// Combines the stored and patched values of one field that both exist.
fn merge_field_values(
    original_value: Value,
    patch_value: Value,
    field: FieldPatchMetadata,
    is_delete_list: bool,
) -> Result<Value, PatchError> {
    match (original_value, patch_value) {
        (Value::Object(original_map), Value::Object(patch_map)) => Ok(Value::Object(merge_map(
            original_map,
            patch_map,
            field.value_schema,
        )?)),
        (Value::Array(original_list), Value::Array(patch_list)) if field.is_merge() => {
            Ok(Value::Array(lists::merge_slice(
                original_list,
                patch_list,
                field,
                is_delete_list,
            )?))
        }
        // Replace lists (and, as in Kubernetes, deletion lists aimed at them)
        // take the patch list; scalars and values whose type changed are replaced.
        (_, patch_value) => Ok(patch_value),
    }
}

/// `$patch` inside an object: `replace` takes the rest of the patch object as
/// the new value, `delete` empties it, anything else is an error.
fn apply_directive_to_map(
    directive: Value,
    mut patch_without_directive: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => Ok(patch_without_directive),
        Some(DELETE_DIRECTIVE) => Ok(Map::new()),
        _ => {
            let directive_text = format_as_string_verb(&directive);
            patch_without_directive.insert(DIRECTIVE_MARKER.to_string(), directive);
            Err(PatchError::UnknownPatchType {
                directive: directive_text,
                map: format_map(&patch_without_directive),
            })
        }
    }
}

/// `$retainKeys`: every key the patch sets must be listed, and stored keys
/// that are not listed are cleared.
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain_keys) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retained) = retain_keys else {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    };
    let is_retained = |key: &str| retained.iter().any(|entry| entry.as_str() == Some(key));
    let patch_sets_unretained_key = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            && !key.starts_with(SET_ELEMENT_ORDER_PREFIX)
            && !is_retained(key)
    });
    if patch_sets_unretained_key {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    }
    original.retain(|key, _| is_retained(key));
    Ok(())
}

/// Splits a parallel-list directive key (`$setElementOrder/containers`) into
/// the field it is about; `malformed` is the error for a key without a field.
fn extract_key(
    directive_key: &str,
    prefix: &str,
    malformed: PatchError,
) -> Result<String, PatchError> {
    match directive_key.split_once('/') {
        Some((found_prefix, field)) if found_prefix == prefix => Ok(field.to_string()),
        _ => Err(malformed),
    }
}

/// Whether an object key is a patch directive rather than data.
fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Patch values taken over verbatim (a new field, a replaced list, a
/// `$patch: replace` object) can still contain directives. Kubernetes drops
/// them when it decodes the result into its Go types, which have no such
/// fields; the stored JSON must not keep them either.
fn remove_leftover_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !is_directive_key(key));
            map.values_mut().for_each(remove_leftover_directives);
        }
        Value::Array(list) => list.iter_mut().for_each(remove_leftover_directives),
        _ => {}
    }
}
