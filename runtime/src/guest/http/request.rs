//! One request, one instance: a fresh store with the container's limits, environment,
//! mounts and log, the component instantiated from its `ProxyPre`, and
//! `wasi:http/incoming-handler.handle` called with the request. The response (and its
//! body, streamed as the guest writes it) goes back to the connection; a handler that
//! traps, exits or answers no response is a 500 and a line in the container's log, never
//! the end of the container.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::channel::mpsc::UnboundedSender;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper::body::Incoming;
use tokio::sync::oneshot;
use wasmkube_container_logs::LogStream;
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::OutputStream;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::super::run::P2GuestState;
use super::super::{GuestLaunch, GuestLogOutput, GuestRuntime};

/// A handler's call, from instantiation to the end of `handle`, which may outlive the
/// response it sent (the guest keeps writing the body, or does work after it).
pub(super) type GuestCall<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What a served container's requests are answered with.
pub(super) struct Handler<'a> {
    pub runtime: &'a GuestRuntime,
    pub proxy: &'a ProxyPre<P2GuestState>,
    pub launch: &'a GuestLaunch,
}

impl<'a> Handler<'a> {
    /// Answers one request. The handler's call is handed to `calls` to be driven by the
    /// container's serving loop, so that it goes on after the response has been returned.
    pub(super) async fn handle(
        &'a self,
        request: hyper::Request<Incoming>,
        calls: &UnboundedSender<GuestCall<'a>>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let request_line = format!("{} {}", request.method(), request.uri());
        let mut store = match self.runtime.p2_store(self.launch) {
            Ok(store) => store,
            Err(error) => {
                self.log(
                    &request_line,
                    &format!("no instance could be prepared: {error}"),
                );
                return plain_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        let (response_sender, response_receiver) = oneshot::channel();
        let responded = Arc::new(AtomicBool::new(false));
        let resources = {
            let responded = Arc::clone(&responded);
            let mut http = store.data_mut().http();
            http.new_incoming_request(Scheme::Http, request)
                .and_then(|request| {
                    let outparam = http.new_response_outparam_from_callback(move |response| {
                        responded.store(true, Ordering::Release);
                        // The connection may have gone: then nobody wants the response.
                        let _ = response_sender.send(response);
                    })?;
                    Ok((request, outparam))
                })
        };
        let (request, outparam) = match resources {
            Ok(resources) => resources,
            Err(error) => {
                return plain_response(StatusCode::BAD_REQUEST, &format!("Bad Request: {error}"));
            }
        };
        let call_line = request_line.clone();
        let call: GuestCall<'a> = Box::pin(async move {
            let proxy = match self.proxy.instantiate_async(&mut store).await {
                Ok(proxy) => proxy,
                Err(error) => {
                    let problem = failure("the instance could not start", &error, store.data());
                    self.log(&call_line, &problem);
                    return;
                }
            };
            let outcome = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, outparam)
                .await;
            match outcome {
                Ok(()) if !responded.load(Ordering::Acquire) => {
                    self.log(
                        &call_line,
                        "the handler returned without setting a response",
                    );
                }
                Ok(()) => {}
                Err(error) => {
                    let problem = failure("the handler trapped", &error, store.data());
                    self.log(&call_line, &problem);
                }
            }
        });
        if calls.unbounded_send(call).is_err() {
            // The serving loop is gone, so the container is stopping.
            return plain_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
        match response_receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                self.log(
                    &request_line,
                    &format!("the handler answered with the error {code:?}"),
                );
                plain_response(status_for(&code), "the request's handler failed")
            }
            // The outparam went away unset: the call failed or returned without an
            // answer, which it logs.
            Err(_) => plain_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }

    /// Writes a line about `request_line` into the container's log, on stderr, where a
    /// server process would report a failed request.
    fn log(&self, request_line: &str, problem: &str) {
        let mut stderr = GuestLogOutput::new(self.launch.output.clone(), LogStream::Stderr);
        let line = format!("wasmkube: \"{request_line}\": {problem}\n");
        if let Err(error) = stderr.write(Bytes::from(line)) {
            tracing::warn!(%error, "cannot write a wasi:http failure into the container's log");
        }
    }
}

/// Why an instance failed, in the words a user needs; `what` says what failed unless
/// the guest exited or hit the memory limit.
fn failure(what: &str, error: &wasmtime::Error, state: &P2GuestState) -> String {
    if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
        return format!("the handler exited with code {code} instead of returning");
    }
    if state.memory_exceeded() {
        return format!("the instance ran out of memory: {error:#}");
    }
    format!("{what}: {error:#}")
}

/// The status for a response the handler set to an error: the gateway codes where the
/// error is about an upstream the handler called, else 500.
fn status_for(code: &ErrorCode) -> StatusCode {
    match code {
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A short plain-text response the node gives in the handler's place.
fn plain_response(status: StatusCode, text: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(format!("{text}\n")))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
