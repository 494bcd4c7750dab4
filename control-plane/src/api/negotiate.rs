//! Content negotiation: decoding request bodies (JSON or YAML, and the patch types) and
//! choosing the response form from `Accept` (JSON, YAML, Table, PartialObjectMetadata).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::Value;
use wasmkube_protobuf::ProtobufError;

use super::status::{ApiError, ApiResult};

/// The largest request body accepted, as in Kubernetes.
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseForm {
    Json,
    Yaml,
    Table,
    PartialObjectMetadata,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

struct MediaType<'a> {
    essence: &'a str,
    parameters: Vec<(&'a str, &'a str)>,
}

fn parse_media_type(text: &str) -> MediaType<'_> {
    let mut parts = text.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    let parameters = parts
        .filter_map(|parameter| parameter.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect();
    MediaType {
        essence,
        parameters,
    }
}

impl MediaType<'_> {
    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// The first form in `Accept` that the server can produce.
pub fn response_form(headers: &HeaderMap) -> ApiResult<ResponseForm> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(ResponseForm::Json);
    };
    if accept.trim().is_empty() {
        return Ok(ResponseForm::Json);
    }
    for candidate in accept.split(',') {
        let media = parse_media_type(candidate);
        let form = match (media.essence, media.parameter("as")) {
            ("application/json", Some("Table")) if media.parameter("g") == Some("meta.k8s.io") => {
                Some(ResponseForm::Table)
            }
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList")) => {
                Some(ResponseForm::PartialObjectMetadata)
            }
            ("application/json" | "*/*" | "application/*", None) => Some(ResponseForm::Json),
            ("application/yaml", None) => Some(ResponseForm::Yaml),
            _ => None,
        };
        if let Some(form) = form {
            return Ok(form);
        }
    }
    Err(ApiError::not_acceptable(accept))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_owned()
}

/// Decodes a create/update body: JSON or YAML, one object.
pub fn decode_object_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let content_type = content_type(headers);
    let value = match parse_media_type(&content_type).essence {
        "application/json" | "" => decode_json(body)?,
        "application/yaml" => decode_yaml(body)?,
        "application/vnd.kubernetes.protobuf" => decode_protobuf(body)?,
        _ => return Err(ApiError::unsupported_media_type()),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a single object",
        ));
    }
    Ok(value)
}

pub fn patch_type(headers: &HeaderMap) -> ApiResult<PatchType> {
    let content_type = content_type(headers);
    match parse_media_type(&content_type).essence {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" => Ok(PatchType::Apply),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// A protobuf body of a kind this server has no protobuf layout for is refused as an
/// unsupported media type, so the client knows that JSON would work.
pub fn decode_protobuf(body: &[u8]) -> ApiResult<Value> {
    wasmkube_protobuf::decode_object(body).map_err(|error| match error {
        ProtobufError::UnsupportedKind { .. } => ApiError::unsupported_body(error.to_string()),
        other => ApiError::bad_request(format!("error decoding protobuf: {other}")),
    })
}

pub fn decode_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding JSON: {error}")))
}

/// YAML with anchors and aliases is accepted, but serde_yaml's repetition limit refuses
/// alias bombs, so a small body cannot expand into gigabytes.
pub fn decode_yaml(body: &[u8]) -> ApiResult<Value> {
    serde_yaml::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error converting YAML to JSON: {error}")))
}

pub fn encode(form: ResponseForm, code: StatusCode, value: &Value) -> Response {
    match form {
        ResponseForm::Yaml => match serde_yaml::to_string(value) {
            Ok(text) => (code, [(header::CONTENT_TYPE, "application/yaml")], text).into_response(),
            Err(error) => ApiError::internal(error.to_string()).into_response(),
        },
        _ => (
            code,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> ApiResult<ResponseForm> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        response_form(&headers)
    }

    #[test]
    fn the_first_producible_form_in_accept_wins() {
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(accept(kubectl_get).unwrap(), ResponseForm::Table);
        assert_eq!(
            accept("application/vnd.kubernetes.protobuf, application/json").unwrap(),
            ResponseForm::Json
        );
        assert_eq!(accept("application/yaml").unwrap(), ResponseForm::Yaml);
        assert_eq!(
            accept("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").unwrap(),
            ResponseForm::PartialObjectMetadata
        );
        assert_eq!(
            accept("application/vnd.kubernetes.protobuf")
                .unwrap_err()
                .code,
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn yaml_alias_bombs_are_refused() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        let error = decode_yaml(bomb.as_bytes()).unwrap_err();
        assert_eq!(error.code, StatusCode::BAD_REQUEST);
        assert!(
            error.message.contains("repetition limit"),
            "{}",
            error.message
        );
    }
}
