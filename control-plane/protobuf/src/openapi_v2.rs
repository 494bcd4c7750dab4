//! The OpenAPI v2 document as gnostic's `openapi.v2.Document` protobuf message, the only
//! form in which kubectl 1.27 accepts it (`Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).
//!
//! Only what clients read is encoded: each path with its operations, their
//! `x-kubernetes-*` extensions and query parameters. kubectl looks for the PATCH
//! operation of a kind and its `fieldValidation` parameter to learn that the server
//! validates fields itself; without schema definitions it falls back to its built-in
//! types for everything else. The field numbers are those of gnostic's
//! `openapiv2/OpenAPIv2.proto`.

use crate::wire::MessageWriter;

/// An HTTP method, numbered as the field of `PathItem` that holds its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get = 2,
    Put = 3,
    Post = 4,
    Delete = 5,
    Patch = 8,
}

#[derive(Clone, Copy)]
pub struct QueryParameter {
    pub name: &'static str,
    pub description: &'static str,
}

pub struct Operation {
    pub method: Method,
    pub operation_id: String,
    pub parameters: Vec<QueryParameter>,
    /// Vendor extensions as (name, YAML value), such as `x-kubernetes-action`.
    pub extensions: Vec<(String, String)>,
}

pub struct PathItem {
    pub path: String,
    pub operations: Vec<Operation>,
}

pub struct Document {
    pub title: String,
    pub version: String,
    pub paths: Vec<PathItem>,
}

fn named_any(name: &str, yaml: &str) -> MessageWriter {
    MessageWriter::build(|named| {
        named
            .string(1, name)
            .message(2, MessageWriter::build(|any| _ = any.string(2, yaml)));
    })
}

fn query_parameter(parameter: &QueryParameter) -> MessageWriter {
    let sub_schema = MessageWriter::build(|schema| {
        schema
            .string(2, "query")
            .string(3, parameter.description)
            .string(4, parameter.name)
            .string(6, "string")
            .boolean(20, true);
    });
    let non_body = MessageWriter::build(|non_body| _ = non_body.message(3, sub_schema));
    let parameter = MessageWriter::build(|parameter| _ = parameter.message(2, non_body));
    MessageWriter::build(|item| _ = item.message(1, parameter))
}

fn responses() -> MessageWriter {
    let ok = MessageWriter::build(|response| _ = response.string(1, "OK"));
    let value = MessageWriter::build(|value| _ = value.message(1, ok));
    let named = MessageWriter::build(|named| _ = named.string(1, "200").message(2, value));
    MessageWriter::build(|responses| _ = responses.message(1, named))
}

fn operation(operation: &Operation) -> MessageWriter {
    MessageWriter::build(|message| {
        message.string(5, &operation.operation_id);
        for parameter in &operation.parameters {
            message.message(8, query_parameter(parameter));
        }
        message.message(9, responses());
        for (name, yaml) in &operation.extensions {
            message.message(13, named_any(name, yaml));
        }
    })
}

fn path_item(path: &PathItem) -> MessageWriter {
    let item = MessageWriter::build(|item| {
        for each in &path.operations {
            item.message(each.method as u32, operation(each));
        }
    });
    MessageWriter::build(|named| _ = named.string(1, &path.path).message(2, item))
}

/// The document as the bytes of an `openapi.v2.Document`.
pub fn encode(document: &Document) -> Vec<u8> {
    let info = MessageWriter::build(|info| {
        info.string(1, &document.title).string(2, &document.version);
    });
    let paths = MessageWriter::build(|paths| {
        for path in &document.paths {
            paths.message(2, path_item(path));
        }
    });
    MessageWriter::build(|root| {
        root.string(1, "2.0")
            .message(2, info)
            .string(7, "application/json")
            .message(8, paths);
    })
    .into_bytes()
}
