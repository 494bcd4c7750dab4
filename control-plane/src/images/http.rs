//! The image store's HTTP endpoints. They live under `/wasmkube/v1`, outside `/api` and
//! `/apis`, so that kubectl's discovery never sees them; their errors are Kubernetes
//! Status objects like every other answer of the API server.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::digest::Digest;
use super::reference::ImageReference;
use super::store::{ImageStoreError, StoredBlob};
use crate::api::{ApiError, ApiResult, ApiState};

/// A tag request is a one-field JSON object; anything near this size is not one.
const MAX_TAG_REQUEST_BYTES: usize = 64 * 1024;

/// How much of a blob is read from disk at a time while it is sent.
const BLOB_READ_CHUNK_BYTES: usize = 64 * 1024;

const WASM_CONTENT_TYPE: &str = "application/wasm";

/// The image store's routes, merged into the API server's router.
pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/wasmkube/v1/blobs/{digest}",
            get(get_blob)
                .head(head_blob)
                .put(put_blob)
                .fallback(method_not_allowed),
        )
        .route(
            "/wasmkube/v1/images",
            get(list_images).fallback(method_not_allowed),
        )
        .route(
            "/wasmkube/v1/images/{*reference}",
            get(get_image).put(put_image).fallback(method_not_allowed),
        )
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::method_not_allowed(format!(
        "the server does not allow this method on the requested resource: {method}"
    ))
}

fn not_found(message: String) -> ApiError {
    ApiError {
        code: StatusCode::NOT_FOUND,
        reason: "NotFound",
        message,
        details: None,
    }
}

fn store_error(error: ImageStoreError) -> ApiError {
    match error {
        ImageStoreError::TooLarge { limit } => {
            ApiError::too_large(usize::try_from(limit).unwrap_or(usize::MAX))
        }
        ImageStoreError::DigestMismatch { .. }
        | ImageStoreError::NotWebAssembly
        | ImageStoreError::Body(_) => ApiError::bad_request(error.to_string()),
        ImageStoreError::BlobNotFound(_) => not_found(error.to_string()),
        ImageStoreError::Io { .. }
        | ImageStoreError::CorruptTag { .. }
        | ImageStoreError::TaggedBlobMissing { .. } => ApiError::internal(error.to_string()),
    }
}

fn path_segment(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    path.map(|Path(segment)| segment)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

fn digest_in_path(path: Result<Path<String>, PathRejection>) -> ApiResult<Digest> {
    Digest::parse(&path_segment(path)?).map_err(|error| ApiError::bad_request(error.to_string()))
}

fn reference_in_path(path: Result<Path<String>, PathRejection>) -> ApiResult<ImageReference> {
    ImageReference::parse(&path_segment(path)?)
        .map_err(|error| ApiError::bad_request(error.to_string()))
}

fn blob_not_found(digest: &Digest) -> ApiError {
    store_error(ImageStoreError::BlobNotFound(digest.clone()))
}

/// `PUT /wasmkube/v1/blobs/sha256:<hex>`: 201 when stored, 200 when it already was.
async fn put_blob(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let digest = digest_in_path(path)?;
    let limit = state.images.max_blob_bytes();
    // A body announced as too large is refused before any of it is read.
    let announced_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if announced_length.is_some_and(|length| length > limit) {
        return Err(store_error(ImageStoreError::TooLarge { limit }));
    }
    let stored: StoredBlob = state
        .images
        .put_blob(&digest, body.into_data_stream())
        .await
        .map_err(store_error)?;
    let code = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(stored)).into_response())
}

/// `GET /wasmkube/v1/blobs/sha256:<hex>`: the blob's bytes, streamed from disk.
async fn get_blob(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let digest = digest_in_path(path)?;
    let blob = state
        .images
        .open_blob(&digest)
        .await
        .map_err(store_error)?
        .ok_or_else(|| blob_not_found(&digest))?;
    Ok((
        [
            (header::CONTENT_TYPE, WASM_CONTENT_TYPE.to_owned()),
            (header::CONTENT_LENGTH, blob.size.to_string()),
        ],
        Body::from_stream(file_chunks(blob.file)),
    )
        .into_response())
}

/// `HEAD /wasmkube/v1/blobs/sha256:<hex>`: whether the store has the blob, and its size,
/// so that a client can skip uploading what is already there.
async fn head_blob(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let digest = digest_in_path(path)?;
    let size = state
        .images
        .blob_size(&digest)
        .await
        .map_err(store_error)?
        .ok_or_else(|| blob_not_found(&digest))?;
    Ok((
        [
            (header::CONTENT_TYPE, WASM_CONTENT_TYPE.to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::empty(),
    )
        .into_response())
}

fn file_chunks(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> {
    futures::stream::try_unfold(file, |mut file| async move {
        let mut buffer = BytesMut::with_capacity(BLOB_READ_CHUNK_BYTES);
        let read = file.read_buf(&mut buffer).await?;
        Ok((read > 0).then(|| (buffer.freeze(), file)))
    })
}

#[derive(serde::Deserialize)]
struct TagRequest {
    digest: String,
}

/// `PUT /wasmkube/v1/images/NAME:TAG` with `{"digest": "sha256:<hex>"}`.
async fn put_image(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> ApiResult<Response> {
    let reference = reference_in_path(path)?;
    let body = Limited::new(body, MAX_TAG_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                ApiError::too_large(MAX_TAG_REQUEST_BYTES)
            } else {
                ApiError::bad_request(format!("error reading the request body: {error}"))
            }
        })?
        .to_bytes();
    let request: TagRequest = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(format!(
            "the body must be a JSON object {{\"digest\": \"sha256:<hex>\"}}: {error}"
        ))
    })?;
    let digest =
        Digest::parse(&request.digest).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let record = state
        .images
        .tag(&reference, &digest)
        .await
        .map_err(store_error)?;
    Ok(Json(record).into_response())
}

/// `GET /wasmkube/v1/images/NAME:TAG`: what the tag points at.
async fn get_image(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let reference = reference_in_path(path)?;
    let record = state
        .images
        .resolve(&reference)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            not_found(format!(
                "image \"{reference}\" not found in the cluster's image store"
            ))
        })?;
    Ok(Json(record).into_response())
}

/// `GET /wasmkube/v1/images`: every tag, sorted by name and tag.
async fn list_images(State(state): State<Arc<ApiState>>) -> ApiResult<Response> {
    let images = state.images.list().await.map_err(store_error)?;
    Ok(Json(json!({ "items": images })).into_response())
}
