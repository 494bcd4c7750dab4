//! RFC 6902 JSON patch (`application/json-patch+json`).
//!
//! The Kubernetes API server applies JSON patches with evanphx/json-patch v4,
//! so this module follows that library where it differs from the RFC: JSON
//! `null` members count as absent, negative array indices count from the end,
//! `replace` of a missing object member adds it, and error messages are the
//! library's (`testing value /spec/replicas failed: test failed`).

use serde_json::{Map, Value};

use crate::PatchError;
use crate::go_format::json_type_name;

/// Applies an RFC 6902 JSON patch to a copy of `original`.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let operations = decode_operations(patch)?;
    let mut document = original.clone();
    for operation in operations {
        apply_operation(&mut document, operation).map_err(PatchError::JsonPatchOperationFailed)?;
    }
    Ok(document)
}

/// Reads the patch document as a list of operations, rejecting other shapes
/// with the message Go's decoder gives for `jsonpatch.Patch`.
fn decode_operations(patch: &Value) -> Result<Vec<Option<&Map<String, Value>>>, PatchError> {
    let elements = match patch {
        // Go decodes `null` into an empty patch, which changes nothing.
        Value::Null => return Ok(Vec::new()),
        Value::Array(elements) => elements,
        other => {
            return Err(PatchError::CannotUnmarshal {
                found_json_type: json_type_name(other),
                expected_go_type: "jsonpatch.Patch",
            });
        }
    };
    elements
        .iter()
        .map(|element| match element {
            Value::Null => Ok(None),
            Value::Object(operation) => Ok(Some(operation)),
            other => Err(PatchError::CannotUnmarshal {
                found_json_type: json_type_name(other),
                expected_go_type: "jsonpatch.Operation",
            }),
        })
        .collect()
}

fn apply_operation(
    document: &mut Value,
    operation: Option<&Map<String, Value>>,
) -> Result<(), String> {
    let empty_operation = Map::new();
    let operation = operation.unwrap_or(&empty_operation);
    let kind = match operation.get("op") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => "unknown",
    };
    match kind {
        "add" => add(document, operation),
        "remove" => remove(document, operation),
        "replace" => replace(document, operation),
        "move" => move_value(document, operation),
        "test" => test(document, operation),
        "copy" => copy(document, operation),
        other => Err(format!("Unexpected kind: {other}")),
    }
}

const MISSING_VALUE: &str = "missing value";

/// Reads the `path` or `from` member; the error is the decoder's reason.
fn string_member<'a>(
    operation: &'a Map<String, Value>,
    member: &str,
    missing_reason: &str,
) -> Result<&'a str, String> {
    match operation.get(member) {
        None | Some(Value::Null) => Err(format!("{missing_reason}: {MISSING_VALUE}")),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_type_name(other)
        )),
    }
}

fn path_of(operation: &Map<String, Value>) -> Result<&str, String> {
    string_member(operation, "path", "operation missing path field")
}

fn from_of(operation: &Map<String, Value>) -> Result<&str, String> {
    string_member(operation, "from", "operation, missing from field")
}

/// The operation's `value`, where a missing or null value is JSON null.
fn value_of(operation: &Map<String, Value>) -> Value {
    operation.get("value").cloned().unwrap_or(Value::Null)
}

fn add(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(operation)
        .map_err(|_| format!("add operation failed to decode path: {MISSING_VALUE}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING_VALUE}")
    })?;
    insert_into(container, &key, value_of(operation))
        .map_err(|reason| format!("error in add for path: '{path}': {reason}"))
}

fn remove(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(operation)
        .map_err(|_| format!("remove operation failed to decode path: {MISSING_VALUE}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!("remove operation does not apply: doc is missing path: \"{path}\": {MISSING_VALUE}")
    })?;
    remove_from(container, &key)
        .map(|_| ())
        .map_err(|reason| format!("error in remove for path: '{path}': {reason}"))
}

fn replace(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(operation)
        .map_err(|reason| format!("replace operation failed to decode path: {reason}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!("replace operation does not apply: doc is missing path: {path}: {MISSING_VALUE}")
    })?;
    if get_from(container, &key).is_err() {
        return Err(format!(
            "replace operation does not apply: doc is missing key: {path}: {MISSING_VALUE}"
        ));
    }
    set_in(container, &key, value_of(operation))
        .map_err(|reason| format!("error in remove for path: '{path}': {reason}"))
}

fn move_value(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let from = from_of(operation)
        .map_err(|reason| format!("move operation failed to decode from: {reason}"))?;
    let (container, key) = find_container(document, from).ok_or_else(|| {
        format!("move operation does not apply: doc is missing from path: {from}: {MISSING_VALUE}")
    })?;
    get_from(container, &key)
        .map_err(|reason| format!("error in move for path: '{key}': {reason}"))?;
    let moved = remove_from(container, &key)
        .map_err(|reason| format!("error in move for path: '{key}': {reason}"))?;
    let path = path_of(operation)
        .map_err(|reason| format!("move operation failed to decode path: {reason}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!(
            "move operation does not apply: doc is missing destination path: {path}: {MISSING_VALUE}"
        )
    })?;
    insert_into(container, &key, moved)
        .map_err(|reason| format!("error in move for path: '{path}': {reason}"))
}

