//! The order of merged lists, and the `$setElementOrder/<field>` directive.
//!
//! After a merge, elements named by the patch (or by `$setElementOrder`) keep
//! the patch's relative order, elements only the server had keep the stored
//! relative order, and the two are interleaved using the stored positions.

use serde_json::{Map, Value};

use super::lists::{
    ElementKind, bad_map_type_error, merge_slice, no_merge_key_error, partition_maps_by_presence,
    partition_primitives_by_presence, slice_element_kind,
};
use super::{DELETE_DIRECTIVE, DIRECTIVE_MARKER, SET_ELEMENT_ORDER_PREFIX, extract_key};
use crate::PatchError;
use crate::go_format::{format_list, go_type_name};
use crate::merge_keys::{FieldPatchMetadata, StructPatchSchema};

/// The Go type name of a decoded JSON list.
const GO_LIST_TYPE: &str = "[]interface {}";

/// Processes every `$setElementOrder/<field>` directive of `patch`: merges the
/// field's patch list into the stored list and orders the result by the
/// directive, then removes both from the patch so they are not merged again.
pub(super) fn merge_set_element_order_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Option<&'static StructPatchSchema>,
) -> Result<(), PatchError> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let Some(order_value) = patch.remove(&directive_key) else {
            continue;
        };
        let Value::Array(order_list) = order_value else {
            return Err(bad_list_type_error(&order_value));
        };
        let field_key = extract_key(
            &directive_key,
            SET_ELEMENT_ORDER_PREFIX,
            PatchError::BadPatchFormatForSetElementOrderList,
        )?;
        let original_list = list_member(original, &field_key)?;
        let patch_list = list_member(patch, &field_key)?;
        let field = FieldPatchMetadata::lookup(schema, &field_key);
        let merge_key = field.merge_key().unwrap_or("");
        validate_patch_against_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &order_list,
            merge_key,
        )?;

        let stored_order = original_list.clone().unwrap_or_default();
        let patch_elements = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(original_list), None) => original_list,
            (None, Some(patch_list)) => patch_list,
            (Some(original_list), Some(patch_list)) if field.is_merge() => {
                merge_slice(original_list, patch_list, field, false)?
            }
            (Some(_), Some(patch_list)) => patch_list,
            (None, None) => continue,
        };

        let (patch_items, server_only_items) = if merge_key.is_empty() {
            partition_primitives_by_presence(merged, &order_list)
        } else {
            partition_maps_by_presence(merged, &order_list, merge_key)?
        };
        let kind = slice_element_kind(&[&stored_order, &patch_elements])?;
        let ordered = normalize_element_order(
            patch_items,
            server_only_items,
            &order_list,
            &stored_order,
            merge_key,
            kind,
        )?;
        original.insert(field_key.clone(), Value::Array(ordered));
        patch.remove(&field_key);
    }
    Ok(())
}

/// A copy of the list stored under `key`, `None` when the key is absent.
fn list_member(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(list)) => Ok(Some(list.clone())),
        Some(other) => Err(bad_list_type_error(other)),
    }
}

fn bad_list_type_error(value: &Value) -> PatchError {
    PatchError::BadArgumentType {
        expected_go_type: GO_LIST_TYPE,
        received_go_type: go_type_name(value),
    }
}

/// Checks that the patch list names its elements in the same relative order
/// as the `$setElementOrder` list (elements with `$patch` are ignored).
fn validate_patch_against_order_list(
    patch_list: &[Value],
    order_list: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order_list.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let kept_elements = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        split_off_deletions(patch_list.to_vec())?.0
    };
    let mut patch_index = 0;
    let mut order_index = 0;
    while let (Some(patch_element), Some(order_element)) =
        (kept_elements.get(patch_index), order_list.get(order_index))
    {
        if patch_element.get(DIRECTIVE_MARKER).is_some() {
            patch_index += 1;
            continue;
        }
        if merge_key_values_equal(patch_element, order_element, merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < kept_elements.len() && order_index >= order_list.len() {
        return Err(PatchError::ElementOrderMismatch {
            patch_list: format_list(patch_list),
            order_list: format_list(order_list),
        });
    }
    Ok(())
}

/// Whether two elements are the same element: equal values for primitives,
/// equal merge key values for objects.
fn merge_key_values_equal(
    left: &Value,
    right: &Value,
    merge_key: &str,
) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let left_value = merge_key_value(left, merge_key)?;
    let right_value = merge_key_value(right, merge_key)?;
    Ok(left_value == right_value)
}

fn merge_key_value<'a>(element: &'a Value, merge_key: &str) -> Result<&'a Value, PatchError> {
    let map = element
        .as_object()
        .ok_or_else(|| bad_map_type_error(element))?;
    map.get(merge_key)
        .ok_or_else(|| no_merge_key_error(element, merge_key))
}

/// Separates elements marked `$patch: delete` from the others.
fn split_off_deletions(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    if let Some(not_a_map) = list.iter().find(|element| !element.is_object()) {
        return Err(bad_map_type_error(not_a_map));
    }
    Ok(list.into_iter().partition(|element| {
        element.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE)
    }))
}

/// Orders the patch items by `patch_order` and the server-only items by
/// `server_order`, then interleaves them.
pub(super) fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only_items: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only_items =
        normalize_slice_order(server_only_items, server_order, merge_key, kind)?;
    Ok(merge_sorted_lists(
        server_only_items,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// Sorts `to_sort` by the positions its elements have in `order`; elements
/// marked `$patch: delete` go last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<Vec<Value>, PatchError> {
    let (mut kept, deleted) = match kind {
        ElementKind::Map => {
            for element in to_sort.iter().chain(order) {
                merge_key_value(element, merge_key)?;
            }
            split_off_deletions(to_sort)?
        }
        ElementKind::Primitive => (to_sort, Vec::new()),
    };
    // Go sorts with a comparator that is inconsistent for elements missing
    // from `order`; those cannot occur for lists produced by a merge, and here
    // they go after all found elements so that the sort stays well defined.
    kept.sort_by_key(|element| position_in(order, element, merge_key, kind).unwrap_or(usize::MAX));
    kept.extend(deleted);
    Ok(kept)
}

/// The position of `element` in `list`, comparing merge key values for objects.
fn position_in(
    list: &[Value],
    element: &Value,
    merge_key: &str,
    kind: ElementKind,
) -> Option<usize> {
    let identity = |value: &Value| match kind {
        ElementKind::Map => value.get(merge_key).cloned(),
        ElementKind::Primitive => Some(value.clone()),
    };
    let wanted = identity(element);
    list.iter()
        .position(|candidate| identity(candidate) == wanted)
}

/// Merges two sorted lists: a server-only item goes before a patch item only
/// when both are in the stored list and it came first there, so the relative
/// order within each list is kept.
fn merge_sorted_lists(
    server_only_items: Vec<Value>,
    patch_items: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Vec<Value> {
    let mut merged = Vec::with_capacity(server_only_items.len() + patch_items.len());
    let mut server_only_items = server_only_items.into_iter().peekable();
    let mut patch_items = patch_items.into_iter().peekable();
    loop {
        let take_server_only = match (server_only_items.peek(), patch_items.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(server_only), Some(patch_item)) => {
                let server_only_position = position_in(server_order, server_only, merge_key, kind);
                let patch_position = position_in(server_order, patch_item, merge_key, kind);
                matches!(
                    (server_only_position, patch_position),
                    (Some(left), Some(right)) if left < right
                )
            }
        };
        let next = if take_server_only {
            server_only_items.next()
        } else {
            patch_items.next()
        };
        merged.extend(next);
    }
    merged
}
