//! ambassador: a container beside the front-end, in the same pod, that the front-end
//! calls at `http://127.0.0.1:8001` as if the orders service were local. The ambassador
//! knows where the remote service really is (`$UPSTREAM`, the `orders` Service), sends
//! each request on, and retries a request that could not be delivered at all (no
//! connection), so that the application needs neither the address nor the retry logic.

use std::time::Duration;

use crate::http::client::{CallError, send};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::server::Next;

/// How many times a request that never reached the upstream is tried.
const ATTEMPTS: u32 = 3;

/// The pause before the second attempt; it doubles for each further one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);

/// The request header fields passed on besides the body's type (the rest describe the
/// hop, not the request).
const FORWARDED_HEADERS: [&str; 1] = ["accept"];

/// Sends `request` to `upstream` (`host:port`) and answers with what came back.
pub fn forward(request: &Request, upstream: &str) -> (Response, Next) {
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| {
            FORWARDED_HEADERS
                .iter()
                .any(|forwarded| name.eq_ignore_ascii_case(forwarded))
        })
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let content_type = request
        .header("content-type")
        .unwrap_or("application/octet-stream");
    let body = (!request.body.is_empty() || request.header("content-length").is_some())
        .then_some((content_type, request.body.as_slice()));
    let mut delay = FIRST_RETRY_DELAY;
    let mut attempt = 1;
    let outcome = loop {
        match send(upstream, &request.method, &request.target, &headers, body) {
            Err(error) if error.never_sent() && attempt < ATTEMPTS => {
                println!("ambassador: attempt {attempt} failed ({error}); retrying in {delay:?}");
                std::thread::sleep(delay);
                delay *= 2;
                attempt += 1;
            }
            outcome => break outcome,
        }
    };
    let response = match outcome {
        // The server logs each request with its answer's status; only failures to
        // reach the upstream get a line of their own.
        Ok(answer) => {
            let mut response = Response::text(answer.status, "");
            if let Some(content_type) = answer.header("content-type") {
                content_type.clone_into(&mut response.content_type);
            }
            if let Some(location) = answer.header("location") {
                response.headers.push(("Location", location.to_owned()));
            }
            response.body = answer.body;
            response
        }
        Err(error) => {
            println!(
                "ambassador: {} {} -> {upstream}: {error}",
                request.method, request.target
            );
            let status = match error {
                CallError::Transfer { .. } => 504,
                _ => 502,
            };
            Response::json_error(
                status,
                &format!("the ambassador could not reach {upstream}: {error}"),
            )
        }
    };
    (response, Next::Continue)
}