fn test(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(operation)
        .map_err(|reason| format!("test operation failed to decode path: {reason}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!("test operation does not apply: is missing path: {path}: {MISSING_VALUE}")
    })?;
    let actual = get_from(container, &key)
        .map_err(|reason| format!("error in test for path: '{path}': {reason}"))?;
    let expected = value_of(operation);
    // A null member and a missing member are the same thing to the Go library.
    let matches = match actual {
        None => expected.is_null(),
        Some(actual) => !expected.is_null() && *actual == expected,
    };
    if matches {
        Ok(())
    } else {
        Err(format!("testing value {path} failed: test failed"))
    }
}

fn copy(document: &mut Value, operation: &Map<String, Value>) -> Result<(), String> {
    let from = from_of(operation)
        .map_err(|reason| format!("copy operation failed to decode from: {reason}"))?;
    let (container, key) = find_container(document, from).ok_or_else(|| {
        format!("copy operation does not apply: doc is missing from path: {from}: {MISSING_VALUE}")
    })?;
    let copied = get_from(container, &key)
        .map_err(|reason| format!("error in copy for from: '{from}': {reason}"))?
        .cloned()
        .unwrap_or(Value::Null);
    let path = path_of(operation)
        .map_err(|_| format!("copy operation failed to decode path: {MISSING_VALUE}"))?;
    let (container, key) = find_container(document, path).ok_or_else(|| {
        format!(
            "copy operation does not apply: doc is missing destination path: {path}: {MISSING_VALUE}"
        )
    })?;
    insert_into(container, &key, copied)
        .map_err(|reason| format!("error while adding value during copy: {reason}"))
}

/// Undoes RFC 6901 escaping of one reference token.
fn decode_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Walks to the object or array that holds the last token of `path`.
/// Like the Go library, the first token (before the leading slash) is ignored
/// and null members count as missing.
fn find_container<'a>(document: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let tokens: Vec<&str> = path.split('/').collect();
    let (last_token, parent_tokens) = tokens.split_last()?;
    if parent_tokens.is_empty() {
        return None;
    }
    let mut container = document;
    for token in &parent_tokens[1..] {
        let key = decode_token(token);
        let next = match container {
            Value::Object(map) => map.get_mut(&key)?,
            Value::Array(list) => {
                let index: usize = key.parse().ok()?;
                list.get_mut(index)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        container = next;
    }
    Some((container, decode_token(last_token)))
}

fn invalid_index(index: i64) -> String {
    format!("Unable to access invalid index: {index}: invalid index referenced")
}

fn parse_index(key: &str) -> Result<i64, String> {
    key.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing \"{key}\": invalid syntax"))
}

/// Resolves a possibly negative index against a list of `length` elements,
/// where `limit` is the largest index allowed.
fn resolve_index(index: i64, length: usize, limit: usize) -> Result<usize, String> {
    let length = i64::try_from(length).map_err(|_| invalid_index(index))?;
    let resolved = if index < 0 { index + length } else { index };
    match usize::try_from(resolved) {
        Ok(resolved) if resolved <= limit => Ok(resolved),
        _ => Err(invalid_index(index)),
    }
}

/// Reads a member; `Ok(None)` is a missing or null object member.
fn get_from<'a>(container: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match container {
        Value::Object(map) => Ok(map.get(key).filter(|value| !value.is_null())),
        Value::Array(list) => {
            let index = parse_index(key)?;
            if index < 0 || list.is_empty() {
                return Err(invalid_index(index));
            }
            let position = resolve_index(index, list.len(), list.len() - 1)?;
            Ok(list.get(position))
        }
        _ => Err(MISSING_VALUE.to_string()),
    }
}

fn insert_into(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(list) => {
            if key == "-" {
                list.push(value);
                return Ok(());
            }
            let index = parse_index(key).map_err(|reason| {
                format!("value was not a proper array index: '{key}': {reason}")
            })?;
            let position = resolve_index(index, list.len() + 1, list.len())?;
            list.insert(position, value);
            Ok(())
        }
        _ => Err(MISSING_VALUE.to_string()),
    }
}

fn set_in(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Array(list) => {
            let index = parse_index(key)?;
            let slot = usize::try_from(index)
                .ok()
                .and_then(|position| list.get_mut(position))
                .ok_or_else(|| invalid_index(index))?;
            *slot = value;
            Ok(())
        }
        other => insert_into(other, key, value),
    }
}

fn remove_from(container: &mut Value, key: &str) -> Result<Value, String> {
    match container {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING_VALUE}")),
        Value::Array(list) => {
            let index = parse_index(key)?;
            if list.is_empty() {
                return Err(invalid_index(index));
            }
            let position = resolve_index(index, list.len(), list.len() - 1)?;
            Ok(list.remove(position))
        }
        _ => Err(MISSING_VALUE.to_string()),
    }
}
