//! Serving an HTTP component: the container binds its port on the pod network (every
//! address of the pod, as `0.0.0.0` does) and serves HTTP/1.1 with keep-alive on each
//! connection, handing every request to a fresh instance (`request.rs`).
//!
//! The whole container — its listener, its connections and its in-flight instances — is
//! one future, metered as one guest: its requests share the container's CPU quota as a
//! server's threads share their cgroup's, each instance yields at every fuel slice, and
//! dropping the future (the container is killed) stops all of them at once. The container
//! never exits on its own; a request that fails is that request's 500.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::stream::FuturesUnordered;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::mpsc;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::super::run::P2GuestState;
use super::super::{GuestError, GuestExit, GuestLaunch, GuestRuntime};
use super::request::{GuestCall, Handler};
use crate::limits::cpu;
use crate::network::IncomingConnection;

/// Connections waiting to be accepted, as a listen backlog (Linux's default `somaxconn`).
const LISTEN_BACKLOG: usize = 128;

/// Serves the component until the returned future is dropped; it ends only when the
/// container cannot serve at all: no pod network, or its port is taken.
pub(in crate::guest) async fn serve(
    runtime: &GuestRuntime,
    proxy: &ProxyPre<P2GuestState>,
    launch: &GuestLaunch,
) -> GuestExit {
    let Some(network) = &launch.network else {
        return GuestExit::start_error(&GuestError::Sandbox(
            "a wasi:http component is served on the pod network, and this run has none".to_owned(),
        ));
    };
    let Some(port) = launch.http_port else {
        return GuestExit::start_error(&GuestError::Sandbox(
            "a wasi:http component needs a port to be served on, and this run has none".to_owned(),
        ));
    };
    let lease = match network.bind_tcp(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port) {
        Ok(lease) => lease,
        Err(error) => {
            return failed(format!(
                "cannot serve the wasi:http component on port {port}: {error}"
            ));
        }
    };
    let listener = network.listen_tcp(&lease, LISTEN_BACKLOG);
    let handler = Handler {
        runtime,
        proxy,
        launch,
    };
    cpu::metered(
        accept(&handler, listener),
        launch.cpu_quota,
        Arc::clone(&launch.cpu_usage),
    )
    .await;
    drop(lease);
    failed(format!("the listener on port {port} was closed"))
}

/// A container that stopped serving: an `Error` exit with the reason.
fn failed(message: String) -> GuestExit {
    GuestExit {
        exit_code: 1,
        reason: "Error",
        message: Some(message),
    }
}

/// Accepts connections and drives them and the handlers' calls, until the listener goes
/// away (which happens only if its port is taken from it).
async fn accept<'a>(handler: &'a Handler<'a>, mut listener: mpsc::Receiver<IncomingConnection>) {
    let (calls_sender, mut new_calls) = unbounded::<GuestCall<'a>>();
    let mut connections = FuturesUnordered::new();
    let mut calls = FuturesUnordered::new();
    loop {
        tokio::select! {
            incoming = listener.recv() => match incoming {
                Some(incoming) => {
                    connections.push(serve_connection(handler, incoming, calls_sender.clone()));
                }
                None => return,
            },
            Some(call) = new_calls.next() => calls.push(call),
            Some(()) = connections.next(), if !connections.is_empty() => {}
            Some(()) = calls.next(), if !calls.is_empty() => {}
        }
    }
}

/// Serves HTTP/1.1 on one connection until the client closes it (or it breaks).
async fn serve_connection<'a>(
    handler: &'a Handler<'a>,
    incoming: IncomingConnection,
    calls: UnboundedSender<GuestCall<'a>>,
) {
    let remote = incoming.remote;
    let service = hyper::service::service_fn(move |request| {
        let calls = calls.clone();
        async move { Ok::<_, Infallible>(handler.handle(request, &calls).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(incoming.stream), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%remote, "a wasi:http connection ended with an error: {error}");
    }
}
