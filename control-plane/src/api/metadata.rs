//! The metadata the API server owns: names, uid, timestamps, generation and what an
//! update may not change.

use serde_json::{Map, Value, json};

use super::status::{ApiError, ApiResult};
use crate::resources::ResourceType;

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|now| now.to_string())
        .unwrap_or_default()
}

pub fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// Five characters from the alphabet Kubernetes uses for generated names (no vowels, no
/// look-alike digits, so no words and no confusion).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes
        .iter()
        .take(5)
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

/// Checks the body's apiVersion and kind against the endpoint's.
pub fn check_type(resource: &ResourceType, object: &mut Value) -> ApiResult<()> {
    let api_version = resource.api_version();
    match object.get("apiVersion").and_then(Value::as_str) {
        Some(given) if given != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({api_version})"
            )));
        }
        Some(_) => {}
        None => object["apiVersion"] = json!(api_version),
    }
    match object.get("kind").and_then(Value::as_str) {
        Some(given) if given != resource.kind => Err(ApiError::bad_request(format!(
            "the kind in the data ({given}) does not match the expected kind ({})",
            resource.kind
        ))),
        Some(_) => Ok(()),
        None => {
            object["kind"] = json!(resource.kind);
            Ok(())
        }
    }
}

/// Fills the namespace from the URL and refuses a body that names another one.
pub fn check_namespace(
    resource: &ResourceType,
    object: &mut Value,
    namespace: Option<&str>,
) -> ApiResult<()> {
    let metadata = metadata_mut(object);
    if !resource.namespaced {
        metadata.remove("namespace");
        return Ok(());
    }
    let namespace = namespace.unwrap_or_default();
    match metadata.get("namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            metadata.insert("namespace".to_owned(), json!(namespace));
            Ok(())
        }
    }
}

/// Sets what a new object gets from the server.
pub fn prepare_create(resource: &ResourceType, object: &mut Value) -> ApiResult<()> {
    let metadata = metadata_mut(object);
    if metadata
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|version| !version.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty()
        && let Some(prefix) = metadata
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|prefix| !prefix.is_empty())
    {
        let generated = format!("{prefix}{}", random_suffix());
        metadata.insert("name".to_owned(), json!(generated));
    }
    metadata.insert("uid".to_owned(), json!(uuid::Uuid::new_v4().to_string()));
    metadata.insert("creationTimestamp".to_owned(), json!(now_rfc3339()));
    for owned_by_server in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        metadata.remove(owned_by_server);
    }
    if resource.tracks_generation {
        metadata.insert("generation".to_owned(), json!(1));
    } else {
        metadata.remove("generation");
    }
    Ok(())
}

/// The part of an object whose change bumps the generation: all but metadata and status.
fn spec_of(object: &Value) -> Map<String, Value> {
    object
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(key, _)| {
                    !matches!(key.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps what an update may not change, and bumps the generation on a spec change.
/// `status_only` is an update through the status subresource: only status changes.
pub fn prepare_update(
    resource: &ResourceType,
    new: &mut Value,
    old: &Value,
    status_only: bool,
) -> ApiResult<()> {
    if status_only {
        let status = new.get("status").cloned();
        let metadata = new.get("metadata").cloned();
        *new = old.clone();
        match status {
            Some(status) => new["status"] = status,
            None => {
                if let Some(fields) = new.as_object_mut() {
                    fields.remove("status");
                }
            }
        }
        if let Some(version) = metadata
            .as_ref()
            .and_then(|metadata| metadata.get("resourceVersion"))
            .cloned()
        {
            metadata_mut(new).insert("resourceVersion".to_owned(), version);
        }
        return Ok(());
    }
    if resource.has_status() {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(fields) = new.as_object_mut() {
                    fields.remove("status");
                }
            }
        }
    }
    let spec_changed = spec_of(new) != spec_of(old);
    let old_metadata = old.get("metadata").cloned().unwrap_or_default();
    let metadata = metadata_mut(new);
    for kept in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_metadata.get(kept) {
            Some(value) => metadata.insert(kept.to_owned(), value.clone()),
            None => metadata.remove(kept),
        };
    }
    if resource.tracks_generation && spec_changed {
        let generation = old_metadata
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        metadata.insert("generation".to_owned(), json!(generation + 1));
    }
    metadata.remove("managedFields");
    Ok(())
}

/// The resourceVersion a body carries, as an update's precondition.
pub fn requested_revision(object: &Value) -> ApiResult<Option<u64>> {
    match object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        None | Some("") => Ok(None),
        Some(version) => version.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {version:?}: must be the decimal revision of an object"
            ))
        }),
    }
}
