//! Running a command in a container on the node endpoint, the kubelet's part of
//! `kubectl exec`.
//!
//! A WASI guest cannot start a process inside itself, so the command runs as exec probes
//! run theirs: the container's image run again as a new guest, with the command as its
//! argv, in the container's sandbox (its mounts, environment, working directory and pod
//! network; memory and CPU limits of its own, equal to the container's, while the
//! node's memory is shared by all guests). WASI has no PATH: the command's first word
//! is only argv[0] of the image's program, as a container's `command` and an exec
//! probe's are, so `kubectl exec pod -- cat /x` runs the image with argv `[cat, /x]`: a
//! guest that dispatches on argv[0] (as busybox does) runs `cat`, one that skips it
//! (testbox) reads `/x` as its applet and wants `kubectl exec pod -- testbox cat /x`.
//! The container must be running ([`ExecSandboxes`]); its run's end stops the commands
//! still running in it. A trap fails the command with its message (an InternalError
//! Status); running out of memory is exit code 137.
//!
//! The API server speaks the client's protocol and opens one upgraded HTTP/1.1
//! connection here: `POST /exec/{namespace}/{pod}/{uid}/{container}?command=…&stdin=true`
//! with `Upgrade: wasmkube-exec`. After the 101, the bytes the API server sends are the
//! command's stdin (its half-close is the end of stdin; without `stdin=true` the guest's
//! stdin is at its end from the start), and what comes back is `wire`'s frames: stdout
//! and stderr apart, then the Status the kubelet writes on the error channel.

mod output;
mod sandboxes;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use wasmkube_container_logs::LogStream;

pub use output::{CHUNK_BYTES, ExecOutput};
pub use sandboxes::{ExecRegistration, ExecSandboxes};

use crate::attach::{GuestStdin, asks_for_upgrade};
use crate::guest::{GuestExit, GuestOutput};
use output::OutputChunk;
use sandboxes::FoundSandbox;

/// The `Upgrade` protocol of the API server's exec connections to the node endpoint.
pub const EXEC_UPGRADE: &str = "wasmkube-exec";

/// The exit code of a process killed (SIGKILL) because its container stopped.
const KILLED_EXIT_CODE: i32 = 137;

/// How many bytes of stdin wait for the guest before the connection is read further.
const STDIN_PIPE_BYTES: usize = 64 * 1024;

/// What the query asks of an exec.
#[derive(Debug, PartialEq)]
struct ExecQuery {
    command: Vec<String>,
    stdin: bool,
}

fn exec_query(query: Option<&str>) -> Result<ExecQuery, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|error| format!("invalid query: {error}"))?;
    let command: Vec<String> = pairs
        .iter()
        .filter(|(key, _)| key == "command")
        .map(|(_, value)| value.clone())
        .collect();
    if command.is_empty() {
        return Err("you must specify at least 1 command".to_owned());
    }
    Ok(ExecQuery {
        command,
        stdin: pairs
            .iter()
            .any(|(key, value)| key == "stdin" && matches!(value.as_str(), "true" | "1")),
    })
}

/// The node endpoint's exec route.
pub fn routes(sandboxes: ExecSandboxes) -> Router {
    Router::new()
        .route(
            "/exec/{namespace}/{pod_name}/{pod_uid}/{container}",
            post(exec),
        )
        .with_state(sandboxes)
}

