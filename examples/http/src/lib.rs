//! http: a wasi:http component that exports `wasi:http/incoming-handler` and answers
//! like echo (the pod's name from `$HOSTNAME`, the method and the target, `/status/<code>`
//! and `/healthz`). The host calls `handle` once per request, so the component holds no
//! listener and no connection; it imports only what wasmtime-wasi and wasmtime-wasi-http
//! provide (wasi:http/types and outgoing-handler, wasi:io, wasi:cli for the environment
//! and the log). Three routes exercise the host: `/counter` (the instance's own request
//! count), `/panic` (a handler that traps) and `/proxy?url=` (an outgoing request).

mod answer;
mod proxy;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::StreamError;

/// The largest request body read; a larger one is answered 413.
const MAXIMUM_BODY_BYTES: u64 = 1024 * 1024;

/// The requests this instance has handled, this one included: a host that gives every
/// request a fresh instance always shows 1.
static REQUESTS_HANDLED: AtomicU64 = AtomicU64::new(0);

/// The handler the component exports.
struct EchoHandler;

wasi::http::proxy::export!(EchoHandler);

impl wasi::exports::http::incoming_handler::Guest for EchoHandler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let handled = REQUESTS_HANDLED.fetch_add(1, Ordering::Relaxed) + 1;
        let method = method_name(request.method());
        let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
        let answer = if let Some(answer) = host_route(&target, handled) {
            answer
        } else if answer::echoes_body(&method) {
            match read_body(&request) {
                Ok(Some(body)) => answer::answer(&method, &target, &body, &pod_name()),
                Ok(None) => answer::Answer {
                    status: 413,
                    body: format!("the request body is over {MAXIMUM_BODY_BYTES} bytes\n")
                        .into_bytes(),
                },
                Err(problem) => {
                    eprintln!("\"{method} {target}\": {problem}");
                    return;
                }
            }
        } else {
            answer::answer(&method, &target, &[], &pod_name())
        };
        println!(
            "\"{method} {target}\" {} {}",
            answer.status,
            answer.body.len()
        );
        let head_only = method == "HEAD";
        if let Err(problem) = send(response_out, &answer, head_only) {
            eprintln!("\"{method} {target}\": {problem}");
        }
    }
}

/// The routes that try the host rather than answer like echo: `/counter`, `/panic` and
/// `/proxy?url=<url>`.
fn host_route(target: &str, handled: u64) -> Option<answer::Answer> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match path {
        "/counter" => Some(answer::Answer {
            status: 200,
            body: format!("requests handled by this instance: {handled}\n").into_bytes(),
        }),
        "/panic" => panic!("the /panic route panics on purpose: the handler traps"),
        "/proxy" => Some(proxy_answer(target)),
        _ => None,
    }
}

/// `/proxy?url=<url>`: 200 with the upstream's status on the first line and its body
/// after it, or 502 with the error the host answered; 400 for a missing or bad URL.
fn proxy_answer(target: &str) -> answer::Answer {
    let pod = pod_name();
    let parsed = proxy::url_parameter(target)
        .ok_or_else(|| "use /proxy?url=http://host[:port]/path".to_owned())
        .and_then(proxy::parse_url);
    let upstream = match parsed {
        Ok(upstream) => upstream,
        Err(problem) => {
            return answer::Answer {
                status: 400,
                body: format!("proxy from {pod}: {problem}\n").into_bytes(),
            };
        }
    };
    match proxy::fetch(&upstream) {
        Ok((status, body)) => {
            let mut answer_body = format!("proxy from {pod}: {status}\n").into_bytes();
            answer_body.extend_from_slice(&body);
            answer::Answer {
                status: 200,
                body: answer_body,
            }
        }
        Err(problem) => answer::Answer {
            status: 502,
            body: format!("proxy from {pod}: {problem}\n").into_bytes(),
        },
    }
}

/// The pod's name, which the node sets as `$HOSTNAME` the way a kubelet does.
fn pod_name() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-pod".to_owned())
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    }
}

/// Reads the request body, `None` when it is over [`MAXIMUM_BODY_BYTES`]. When the body
/// cannot be read at all there is no answer to give: dropping the response outparam
/// unset makes the host answer with an error.
fn read_body(request: &IncomingRequest) -> Result<Option<Vec<u8>>, String> {
    let incoming_body = request
        .consume()
        .map_err(|()| "the request body was already taken".to_owned())?;
    let mut stream = incoming_body
        .stream()
        .map_err(|()| "the request body's stream was already taken".to_owned())?;
    let mut body = Vec::new();
    // One byte past the cap tells a body at the cap from one over it.
    stream
        .by_ref()
        .take(MAXIMUM_BODY_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|error| format!("reading the request body failed: {error}"))?;
    Ok((body.len() as u64 <= MAXIMUM_BODY_BYTES).then_some(body))
}

/// Sends `answer` as the response, with its length. A HEAD answer, and a 204 or 304,
/// carries no body and so no Content-Length, which the host would check against the
/// bytes written.
fn send(
    response_out: ResponseOutparam,
    answer: &answer::Answer,
    head_only: bool,
) -> Result<(), String> {
    let sends_body = !head_only && !matches!(answer.status, 204 | 304);
    let mut fields = vec![(
        "content-type".to_owned(),
        b"text/plain; charset=utf-8".to_vec(),
    )];
    if sends_body {
        fields.push((
            "content-length".to_owned(),
            answer.body.len().to_string().into_bytes(),
        ));
    }
    let headers = Fields::from_list(&fields)
        .map_err(|error| format!("the header fields are refused: {error:?}"))?;
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(answer.status)
        .map_err(|()| format!("the status {} is refused", answer.status))?;
    let outgoing_body = response
        .body()
        .map_err(|()| "the response body was already taken".to_owned())?;
    ResponseOutparam::set(response_out, Ok(response));
    if sends_body {
        let mut stream = outgoing_body
            .write()
            .map_err(|()| "the response body's stream was already taken".to_owned())?;
        stream
            .write_all(&answer.body)
            .map_err(|error| format!("writing the response body failed: {error}"))?;
        // The body carries Content-Length, so the host stops reading it, and closes the
        // stream, once the last byte arrives: a flush that finds the stream closed after
        // a complete write has nothing left to do.
        match stream.blocking_flush() {
            Ok(()) | Err(StreamError::Closed) => {}
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(format!(
                    "flushing the response body failed: {}",
                    error.to_debug_string()
                ));
            }
        }
    }
    OutgoingBody::finish(outgoing_body, None)
        .map_err(|error| format!("finishing the response failed: {error:?}"))
}
