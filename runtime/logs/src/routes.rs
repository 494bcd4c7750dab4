//! The node endpoint's log route, which the API server proxies pods/log to, as it does to
//! the kubelet's `/containerLogs/{namespace}/{pod}/{container}`.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;

use crate::query::LogQuery;
use crate::read::LogError;
use crate::root::LogRoot;

/// The routes serving `logs`: `GET /containerLogs/{namespace}/{pod}/{container}` with
/// the query parameters of pods/log (`follow`, `previous`, `timestamps`, `tailLines`,
/// `sinceSeconds`, `sinceTime`, `limitBytes`). The log is streamed as it is read.
pub fn routes(logs: LogRoot) -> Router {
    Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .with_state(logs)
}

async fn container_logs(
    State(logs): State<LogRoot>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    parameters: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Path((namespace, pod, container)) = match path {
        Ok(path) => path,
        Err(rejection) => return status_response(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let Query(parameters) = match parameters {
        Ok(parameters) => parameters,
        Err(rejection) => return status_response(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let query = match parse_query(&parameters) {
        Ok(query) => query,
        Err(error) => return status_response(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    match logs.read(&namespace, &pod, &container, query).await {
        Ok(log) => ([(CONTENT_TYPE, "text/plain")], Body::from_stream(log)).into_response(),
        Err(error) => status_response(status_code(&error), &error.to_string()),
    }
}

fn status_code(error: &LogError) -> StatusCode {
    match error {
        LogError::InvalidQuery(_)
        | LogError::InvalidName(_)
        | LogError::PreviousNotFound { .. } => StatusCode::BAD_REQUEST,
        LogError::NoLogsYet { .. } => StatusCode::NOT_FOUND,
        LogError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A Kubernetes Status object for a failure, with the reason that goes with its code.
fn status_response(code: StatusCode, message: &str) -> Response {
    let reason = match code {
        StatusCode::BAD_REQUEST => "BadRequest",
        StatusCode::NOT_FOUND => "NotFound",
        _ => "InternalError",
    };
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (
        code,
        [(CONTENT_TYPE, "application/json")],
        status.to_string(),
    )
        .into_response()
}

/// A query parameter whose value does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for query parameter {name:?}: {reason}")]
struct ParameterError {
    name: &'static str,
    value: String,
    reason: String,
}

/// Reads pods/log's query parameters. As in Kubernetes, the first of repeated parameters
/// counts and unknown ones (such as `container`, already in the path) are ignored.
fn parse_query(parameters: &[(String, String)]) -> Result<LogQuery, ParameterError> {
    Ok(LogQuery {
        previous: parse_parameter(parameters, "previous", parse_bool)?.unwrap_or(false),
        follow: parse_parameter(parameters, "follow", parse_bool)?.unwrap_or(false),
        tail_lines: parse_parameter(parameters, "tailLines", parse_integer)?,
        since_seconds: parse_parameter(parameters, "sinceSeconds", parse_integer)?,
        since_time: parse_parameter(parameters, "sinceTime", parse_time)?,
        timestamps: parse_parameter(parameters, "timestamps", parse_bool)?.unwrap_or(false),
        limit_bytes: parse_parameter(parameters, "limitBytes", parse_integer)?,
    })
}

fn parse_parameter<T>(
    parameters: &[(String, String)],
    name: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ParameterError> {
    let Some((_, value)) = parameters.iter().find(|(key, _)| key == name) else {
        return Ok(None);
    };
    parse(value).map(Some).map_err(|reason| ParameterError {
        name,
        value: value.clone(),
        reason,
    })
}

/// A flag: present without a value (`?follow`) means true, as in Kubernetes.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err("must be true, false, 1 or 0".to_owned()),
    }
}

fn parse_integer(value: &str) -> Result<i64, String> {
    value
        .parse()
        .map_err(|error: std::num::ParseIntError| error.to_string())
}

fn parse_time(value: &str) -> Result<Timestamp, String> {
    value
        .parse()
        .map_err(|error: jiff::Error| format!("must be an RFC 3339 time: {error}"))
}