async fn exec(
    State(sandboxes): State<ExecSandboxes>,
    Path((namespace, pod_name, pod_uid, container)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    mut request: Request,
) -> Response {
    if !asks_for_upgrade(request.headers(), EXEC_UPGRADE) {
        return (
            StatusCode::BAD_REQUEST,
            format!("exec needs a connection upgrade to {EXEC_UPGRADE}"),
        )
            .into_response();
    }
    let query = match exec_query(query.as_deref()) {
        Ok(query) => query,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    // The kubelet's words for a container that is not running.
    let Some(found) = sandboxes.find(&pod_uid, &container) else {
        return (
            StatusCode::NOT_FOUND,
            format!("container not found ({container:?})"),
        )
            .into_response();
    };
    tracing::debug!(%namespace, pod = %pod_name, %container, command = ?query.command, "exec");
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => run_session(TokioIo::new(upgraded), found, query).await,
            Err(error) => tracing::debug!(%error, "the exec connection was not upgraded"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static(EXEC_UPGRADE));
    response
}

/// How a session ended.
enum Ending {
    Exited(Result<GuestExit, tokio::task::JoinError>),
    ClientGone,
    ContainerStopped,
}

/// Runs the command with the connection as its stdin and its output's destination, and
/// ends with its Status.
async fn run_session<Io>(io: Io, found: FoundSandbox, query: ExecQuery)
where
    Io: AsyncRead + AsyncWrite + Send + 'static,
{
    let FoundSandbox {
        sandbox,
        mut running,
    } = found;
    let (mut from_client, mut to_client) = tokio::io::split(io);
    let (output, mut chunks) = ExecOutput::channel();
    let (stdin, stdin_writer) = if query.stdin {
        let (reader, writer) = tokio::io::simplex(STDIN_PIPE_BYTES);
        (Some(Arc::new(GuestStdin::private(reader))), Some(writer))
    } else {
        (None, None)
    };
    let launch =
        sandbox.command_launch(query.command.clone(), GuestOutput::Streamed(output), stdin);
    let mut run = sandbox.spawn(launch);
    let feed_stdin = async move {
        if let Some(mut writer) = stdin_writer {
            if let Err(error) = tokio::io::copy(&mut from_client, &mut writer).await {
                tracing::debug!(%error, "copying an exec's stdin ended");
            }
            // Shutting the pipe's writing end is the end of the guest's input.
            let _ = writer.shutdown().await;
        }
        std::future::pending::<()>().await;
    };
    let mut feed_stdin = std::pin::pin!(feed_stdin);
    let ending = loop {
        tokio::select! {
            biased;
            chunk = chunks.recv() => match chunk {
                Some(chunk) => {
                    if send_chunk(&mut to_client, &chunk).await.is_err() {
                        break Ending::ClientGone;
                    }
                }
                None => break Ending::Exited((&mut run).await),
            },
            exit = &mut run => {
                // Everything the guest wrote is queued by now.
                let mut delivered = true;
                while let Ok(chunk) = chunks.try_recv() {
                    delivered = delivered && send_chunk(&mut to_client, &chunk).await.is_ok();
                }
                break if delivered { Ending::Exited(exit) } else { Ending::ClientGone };
            }
            _ = running.changed() => break Ending::ContainerStopped,
            () = &mut feed_stdin => {}
        }
    };
    let status = match ending {
        Ending::ClientGone => {
            // Nobody is left to read the output or the status.
            run.abort();
            return;
        }
        Ending::ContainerStopped => {
            run.abort();
            wire::non_zero_exit_code(&query.command, KILLED_EXIT_CODE)
        }
        Ending::Exited(Ok(exit)) => wire::exit_status(&query.command, &exit),
        Ending::Exited(Err(error)) => wire::internal_error(&error.to_string()),
    };
    let status = wire::frame(wire::STATUS_FRAME, status.to_string().as_bytes());
    if to_client.write_all(&status).await.is_ok() {
        let _ = to_client.shutdown().await;
    }
}

async fn send_chunk<Writer: AsyncWrite + Unpin>(
    writer: &mut Writer,
    chunk: &OutputChunk,
) -> std::io::Result<()> {
    let kind = match chunk.stream {
        LogStream::Stdout => wire::STDOUT_FRAME,
        LogStream::Stderr => wire::STDERR_FRAME,
    };
    writer.write_all(&wire::frame(kind, &chunk.bytes)).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_the_command_and_whether_stdin_is_wanted() {
        assert_eq!(
            exec_query(Some("command=cat&command=%2Fdata%2Fx&stdin=true")),
            Ok(ExecQuery {
                command: vec!["cat".to_owned(), "/data/x".to_owned()],
                stdin: true,
            })
        );
        assert_eq!(
            exec_query(Some("stdin=true")),
            Err("you must specify at least 1 command".to_owned())
        );
    }
}
