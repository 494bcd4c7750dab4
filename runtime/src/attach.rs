//! Attaching to a running container on the node endpoint, the kubelet's part of
//! `kubectl attach` and `kubectl run -i`.
//!
//! A container with `stdin: true` gets a pipe as its standard input
//! ([`ContainerStdins::open`]); the guest's reads wait until an attach writes to it. With
//! `stdinOnce` the pipe is closed when the first attach's stdin ends, so the guest sees
//! the end of its input, as the container runtime does.
//!
//! The API server speaks the client's protocol and opens one upgraded HTTP/1.1
//! connection here: `POST /attach/{namespace}/{pod}/{uid}/{container}?stdin=true` with
//! `Upgrade: wasmkube-attach`. After the 101, the bytes the API server sends are the
//! container's stdin (its half-close is the end of stdin), and the bytes sent back are
//! the container's output until the container exits, when the connection ends. The
//! output is the container's log followed: the first attach of an instance with stdin
//! gets it from the instance's start (even just after the guest exited), so that what a
//! short-lived guest printed before the client could attach is not lost; any other
//! attach gets what comes after it.
//! Stdout and stderr arrive merged, in the order they were logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, ReadHalf, SimplexStream, WriteHalf};
use wasmkube_container_logs::{LogQuery, LogRoot};

/// The `Upgrade` protocol of the API server's attach connections to the node endpoint.
pub const ATTACH_UPGRADE: &str = "wasmkube-attach";

/// How many bytes of stdin wait in a container's pipe before the writer waits.
const STDIN_PIPE_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StdinKey {
    pod_uid: String,
    container: String,
}

/// The writing end of one container instance's stdin.
#[derive(Debug)]
struct StdinPipe {
    writer: tokio::sync::Mutex<Option<WriteHalf<SimplexStream>>>,
    stdin_once: bool,
}

/// One container instance's entry: its pipe while the guest runs, and whether it was
/// attached to, which outlives the guest so that a first attach arriving just after a
/// short-lived guest exited still gets its whole output.
#[derive(Debug)]
struct StdinEntry {
    pipe: Weak<StdinPipe>,
    attached_before: Arc<AtomicBool>,
    opened: Instant,
}

/// How long an exited instance's entry is kept for a late first attach.
const EXITED_ENTRY_LIFETIME: Duration = Duration::from_secs(60);

/// The stdin pipes of the node's containers that have `stdin: true`. A pipe lives as
/// long as its guest's [`GuestStdin`]: a container that has exited (or was restarted,
/// which opens a new pipe) has none any more.
#[derive(Clone, Debug, Default)]
pub struct ContainerStdins {
    pipes: Arc<Mutex<HashMap<StdinKey, StdinEntry>>>,
}

/// What an attach finds of a container instance's stdin.
struct FoundStdin {
    /// The pipe, while the guest runs.
    pipe: Option<Arc<StdinPipe>>,
    /// Whether this is the instance's first attach.
    first_attach: bool,
}

/// The guest's end of its stdin pipe, kept in its launch.
#[derive(Debug)]
pub struct GuestStdin {
    reader: Mutex<Option<ReadHalf<SimplexStream>>>,
    /// Keeps the pipe findable by attaches while the guest runs.
    _pipe: Arc<StdinPipe>,
}

impl GuestStdin {
    /// A stdin no attach can find: an exec's, which its own connection feeds.
    pub fn private(reader: ReadHalf<SimplexStream>) -> GuestStdin {
        GuestStdin {
            reader: Mutex::new(Some(reader)),
            _pipe: Arc::new(StdinPipe {
                writer: tokio::sync::Mutex::new(None),
                stdin_once: false,
            }),
        }
    }

