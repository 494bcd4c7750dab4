//! API errors, answered as Kubernetes `Status` objects with the matching HTTP code.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::store::StoreError;

/// One field problem of an Invalid error.
#[derive(Clone, Debug)]
pub struct StatusCause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        // StatusDetails' fields are all `omitempty`: a collection's 403 names no object.
        let mut details = json!({"kind": kind});
        if !name.is_empty() {
            details["name"] = json!(name);
        }
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified_name()),
        )
        .with_details(resource.group, resource.plural, name)
    }

    pub fn path_not_found() -> Self {
        let mut error = Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        );
        // Kubernetes names no resource here, but still sends the (empty) details.
        error.details = Some(json!({}));
        error
    }

    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details("", "namespaces", namespace)
    }

    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified_name()),
        )
        .with_details(resource.group, resource.plural, name)
    }

    pub fn conflict(resource: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified_name()
            ),
        )
        .with_details(resource.group, resource.plural, name)
    }

    pub fn stale(resource: &ResourceType, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn forbidden(resource: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: {why}",
                resource.qualified_name()
            ),
        )
        .with_details(resource.group, resource.plural, name)
    }

    /// 401, as kube-apiserver answers a request without valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    /// 403 for a request the authorizers did not allow; `message` is the whole text
    /// (`Attributes::forbidden_message`), `details` its resource and name if any.
    pub fn forbidden_request(message: String, group: &str, kind: &str, name: &str) -> Self {
        let error = Self::new(StatusCode::FORBIDDEN, "Forbidden", message);
        if kind.is_empty() {
            error
        } else {
            error.with_details(group, kind, name)
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::unsupported_body(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )
    }

    /// A body in a media type the server reads, but not for this content.
    pub fn unsupported_body(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }

    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io; got {accept:?}"
            ),
        )
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "Timeout", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// 422 with one cause per field problem, worded as Kubernetes does:
    /// `Pod "x" is invalid: spec.containers[0].image: Required value`, with the kind
    /// qualified by its group outside the core group (`Deployment.apps "x" is invalid`).
    pub fn invalid(resource: &ResourceType, name: &str, causes: Vec<StatusCause>) -> Self {
        Self::invalid_of_kind(resource.group, resource.kind, name, causes)
    }

    /// The same 422 for a kind that is not a served resource (`PodLogOptions`, say).
    pub fn invalid_of_kind(group: &str, kind: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        // Causes carry the field and the problem apart, as kubectl prints them; the
        // message joins them.
        let rendered: Vec<String> = causes
            .iter()
            .map(|cause| format!("{}: {}", cause.field, cause.message))
            .collect();
        let summary = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
        )
        .with_details(group, kind, name);
        if let Some(details) = error.details.as_mut() {
            details["causes"] = causes
                .into_iter()
                .map(|cause| json!({"reason": cause.reason, "message": cause.message, "field": cause.field}))
                .collect();
        }
        error
    }

    /// Maps a store failure of a request on `resource`/`name`.
    pub fn from_store(error: StoreError, resource: &ResourceType, name: &str) -> Self {
        match error {
            StoreError::AlreadyExists => Self::already_exists(resource, name),
            StoreError::NotFound => Self::not_found(resource, name),
            StoreError::Conflict { .. } => Self::stale(resource, name),
            StoreError::Compacted { .. } => Self::gone(error.to_string()),
            StoreError::FutureRevision { .. } => {
                Self::timeout(format!("Too large resource version: {error}"))
            }
            StoreError::Corrupt { .. } | StoreError::Backend(_) | StoreError::Closed => {
                Self::internal(error.to_string())
            }
        }
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.code,
            [(http::header::CONTENT_TYPE, "application/json")],
            self.to_status().to_string(),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
