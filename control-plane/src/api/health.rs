//! `/healthz`, `/livez`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::ApiState;
use crate::store::ObjectKey;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the store answers a read.
pub async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    match state
        .storage
        .get(&ObjectKey::new("namespaces", "", "default"))
    {
        Ok(_) => "ok".into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("[-]etcd failed: {error}\nreadyz check failed"),
        )
            .into_response(),
    }
}

pub async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let body = state.metrics.render(
        state.storage.current_revision(),
        state.storage.compacted_revision(),
    );
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}