    /// The pipe's reading end, once: a wasi:http component's later instances get none.
    pub fn take_reader(&self) -> Option<ReadHalf<SimplexStream>> {
        self.reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl ContainerStdins {
    /// A new stdin pipe for a starting container instance, replacing any earlier one.
    pub fn open(&self, pod_uid: &str, container: &str, stdin_once: bool) -> GuestStdin {
        let (reader, writer) = tokio::io::simplex(STDIN_PIPE_BYTES);
        let pipe = Arc::new(StdinPipe {
            writer: tokio::sync::Mutex::new(Some(writer)),
            stdin_once,
        });
        let mut pipes = self.lock();
        pipes.retain(|_, entry| {
            entry.pipe.strong_count() > 0 || entry.opened.elapsed() < EXITED_ENTRY_LIFETIME
        });
        pipes.insert(
            StdinKey {
                pod_uid: pod_uid.to_owned(),
                container: container.to_owned(),
            },
            StdinEntry {
                pipe: Arc::downgrade(&pipe),
                attached_before: Arc::default(),
                opened: Instant::now(),
            },
        );
        GuestStdin {
            reader: Mutex::new(Some(reader)),
            _pipe: pipe,
        }
    }

    /// The instance's stdin, recording an attach; a container without `stdin: true`
    /// has none, and its attaches never count as first.
    fn attach(&self, pod_uid: &str, container: &str) -> FoundStdin {
        let key = StdinKey {
            pod_uid: pod_uid.to_owned(),
            container: container.to_owned(),
        };
        match self.lock().get(&key) {
            Some(entry) => FoundStdin {
                pipe: entry.pipe.upgrade(),
                first_attach: !entry.attached_before.swap(true, Ordering::SeqCst),
            },
            None => FoundStdin {
                pipe: None,
                first_attach: false,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StdinKey, StdinEntry>> {
        self.pipes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Clone)]
struct AttachState {
    logs: LogRoot,
    stdins: ContainerStdins,
}

/// The node endpoint's attach route.
pub fn routes(logs: LogRoot, stdins: ContainerStdins) -> Router {
    Router::new()
        .route(
            "/attach/{namespace}/{pod_name}/{pod_uid}/{container}",
            post(attach),
        )
        .with_state(AttachState { logs, stdins })
}

/// Whether the request asks to upgrade its connection to `protocol` (attach's, exec's).
pub(crate) fn asks_for_upgrade(headers: &HeaderMap, protocol: &str) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case(protocol));
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("upgrade"));
    upgrade && connection_upgrade
}

/// Whether the query asks for stdin (`stdin=true` or `stdin=1`, as Kubernetes' booleans).
fn wants_stdin(query: Option<&str>) -> bool {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("stdin="))
        .any(|value| matches!(value, "true" | "1"))
}

async fn attach(
    State(state): State<AttachState>,
    Path((namespace, pod_name, pod_uid, container)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    mut request: Request,
) -> Response {
    if !asks_for_upgrade(request.headers(), ATTACH_UPGRADE) {
        return (
            StatusCode::BAD_REQUEST,
            format!("attaching needs a connection upgrade to {ATTACH_UPGRADE}"),
        )
            .into_response();
    }
    let found = state.stdins.attach(&pod_uid, &container);
    let log_query = LogQuery {
        follow: true,
        tail_lines: if found.first_attach { None } else { Some(0) },
        ..LogQuery::default()
    };
    let output = match state
        .logs
        .read(&namespace, &pod_name, &container, log_query)
        .await
    {
        Ok(output) => output,
        Err(error) => {
            return (StatusCode::NOT_FOUND, error.to_string()).into_response();
        }
    };
    let stdin = found.pipe.filter(|_| wants_stdin(query.as_deref()));
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "the attach connection was not upgraded");
                return;
            }
        };
        let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
        let forward_output = async move {
            let mut output = std::pin::pin!(output);
            while let Some(Ok(bytes)) = output.next().await {
                if to_client.write_all(&bytes).await.is_err() {
                    return;
                }
                let _ = to_client.flush().await;
            }
            let _ = to_client.shutdown().await;
        };
        let forward_stdin = async move {
            let Some(pipe) = stdin else {
                return std::future::pending().await;
            };
            let mut writer = pipe.writer.lock().await;
            if let Some(stdin) = writer.as_mut()
                && let Err(error) = tokio::io::copy(&mut from_client, stdin).await
            {
                tracing::debug!(%error, "copying an attach's stdin to the container ended");
            }
            if pipe.stdin_once
                && let Some(mut stdin) = writer.take()
            {
                // Shutting the pipe's writing end is the end of the guest's input.
                let _ = stdin.shutdown().await;
            }
            std::future::pending::<()>().await;
        };
        // The container's exit ends the output and so the attach; stdin ending does not.
        tokio::select! {
            () = forward_output => {}
            () = forward_stdin => {}
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static(ATTACH_UPGRADE));
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[test]
    fn stdin_is_asked_for_with_a_kubernetes_boolean() {
        assert!(wants_stdin(Some("container=app&stdin=true")));
        assert!(wants_stdin(Some("stdin=1")));
        assert!(!wants_stdin(Some("stdin=false&stdout=true")));
        assert!(!wants_stdin(None));
    }

    #[tokio::test]
    async fn a_pipe_is_found_while_its_guest_holds_it_and_stdin_once_closes_it() {
        let stdins = ContainerStdins::default();
        let guest = stdins.open("uid-1", "app", true);
        let found = stdins.attach("uid-1", "app");
        assert!(found.first_attach);
        let pipe = found.pipe.expect("the open pipe");
        let mut reader = guest.take_reader().expect("the reading end");
        assert!(guest.take_reader().is_none());
        {
            let mut writer = pipe.writer.lock().await;
            let stdin = writer.as_mut().expect("an open writer");
            stdin.write_all(b"hello").await.expect("written");
            stdin.shutdown().await.expect("shut");
        }
        let mut read = String::new();
        reader
            .read_to_string(&mut read)
            .await
            .expect("read to the end");
        assert_eq!(read, "hello");
        drop(pipe);
        drop(guest);
        let after_exit = stdins.attach("uid-1", "app");
        assert!(after_exit.pipe.is_none());
        assert!(!after_exit.first_attach);
        let never_attached = stdins.open("uid-1", "app", true);
        drop(never_attached);
        assert!(stdins.attach("uid-1", "app").first_attach);
        assert!(!stdins.attach("uid-2", "app").first_attach);
    }
}
