//! `GET /wasmkube/v1/snapshot`: a backup of the running cluster, streamed as it is
//! taken (the store at one revision, then the image store), as etcd's snapshot RPC
//! streams one to `etcdctl snapshot save`. Only system:masters may take one: it holds
//! every Secret of the cluster, and the RBAC roles that reach `/wasmkube/v1/*` (the
//! nodes' image-reader, the image-pusher) are meant for images, not for this.

use std::io::{self, Write};
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::header;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{ApiError, ApiResult, ApiState};
use crate::auth::UserInfo;
use crate::auth::user::MASTERS_GROUP;
use crate::store::backup::write_cluster_snapshot;

pub const SNAPSHOT_PATH: &str = "/wasmkube/v1/snapshot";

/// How much of the snapshot is gathered before it is handed to the connection.
const CHUNK_BYTES: usize = 256 * 1024;
/// How many chunks may wait for a slow client before the snapshot waits too.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A `Write` that hands what is written to the response body in chunks; it fails once
/// the client has gone, which ends the snapshot.
struct BodyWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: BytesMut,
}

impl BodyWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

pub async fn get_snapshot(
    State(state): State<Arc<ApiState>>,
    Extension(user): Extension<UserInfo>,
) -> ApiResult<Response> {
    if !user.in_group(MASTERS_GROUP) {
        return Err(ApiError::forbidden_request(
            format!(
                "forbidden: User \"{}\" cannot get path \"{SNAPSHOT_PATH}\": only members of {MASTERS_GROUP} may take a snapshot of the cluster",
                user.username
            ),
            "",
            "",
            "",
        ));
    }
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let errors = sender.clone();
        let writer = BodyWriter {
            sender,
            buffer: BytesMut::with_capacity(CHUNK_BYTES),
        };
        match write_cluster_snapshot(state.storage.as_ref(), &state.images, &runtime, writer) {
            Ok((_, summary)) => {
                tracing::info!(user = %user.username, ?summary, "snapshot taken");
            }
            Err(error) => {
                tracing::warn!(user = %user.username, %error, "snapshot failed");
                // An error in the body ends the response without its end record, which
                // the client reports as a truncated snapshot.
                let _ = errors.blocking_send(Err(io::Error::other(error.to_string())));
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(ReceiverStream::new(receiver)),
    )
        .into_response())
}
