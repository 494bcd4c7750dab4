//! Merging a stored list with a patch list whose field has the "merge" patch
//! strategy.

use serde_json::{Map, Value};

use super::element_order::normalize_element_order;
use super::{DELETE_DIRECTIVE, DIRECTIVE_MARKER, MERGE_DIRECTIVE, REPLACE_DIRECTIVE, merge_map};
use crate::PatchError;
use crate::go_format::{format_as_string_verb, format_lists, format_map, go_type_name};
use crate::merge_keys::FieldPatchMetadata;

/// The Go type name of a decoded JSON object.
pub(super) const GO_MAP_TYPE: &str = "map[string]interface {}";

/// Whether a list holds objects or primitives; all elements must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ElementKind {
    Map,
    Primitive,
}

/// Merges two lists of a merge-strategy field.
///
/// Lists of primitives become the union of both (or, for a
/// `$deleteFromPrimitiveList` list, the stored list without the listed
/// values). Lists of objects merge elements with equal merge key values,
/// append new ones and honour `$patch` elements. Afterwards patch elements
/// keep the patch's order and are interleaved with the stored-only elements.
pub(super) fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: FieldPatchMetadata,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;
    let merge_key = field.merge_key().unwrap_or("");

    let (merged, patch, server_order) = match kind {
        ElementKind::Primitive => {
            if is_delete_list {
                // Kubernetes returns here without re-ordering the rest.
                return Ok(delete_from_slice(original, &patch));
            }
            let mut union = original.clone();
            for value in &patch {
                if !union.contains(value) {
                    union.push(value.clone());
                }
            }
            (union, patch, original)
        }
        ElementKind::Map => {
            if merge_key.is_empty() {
                // Every merge list without a merge key in the Kubernetes types
                // is a []string, so that is the declared element kind.
                return Err(PatchError::CannotMergeWithoutMergeKey {
                    element_kind: "string",
                });
            }
            let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
            let merged =
                merge_slice_without_special_elements(original.clone(), &patch, merge_key, field)?;
            (merged, patch, original)
        }
    };

    let (patch_items, server_only_items) = if merge_key.is_empty() {
        partition_primitives_by_presence(merged, &patch)
    } else {
        partition_maps_by_presence(merged, &patch, merge_key)?
    };
    normalize_element_order(
        patch_items,
        server_only_items,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// The common element kind of the given lists. Lists of lists and lists that
/// mix types are errors, as is having no elements at all.
pub(super) fn slice_element_kind(lists: &[&[Value]]) -> Result<ElementKind, PatchError> {
    let mut first_type: Option<&'static str> = None;
    for value in lists.iter().flat_map(|list| list.iter()) {
        let value_type = go_type_name(value);
        match first_type {
            None if value.is_array() => return Err(PatchError::NoListOfLists),
            None => first_type = Some(value_type),
            Some(first) if first != value_type => {
                return Err(PatchError::ListElementTypesNotIdentical {
                    lists: format_lists(lists),
                });
            }
            Some(_) => {}
        }
    }
    match first_type {
        None => Err(PatchError::NoElementsInSlices),
        Some(GO_MAP_TYPE) => Ok(ElementKind::Map),
        Some(_) => Ok(ElementKind::Primitive),
    }
}

/// Handles patch elements that carry `$patch`: `delete` removes the stored
/// elements with that merge key, `replace` makes the other patch elements the
/// whole list. Returns the stored list to merge into and the remaining patch.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain_patch_elements = Vec::with_capacity(patch.len());
    let mut replace = false;
    for element in patch {
        let Some(directive) = element.get(DIRECTIVE_MARKER) else {
            plain_patch_elements.push(element);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let merge_value = element
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key_error(&element, merge_key))?;
                original = delete_matching_entries(original, merge_key, merge_value)?;
            }
            // The other `$patch` elements must still be removed, so keep going.
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => return Err(PatchError::MergingListsNotSupported),
            _ => {
                return Err(PatchError::UnknownPatchType {
                    directive: format_as_string_verb(directive),
                    map: element.as_object().map(format_map).unwrap_or_default(),
                });
            }
        }
    }
    if replace {
        Ok((plain_patch_elements, Vec::new()))
    } else {
        Ok((original, plain_patch_elements))
    }
}

