//! The files of a downwardAPI volume (or projection): the kubelet's `CollectData` of its
//! downwardapi plugin. A `fieldRef` reads the pod's metadata (`fieldpath.ExtractFieldPathAsString`)
//! and a `resourceFieldRef` a container's resources; labels and annotations can change while
//! the pod runs, which is why the volume is rewritten on refresh.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::atomic_writer::{AtomicWriteError, FileProjection, Payload};
use crate::container_resources::{ContainerResourceError, container_resource_value};

/// Why a downward API file could not be produced. The field path texts are the kubelet's.
#[derive(Debug, thiserror::Error)]
pub enum DownwardApiError {
    #[error("unsupported fieldPath: {field_path}")]
    UnsupportedFieldPath { field_path: String },
    #[error("fieldPath {field_path:?} does not support subscript")]
    SubscriptNotSupported { field_path: String },
    #[error("invalid key subscript in {field_path}: {problems}")]
    InvalidSubscript {
        field_path: String,
        problems: String,
    },
    #[error("downward API item {path:?} must specify one of: `fieldRef` or `resourceFieldRef`")]
    NoSource { path: String },
    #[error(transparent)]
    Resource(#[from] ContainerResourceError),
    #[error(transparent)]
    File(#[from] AtomicWriteError),
}

/// The payload of a downwardAPI volume's `items`, each with its own `mode` or `default_mode`.
/// `node_allocatable` stands in for a container's missing limits, as in the kubelet.
pub(crate) fn downward_api_payload(
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
    pod: &Pod,
    node_allocatable: &BTreeMap<String, ApiQuantity>,
) -> Result<Payload, DownwardApiError> {
    let mut payload = Payload::new();
    for item in items {
        let text = if let Some(field_ref) = &item.field_ref {
            metadata_field_value(&field_ref.field_path, &pod.metadata)?
        } else if let Some(resource_field_ref) = &item.resource_field_ref {
            container_resource_value(resource_field_ref, pod, node_allocatable)?
        } else {
            return Err(DownwardApiError::NoSource {
                path: item.path.clone(),
            });
        };
        let mode = item.mode.unwrap_or(default_mode);
        let file = FileProjection::new(&item.path, text.into_bytes(), mode)?;
        payload.insert(item.path.clone(), file);
    }
    Ok(payload)
}

/// The value of a pod metadata field path, including the subscripted forms
/// `metadata.labels['key']` and `metadata.annotations['key']`; environment variables'
/// `fieldRef`s read metadata the same way.
pub fn metadata_field_value(
    field_path: &str,
    metadata: &ObjectMeta,
) -> Result<String, DownwardApiError> {
    let labels = metadata.labels.as_ref();
    let annotations = metadata.annotations.as_ref();
    if let Some((path, subscript)) = split_subscripted_path(field_path) {
        let map = match path {
            "metadata.annotations" => annotations,
            "metadata.labels" => labels,
            _ => {
                return Err(DownwardApiError::SubscriptNotSupported {
                    field_path: field_path.to_string(),
                });
            }
        };
        let problems = wasmkube_admission::qualified_name_problems(&subscript.to_lowercase());
        if !problems.is_empty() {
            return Err(DownwardApiError::InvalidSubscript {
                field_path: field_path.to_string(),
                problems: problems.join(";"),
            });
        }
        return Ok(map
            .and_then(|map| map.get(subscript))
            .cloned()
            .unwrap_or_default());
    }
    let value = match field_path {
        "metadata.annotations" => format_map(annotations),
        "metadata.labels" => format_map(labels),
        "metadata.name" => metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => metadata.namespace.clone().unwrap_or_default(),
        "metadata.uid" => metadata.uid.clone().unwrap_or_default(),
        _ => {
            return Err(DownwardApiError::UnsupportedFieldPath {
                field_path: field_path.to_string(),
            });
        }
    };
    Ok(value)
}

/// Splits `path['subscript']` as apimachinery's `SplitMaybeSubscriptedPath` does.
fn split_subscripted_path(field_path: &str) -> Option<(&str, &str)> {
    let without_closer = field_path.strip_suffix("']")?;
    let (path, subscript) = without_closer.split_once("['")?;
    (!path.is_empty()).then_some((path, subscript))
}

/// Kubernetes' `FormatMap`: one `key="value"` line per entry, sorted by key, the value quoted
/// as Go's `%q` quotes it, with no newline after the last line.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", wasmkube_admission::go_quote(value)))
        .collect::<Vec<_>>()
        .join("\n")
}
