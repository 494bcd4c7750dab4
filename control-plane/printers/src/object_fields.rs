//! Forgiving readers for the API's JSON objects.
//!
//! Kubernetes prints from typed Go structs, where a missing field is simply its zero value
//! (an empty string, 0, an empty list). These helpers give the same zero values for missing
//! or mistyped JSON fields, so a printer never fails or panics on a partial object.

use serde_json::Value;

/// The value at a path of object keys, if every step exists.
pub(crate) fn value_at<'object>(object: &'object Value, path: &[&str]) -> Option<&'object Value> {
    path.iter()
        .try_fold(object, |current, key| current.as_object()?.get(*key))
}

/// The string at a path, or "" (Go's zero string) when it is missing or not a string.
pub(crate) fn string_at<'object>(object: &'object Value, path: &[&str]) -> &'object str {
    value_at(object, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The string at a path when it is present, which is how Go's `*string` fields behave.
pub(crate) fn optional_string_at<'object>(
    object: &'object Value,
    path: &[&str],
) -> Option<&'object str> {
    value_at(object, path).and_then(Value::as_str)
}

/// The integer at a path when it is present, which is how Go's `*int32` fields behave.
pub(crate) fn optional_integer_at(object: &Value, path: &[&str]) -> Option<i64> {
    value_at(object, path).and_then(Value::as_i64)
}

/// The integer at a path, or 0 (Go's zero integer) when it is missing or not an integer.
pub(crate) fn integer_at(object: &Value, path: &[&str]) -> i64 {
    optional_integer_at(object, path).unwrap_or_default()
}

/// The boolean at a path when it is present, which is how Go's `*bool` fields behave.
pub(crate) fn optional_bool_at(object: &Value, path: &[&str]) -> Option<bool> {
    value_at(object, path).and_then(Value::as_bool)
}

/// The boolean at a path, or false (Go's zero boolean) when it is missing.
pub(crate) fn bool_at(object: &Value, path: &[&str]) -> bool {
    optional_bool_at(object, path).unwrap_or_default()
}

/// The list at a path, or an empty list when it is missing or not a list.
pub(crate) fn array_at<'object>(object: &'object Value, path: &[&str]) -> &'object [Value] {
    value_at(object, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The number of keys of the map at a path, or 0 when it is missing or not a map.
pub(crate) fn map_length_at(object: &Value, path: &[&str]) -> usize {
    value_at(object, path)
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len)
}

/// The object's `metadata.name`, the first cell of nearly every row.
pub(crate) fn object_name(object: &Value) -> &str {
    string_at(object, &["metadata", "name"])
}

/// Whether the object has a `metadata.deletionTimestamp`, meaning it is being deleted.
pub(crate) fn is_being_deleted(object: &Value) -> bool {
    value_at(object, &["metadata", "deletionTimestamp"]).is_some_and(|value| !value.is_null())
}

/// Lays the containers of a pod spec out as two cells, their names and their images, each
/// joined with commas, like Kubernetes' `layoutContainerCells`.
pub(crate) fn container_names_and_images(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers
        .iter()
        .map(|container| string_at(container, &["name"]))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|container| string_at(container, &["image"]))
        .collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_or_mistyped_fields_read_as_go_zero_values() {
        let object = json!({"metadata": {"name": 5}, "spec": "not an object"});
        assert_eq!(string_at(&object, &["metadata", "name"]), "");
        assert_eq!(integer_at(&object, &["spec", "replicas"]), 0);
        assert!(array_at(&object, &["spec", "containers"]).is_empty());
        assert_eq!(map_length_at(&object, &["data"]), 0);
        assert!(!bool_at(&object, &["spec", "unschedulable"]));
        assert_eq!(object_name(&json!(null)), "");
    }

    #[test]
    fn present_fields_are_read() {
        let object = json!({
            "metadata": {"name": "web", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "data": {"a": "1", "b": "2"},
            "spec": {"replicas": 3, "paused": true}
        });
        assert_eq!(object_name(&object), "web");
        assert_eq!(integer_at(&object, &["spec", "replicas"]), 3);
        assert!(bool_at(&object, &["spec", "paused"]));
        assert_eq!(map_length_at(&object, &["data"]), 2);
        assert!(is_being_deleted(&object));
        assert!(!is_being_deleted(
            &json!({"metadata": {"deletionTimestamp": null}})
        ));
    }

    #[test]
    fn containers_are_laid_out_as_comma_separated_names_and_images() {
        let containers = json!([
            {"name": "app", "image": "nginx:1.25"},
            {"name": "sidecar", "image": "busybox"}
        ]);
        let containers = containers.as_array().map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            container_names_and_images(containers),
            ("app,sidecar".to_string(), "nginx:1.25,busybox".to_string())
        );
        assert_eq!(
            container_names_and_images(&[]),
            (String::new(), String::new())
        );
    }
}