/// Removes every stored element whose merge key has the given value.
fn delete_matching_entries(
    original: Vec<Value>,
    merge_key: &str,
    merge_value: &Value,
) -> Result<Vec<Value>, PatchError> {
    ensure_all_maps(&original)?;
    Ok(original
        .into_iter()
        .filter(|element| element.get(merge_key) != Some(merge_value))
        .collect())
}

/// Merges each patch element into the stored element with the same merge key
/// value, or appends it when there is none.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    field: FieldPatchMetadata,
) -> Result<Vec<Value>, PatchError> {
    for element in patch {
        let merge_value = element
            .get(merge_key)
            .ok_or_else(|| no_merge_key_error(element, merge_key))?;
        let position = find_map_with_key_value(&original, merge_key, merge_value)?;
        match position.and_then(|position| original.get_mut(position)) {
            Some(slot) => {
                let (Value::Object(stored), Value::Object(patch_element)) =
                    (std::mem::take(slot), element.clone())
                else {
                    return Err(no_merge_key_error(element, merge_key));
                };
                *slot = Value::Object(merge_map(stored, patch_element, field.value_schema)?);
            }
            None => original.push(element.clone()),
        }
    }
    Ok(original)
}

/// The position of the object whose `key` member equals `value`.
pub(super) fn find_map_with_key_value(
    list: &[Value],
    key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    ensure_all_maps(list)?;
    Ok(list
        .iter()
        .position(|element| element.get(key) == Some(value)))
}

fn ensure_all_maps(list: &[Value]) -> Result<(), PatchError> {
    match list.iter().position(|element| !element.is_object()) {
        Some(index) => Err(PatchError::ListElementIsNotAMap { index }),
        None => Ok(()),
    }
}

/// The stored primitives that are not in the deletion list, in stored order.
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|value| !to_delete.contains(value))
        .collect()
}

/// Splits `merged` into the primitives that appear in `partition_by` and the rest.
pub(super) fn partition_primitives_by_presence(
    merged: Vec<Value>,
    partition_by: &[Value],
) -> (Vec<Value>, Vec<Value>) {
    merged
        .into_iter()
        .partition(|value| partition_by.contains(value))
}

/// Splits `merged` into the objects whose merge key value appears in
/// `partition_by` and the rest.
pub(super) fn partition_maps_by_presence(
    merged: Vec<Value>,
    partition_by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(merged.len());
    let mut absent = Vec::with_capacity(merged.len());
    for element in merged {
        let Some(element_map) = element.as_object() else {
            return Err(bad_map_type_error(&element));
        };
        let merge_value = element_map
            .get(merge_key)
            .ok_or_else(|| no_merge_key_error(&element, merge_key))?;
        if find_map_with_key_value(partition_by, merge_key, merge_value)?.is_some() {
            present.push(element);
        } else {
            absent.push(element);
        }
    }
    Ok((present, absent))
}

/// "map: map[...] does not contain declared merge key: name".
pub(super) fn no_merge_key_error(element: &Value, merge_key: &str) -> PatchError {
    let empty = Map::new();
    PatchError::NoMergeKey {
        element: format_map(element.as_object().unwrap_or(&empty)),
        merge_key: merge_key.to_string(),
    }
}

/// "expected a map[string]interface {}, but received a string".
pub(super) fn bad_map_type_error(element: &Value) -> PatchError {
    PatchError::BadArgumentType {
        expected_go_type: GO_MAP_TYPE,
        received_go_type: go_type_name(element),
    }
}
