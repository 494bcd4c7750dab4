//! Server-side printing: objects as a `meta.k8s.io/v1` Table with the columns kubectl
//! shows for their kind, and objects as PartialObjectMetadata.

use serde_json::{Value, json};

use crate::resources::{ResourceType, converted_for};

fn row(
    resource: &ResourceType,
    object: &Value,
    include_object: Option<&str>,
    now: jiff::Timestamp,
) -> Value {
    let mut row = json!({"cells": wasmkube_printers::row_cells(resource.kind, object, now)});
    match include_object {
        Some("None") => {}
        // Cells come from the stored object, which the printers read; the object a row
        // carries is the requested version's.
        Some("Object") => {
            row["object"] = converted_for(resource, object).unwrap_or_else(|| object.clone())
        }
        _ => match converted_for(resource, object) {
            Some(served) => row["object"] = partial_object_metadata(&served),
            None => row["object"] = partial_object_metadata(object),
        },
    }
    row
}

/// A Table of `objects`. `with_columns` is false for watch events after the first, as
/// in Kubernetes, since the client already has the column definitions.
pub fn table(
    resource: &ResourceType,
    objects: &[&Value],
    include_object: Option<&str>,
    metadata: Value,
    with_columns: bool,
) -> Value {
    let now = jiff::Timestamp::now();
    let columns: Vec<Value> = if with_columns {
        wasmkube_printers::column_definitions(resource.kind)
            .into_iter()
            .map(|column| {
                json!({
                    "name": column.name,
                    "type": column.column_type,
                    "format": column.format,
                    "description": column.description,
                    "priority": column.priority,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": objects.iter().map(|object| row(resource, object, include_object, now)).collect::<Vec<_>>(),
    })
}

pub fn partial_object_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}
