//! ConfigMap, Secret and Namespace validation.

use serde_json::{Value, json};

use super::immutable_field;
use crate::field_error::FieldError;
use crate::labels::qualified_name_problems;
use crate::names::config_map_key_problems;

/// Kubernetes' `MaxSecretSize`, which also bounds ConfigMaps: 1 MiB.
const MAX_DATA_SIZE_BYTES: usize = 1024 * 1024;

fn entries(object: &Value, key: &str) -> Vec<(String, usize)> {
    object
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(key, value)| (key.clone(), value.as_str().map_or(0, str::len)))
                .collect()
        })
        .unwrap_or_default()
}

/// The decoded size of base64 text, which is what a Secret's size limit counts.
fn base64_decoded_length(encoded_length: usize, encoded: &str) -> usize {
    let padding = encoded
        .bytes()
        .rev()
        .take_while(|byte| *byte == b'=')
        .count();
    (encoded_length / 4 * 3).saturating_sub(padding)
}

/// Checks each key in `data`/`binaryData` (or `stringData`) and the total size.
fn validate_keys(object: &Value, bags: &[&str], secret_sizes: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total_size = 0;
    for bag in bags {
        for (key, size) in entries(object, bag) {
            for problem in config_map_key_problems(&key) {
                errors.push(FieldError::invalid(
                    format!("{bag}[{key}]"),
                    json!(key),
                    problem,
                ));
            }
            total_size += if secret_sizes && *bag == "data" {
                let encoded = object
                    .get(*bag)
                    .and_then(|bag| bag.get(&key))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                base64_decoded_length(size, encoded)
            } else {
                size
            };
        }
    }
    if !secret_sizes {
        let data_keys: Vec<String> = entries(object, "data")
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        for (key, _) in entries(object, "binaryData") {
            if data_keys.contains(&key) {
                errors.push(FieldError::invalid(
                    format!("data[{key}]"),
                    json!(key),
                    "duplicate of key present in binaryData",
                ));
            }
        }
    }
    if total_size > MAX_DATA_SIZE_BYTES {
        errors.push(FieldError::too_long("", MAX_DATA_SIZE_BYTES));
    }
    errors
}

/// An object marked `immutable: true` may not change its data or become mutable again.
fn validate_immutable_data(object: &Value, old: &Value, bags: &[&str]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errors;
    }
    if object.get("immutable").and_then(Value::as_bool) != Some(true) {
        errors.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for bag in bags {
        if object.get(*bag) != old.get(*bag) {
            errors.push(FieldError::forbidden(
                *bag,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errors
}

pub fn validate_config_map(config_map: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = validate_keys(config_map, &["data", "binaryData"], false);
    if let Some(old) = old {
        errors.extend(validate_immutable_data(
            config_map,
            old,
            &["data", "binaryData"],
        ));
    }
    errors
}

pub fn validate_secret(secret: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = validate_keys(secret, &["data", "stringData"], true);
    let data_has = |key: &str| secret.get("data").and_then(|data| data.get(key)).is_some();
    match secret
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data_has(key) {
                    errors.push(FieldError::required(format!("data[{key}]"), ""));
                }
            }
        }
        "kubernetes.io/dockerconfigjson" if !data_has(".dockerconfigjson") => {
            errors.push(FieldError::required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/dockercfg" if !data_has(".dockercfg") => {
            errors.push(FieldError::required("data[.dockercfg]", ""));
        }
        "kubernetes.io/ssh-auth" if !data_has("ssh-privatekey") => {
            errors.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/service-account-token" => {
            let account =
                secret.pointer("/metadata/annotations/kubernetes.io~1service-account.name");
            if account.and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        errors.extend(immutable_field(secret, old, "/type", "type"));
        errors.extend(validate_immutable_data(secret, old, &["data"]));
    }
    errors
}

/// `ValidateNamespace`: each `spec.finalizers` entry must be a qualified name.
pub fn validate_namespace(namespace: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let finalizers = namespace
        .pointer("/spec/finalizers")
        .and_then(Value::as_array);
    for finalizer in finalizers.into_iter().flatten().filter_map(Value::as_str) {
        for problem in qualified_name_problems(finalizer) {
            errors.push(FieldError::invalid(
                "spec.finalizers",
                json!(finalizer),
                problem,
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn config_map_keys_and_size() {
        assert!(validate_config_map(&json!({"data": {"app.properties": "x"}}), None).is_empty());
        assert_eq!(
            messages(validate_config_map(&json!({"data": {"..hidden": "x"}, "binaryData": {"..hidden": ""}}), None)),
            vec![
                "data[..hidden]: Invalid value: \"..hidden\": must not start with '..'".to_string(),
                "binaryData[..hidden]: Invalid value: \"..hidden\": must not start with '..'".to_string(),
                "data[..hidden]: Invalid value: \"..hidden\": duplicate of key present in binaryData".to_string(),
            ]
        );
        let huge = json!({"data": {"big": "x".repeat(MAX_DATA_SIZE_BYTES + 1)}});
        assert_eq!(
            messages(validate_config_map(&huge, None)),
            vec![": Too long: may not be more than 1048576 bytes".to_string()]
        );
    }

    #[test]
    fn immutable_config_maps_and_secret_types() {
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        assert_eq!(
            messages(validate_config_map(&new, Some(&old))),
            vec!["data: Forbidden: field is immutable when `immutable` is set".to_string()]
        );
        assert_eq!(
            messages(validate_secret(
                &json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
                None
            )),
            vec!["data[tls.key]: Required value".to_string()]
        );
        let old_secret = json!({"type": "Opaque"});
        let new_secret = json!({"type": "kubernetes.io/basic-auth"});
        assert_eq!(
            messages(validate_secret(&new_secret, Some(&old_secret))),
            vec![
                "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable".to_string()
            ]
        );
    }

    #[test]
    fn namespace_finalizers() {
        assert!(validate_namespace(&json!({"spec": {"finalizers": ["kubernetes"]}})).is_empty());
        assert_eq!(
            validate_namespace(&json!({"spec": {"finalizers": ["a/b/c"]}})).len(),
            1
        );
    }
}
