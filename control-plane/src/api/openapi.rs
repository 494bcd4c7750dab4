//! The OpenAPI v3 documents: one per group version, listing each resource's paths and
//! operations with their `x-kubernetes-group-version-kind` and parameters. kubectl reads
//! them to learn that the server validates fields itself (`fieldValidation`).

use axum::Json;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::status::ApiError;
use crate::resources::{ALL_RESOURCES, ResourceType, group_versions};

fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The document's hash, so clients can cache it: it changes only with the binary.
fn document_hash(path: &str) -> String {
    let digest = path.bytes().fold(0xcbf29ce484222325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3)
    });
    format!(
        "{digest:016X}{}",
        env!("CARGO_PKG_VERSION").replace('.', "")
    )
}

pub async fn v3_root() -> Json<Value> {
    let paths: Map<String, Value> = group_versions()
        .into_iter()
        .map(|(group, version)| {
            let path = group_version_path(group, version);
            let url = format!("/openapi/v3/{path}?hash={}", document_hash(&path));
            (path, json!({"serverRelativeURL": url}))
        })
        .collect();
    Json(json!({"paths": paths}))
}

fn query_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(
    resource: &ResourceType,
    action: &str,
    operation_id: String,
    with_write_parameters: bool,
) -> Value {
    let mut parameters =
        vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if with_write_parameters {
        parameters.push(query_parameter(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
        ));
        parameters.push(query_parameter(
            "fieldManager",
            "A name associated with the actor or entity that is making these changes.",
        ));
        parameters.push(query_parameter("fieldValidation", "Instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict."));
    }
    json!({
        "operationId": operation_id,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": resource.group, "kind": resource.kind, "version": resource.version},
    })
}

fn paths_for(resource: &ResourceType) -> Map<String, Value> {
    let prefix = format!("/{}", group_version_path(resource.group, resource.version));
    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    };
    let id = |verb: &str| format!("{verb}{}", resource.kind);
    let mut paths = Map::new();
    paths.insert(
        collection.clone(),
        json!({
            "get": operation(resource, "list", id("list"), false),
            "post": operation(resource, "post", id("create"), true),
            "delete": operation(resource, "deletecollection", id("deletecollection"), false),
        }),
    );
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({
            "get": operation(resource, "get", id("read"), false),
            "put": operation(resource, "put", id("replace"), true),
            "patch": operation(resource, "patch", id("patch"), true),
            "delete": operation(resource, "delete", id("delete"), false),
        }),
    );
    if resource.namespaced {
        paths.insert(format!("{prefix}/{}", resource.plural), json!({"get": operation(resource, "list", format!("list{}ForAllNamespaces", resource.kind), false)}));
    }
    for subresource in resource
        .subresources
        .iter()
        .filter(|subresource| **subresource == "status")
    {
        paths.insert(
            format!("{collection}/{{name}}/{subresource}"),
            json!({
                "get": operation(resource, "get", id("read") + "Status", false),
                "put": operation(resource, "put", id("replace") + "Status", true),
                "patch": operation(resource, "patch", id("patch") + "Status", true),
            }),
        );
    }
    paths
}

pub async fn v3_group_version(Path(group_version): Path<String>) -> Response {
    let Some((group, version)) = group_versions()
        .into_iter()
        .find(|(group, version)| group_version_path(group, version) == group_version)
    else {
        return ApiError::path_not_found().into_response();
    };
    let mut paths = Map::new();
    for resource in ALL_RESOURCES
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
    {
        paths.extend(paths_for(resource));
    }
    Json(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBERNETES_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
    .into_response()
}

/// OpenAPI v2 is served only as protobuf by Kubernetes, which this server does not speak;
/// clients fall back to OpenAPI v3 or to their built-in types.
pub async fn v2() -> Response {
    ApiError::not_acceptable("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
        .into_response()
}
