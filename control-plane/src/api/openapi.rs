//! The OpenAPI v3 documents: one per group version, listing each resource's paths and
//! operations with their `x-kubernetes-group-version-kind` and parameters. kubectl reads
//! them to learn that the server validates fields itself (`fieldValidation`).

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use wasmkube_protobuf::openapi_v2::{self, Document, Method, Operation, PathItem, QueryParameter};

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

/// The query parameters of an operation that writes.
const WRITE_PARAMETERS: [QueryParameter; 3] = [
    QueryParameter {
        name: "dryRun",
        description: "When present, indicates that modifications should not be persisted.",
    },
    QueryParameter {
        name: "fieldManager",
        description: "A name associated with the actor or entity that is making these changes.",
    },
    QueryParameter {
        name: "fieldValidation",
        description: "Instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict.",
    },
];

/// One operation of the published API, in a form both documents are rendered from.
struct ApiOperation {
    method: Method,
    action: &'static str,
    operation_id: String,
    writes: bool,
}

impl ApiOperation {
    fn new(method: Method, action: &'static str, operation_id: String) -> Self {
        let writes = matches!(method, Method::Post | Method::Put | Method::Patch);
        ApiOperation {
            method,
            action,
            operation_id,
            writes,
        }
    }
}

/// Every path of one resource with its operations: the collection, the named object,
/// the all-namespaces list and the status subresource.
fn paths_for(resource: &ResourceType) -> Vec<(String, Vec<ApiOperation>)> {
    let prefix = format!("/{}", group_version_path(resource.group, resource.version));
    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    };
    let id = |verb: &str, suffix: &str| format!("{verb}{}{suffix}", resource.kind);
    if resource.create_only {
        let create = ApiOperation::new(Method::Post, "post", id("create", ""));
        return vec![(collection, vec![create])];
    }
    let mut paths = vec![
        (
            collection.clone(),
            vec![
                ApiOperation::new(Method::Get, "list", id("list", "")),
                ApiOperation::new(Method::Post, "post", id("create", "")),
                ApiOperation::new(
                    Method::Delete,
                    "deletecollection",
                    id("deletecollection", ""),
                ),
            ],
        ),
        (
            format!("{collection}/{{name}}"),
            vec![
                ApiOperation::new(Method::Get, "get", id("read", "")),
                ApiOperation::new(Method::Put, "put", id("replace", "")),
                ApiOperation::new(Method::Patch, "patch", id("patch", "")),
                ApiOperation::new(Method::Delete, "delete", id("delete", "")),
            ],
        ),
    ];
    if resource.namespaced {
        paths.push((
            format!("{prefix}/{}", resource.plural),
            vec![ApiOperation::new(
                Method::Get,
                "list",
                id("list", "ForAllNamespaces"),
            )],
        ));
    }
    if resource.subresources.contains(&"status") {
        paths.push((
            format!("{collection}/{{name}}/status"),
            vec![
                ApiOperation::new(Method::Get, "get", id("read", "Status")),
                ApiOperation::new(Method::Put, "put", id("replace", "Status")),
                ApiOperation::new(Method::Patch, "patch", id("patch", "Status")),
            ],
        ));
    }
    paths
}

fn group_version_kind(resource: &ResourceType) -> Value {
    json!({"group": resource.group, "kind": resource.kind, "version": resource.version})
}

fn v3_operation(resource: &ResourceType, operation: &ApiOperation) -> Value {
    let mut parameters =
        vec![json!({"name": "pretty", "in": "query", "schema": {"type": "string"}})];
    if operation.writes {
        parameters.extend(WRITE_PARAMETERS.iter().map(|parameter| {
            json!({"name": parameter.name, "in": "query", "description": parameter.description, "schema": {"type": "string", "uniqueItems": true}})
        }));
    }
    json!({
        "operationId": operation.operation_id,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": operation.action,
        "x-kubernetes-group-version-kind": group_version_kind(resource),
    })
}

fn v3_method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Put => "put",
        Method::Post => "post",
        Method::Delete => "delete",
        Method::Patch => "patch",
    }
}

fn kubernetes_version() -> String {
    format!("v1.{}.0", super::discovery::KUBERNETES_MINOR)
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
        for (path, operations) in paths_for(resource) {
            let item: Map<String, Value> = operations
                .iter()
                .map(|operation| {
                    (
                        v3_method_name(operation.method).to_owned(),
                        v3_operation(resource, operation),
                    )
                })
                .collect();
            paths.insert(path, Value::Object(item));
        }
    }
    Json(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": kubernetes_version()},
        "paths": paths,
        "components": {"schemas": {}},
    }))
    .into_response()
}

fn v2_document() -> Document {
    let mut paths = Vec::new();
    for resource in ALL_RESOURCES.iter() {
        let gvk_yaml = serde_yaml::to_string(&group_version_kind(resource))
            .expect("a map of strings always serializes as YAML");
        for (path, operations) in paths_for(resource) {
            let operations = operations
                .into_iter()
                .map(|operation| Operation {
                    method: operation.method,
                    operation_id: operation.operation_id,
                    parameters: if operation.writes {
                        WRITE_PARAMETERS.to_vec()
                    } else {
                        Vec::new()
                    },
                    extensions: vec![
                        ("x-kubernetes-action".into(), operation.action.into()),
                        ("x-kubernetes-group-version-kind".into(), gvk_yaml.clone()),
                    ],
                })
                .collect();
            paths.push(PathItem { path, operations });
        }
    }
    Document {
        title: "Kubernetes".into(),
        version: kubernetes_version(),
        paths,
    }
}

/// The media type Kubernetes answers protobuf OpenAPI v2 requests with.
const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

fn v2_json(document: &Document) -> Value {
    let paths: Map<String, Value> = document
        .paths
        .iter()
        .map(|path| {
            let operations: Map<String, Value> = path
                .operations
                .iter()
                .map(|operation| {
                    let parameters: Vec<Value> = operation
                        .parameters
                        .iter()
                        .map(|parameter| json!({"name": parameter.name, "in": "query", "description": parameter.description, "type": "string", "uniqueItems": true}))
                        .collect();
                    let mut item = json!({
                        "operationId": operation.operation_id,
                        "parameters": parameters,
                        "responses": {"200": {"description": "OK"}},
                    });
                    for (name, yaml) in &operation.extensions {
                        item[name] = serde_yaml::from_str(yaml).unwrap_or(Value::Null);
                    }
                    (v3_method_name(operation.method).to_owned(), item)
                })
                .collect();
            (path.path.clone(), Value::Object(operations))
        })
        .collect();
    json!({
        "swagger": "2.0",
        "info": {"title": document.title, "version": document.version},
        "paths": paths,
        "definitions": {},
    })
}

/// OpenAPI v2: as protobuf for clients that ask for it (kubectl up to 1.27 reads only
/// that form), as JSON otherwise. It has paths and operations but no schema
/// definitions, so clients fall back to their built-in types for those.
pub async fn v2(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let document = v2_document();
    if accept.contains("protobuf") {
        let body = openapi_v2::encode(&document);
        return ([(header::CONTENT_TYPE, V2_PROTOBUF_CONTENT_TYPE)], body).into_response();
    }
    Json(v2_json(&document)).into_response()
}
