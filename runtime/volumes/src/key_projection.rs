//! The files of a configMap or secret volume (or projection): the kubelet's `MakePayload` for
//! both plugins. Without `items` every key becomes a file of that name; with `items` only the
//! listed keys are projected, each to its `path` with its own `mode` if it has one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath, Secret};

use crate::atomic_writer::{AtomicWriteError, FileProjection, Payload};

/// Why the keys of a configMap or secret could not be turned into files. The texts are the
/// kubelet's.
#[derive(Debug, thiserror::Error)]
pub enum KeyProjectionError {
    #[error("configmap references non-existent config key: {key}")]
    MissingConfigMapKey { key: String },
    #[error("references non-existent secret key: {key}")]
    MissingSecretKey { key: String },
    #[error(transparent)]
    File(#[from] AtomicWriteError),
}

/// The payload of a configMap: `data` and `binaryData` keys alike. `config_map` is `None` when
/// an optional configMap does not exist, which projects nothing.
pub(crate) fn config_map_payload(
    config_map: Option<&ConfigMap>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, KeyProjectionError> {
    let mut values: BTreeMap<&str, &[u8]> = BTreeMap::new();
    if let Some(config_map) = config_map {
        for (key, value) in config_map.data.iter().flatten() {
            values.insert(key, value.as_bytes());
        }
        for (key, value) in config_map.binary_data.iter().flatten() {
            values.insert(key, &value.0);
        }
    }
    project_keys(&values, items, default_mode, optional, |key| {
        KeyProjectionError::MissingConfigMapKey {
            key: key.to_string(),
        }
    })
}

/// The payload of a secret. Its `data` arrives base64-encoded in JSON, and k8s-openapi's
/// `ByteString` has already decoded it; `stringData` is write-only (the API server folds it
/// into `data`), so it is ignored here as the kubelet ignores it.
pub(crate) fn secret_payload(
    secret: Option<&Secret>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, KeyProjectionError> {
    let values: BTreeMap<&str, &[u8]> = secret
        .and_then(|secret| secret.data.as_ref())
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value.0.as_slice()))
        .collect();
    project_keys(&values, items, default_mode, optional, |key| {
        KeyProjectionError::MissingSecretKey {
            key: key.to_string(),
        }
    })
}

fn project_keys(
    values: &BTreeMap<&str, &[u8]>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
    missing_key: impl Fn(&str) -> KeyProjectionError,
) -> Result<Payload, KeyProjectionError> {
    let mut payload = Payload::new();
    let Some(items) = items.filter(|items| !items.is_empty()) else {
        for (key, value) in values {
            let file = FileProjection::new(key, value.to_vec(), default_mode)?;
            payload.insert(key.to_string(), file);
        }
        return Ok(payload);
    };
    for item in items {
        let Some(value) = values.get(item.key.as_str()) else {
            if optional {
                continue;
            }
            return Err(missing_key(&item.key));
        };
        let mode = item.mode.unwrap_or(default_mode);
        let file = FileProjection::new(&item.path, value.to_vec(), mode)?;
        payload.insert(item.path.clone(), file);
    }
    Ok(payload)
}
