//! Small helpers for reading and defaulting fields of JSON objects without panicking on
//! objects of the wrong shape.

use serde_json::{Map, Value};

/// Sets `key` to `default` when it is absent or null, like Go defaulting of an unset field.
pub fn default_field(object: &mut Map<String, Value>, key: &str, default: Value) {
    match object.get(key) {
        None | Some(Value::Null) => {
            object.insert(key.to_string(), default);
        }
        Some(_) => {}
    }
}

/// Sets a string field to `default` when it is absent, null or empty (Go's `== ""`).
pub fn default_text(object: &mut Map<String, Value>, key: &str, default: &str) {
    let is_unset = match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(_) => false,
    };
    if is_unset {
        object.insert(key.to_string(), Value::String(default.to_string()));
    }
}

/// Sets a number field to `default` when it is absent, null or zero (Go's `== 0` on a
/// non-pointer int).
pub fn default_nonzero_number(object: &mut Map<String, Value>, key: &str, default: i64) {
    let is_unset = match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(number)) => number.as_f64() == Some(0.0),
        Some(_) => false,
    };
    if is_unset {
        object.insert(key.to_string(), Value::from(default));
    }
}

/// The object under `key`, created empty when absent or null; `None` when it holds something
/// other than an object.
pub fn child_object<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    if matches!(object.get(key), None | Some(Value::Null)) {
        object.insert(key.to_string(), Value::Object(Map::new()));
    }
    object.get_mut(key).and_then(Value::as_object_mut)
}

/// The object under `key` only if it already exists.
pub fn existing_child_object<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    object.get_mut(key).and_then(Value::as_object_mut)
}

/// Every object element of the array under `key`.
pub fn objects_in_array<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    object
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}
