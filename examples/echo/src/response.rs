//! What echo answers, and writing an answer as HTTP/1.1.

use std::io::{self, Write};

use crate::request::Request;

/// An answer: a status and a plain-text body.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    fn text(status: u16, text: String) -> Self {
        Self {
            status,
            body: text.into_bytes(),
        }
    }
}

/// The answer to `request` from the pod called `pod_name`:
/// - `/healthz`: 200 `ok`, for liveness and readiness probes;
/// - `/status/<code>`: the status `<code>` (200 to 599), so that a probe can be made to
///   fail, with the echo body;
/// - anything else: 200 with the echo body.
///
/// The echo body's first line names the pod, the method and the target, which is what a
/// client that prints one line per answer shows; a POST or PUT body follows it as sent.
pub fn respond(request: &Request, pod_name: &str) -> Response {
    let path = request.path();
    if path == "/healthz" {
        return Response::text(200, "ok\n".to_owned());
    }
    let status = match path.strip_prefix("/status/") {
        Some(code) => match parse_status_code(code) {
            Some(status) => status,
            None => {
                return Response::text(
                    400,
                    format!(
                        "echo from {pod_name}: {code:?} is not a status code from 200 to 599\n"
                    ),
                );
            }
        },
        None => 200,
    };
    let mut body = format!(
        "echo from {pod_name}: {} {}\n",
        request.method, request.target
    )
    .into_bytes();
    if request.method == "POST" || request.method == "PUT" {
        body.extend_from_slice(&request.body);
    }
    Response { status, body }
}

/// The answer to a request that could not be read, which names the problem.
pub fn error_response(status: u16, problem: &str) -> Response {
    Response::text(status, format!("{problem}\n"))
}

/// Reads a final status code: three digits from 200 to 599. Informational codes (1xx)
/// would make a client wait for another answer, so they are refused.
fn parse_status_code(code: &str) -> Option<u16> {
    if code.len() != 3 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    code.parse()
        .ok()
        .filter(|status| (200..=599).contains(status))
}

/// How to write an answer besides its status and body.
#[derive(Clone, Copy, Debug)]
pub struct Framing {
    /// The request was HEAD: send the header fields a GET would get, without the body.
    pub head_only: bool,
    /// The connection stays open for another request.
    pub keep_open: bool,
    /// The client spoke HTTP/1.0, which needs `Connection: keep-alive` to keep it open.
    pub http10_client: bool,
}

/// Writes `response` as an HTTP/1.1 message. 204 and 304 carry neither a body nor
/// Content-Length (RFC 9110 §8.6 and §15.4.5).
pub fn write_response<W: Write>(
    writer: &mut W,
    response: &Response,
    framing: Framing,
) -> io::Result<()> {
    let mut message = format!(
        "HTTP/1.1 {} {}\r\nServer: echo\r\nContent-Type: text/plain; charset=utf-8\r\n",
        response.status,
        reason_phrase(response.status)
    );
    let bodiless_status = matches!(response.status, 204 | 304);
    if !bodiless_status {
        message.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    match (framing.keep_open, framing.http10_client) {
        (false, _) => message.push_str("Connection: close\r\n"),
        (true, true) => message.push_str("Connection: keep-alive\r\n"),
        (true, false) => {}
    }
    message.push_str("\r\n");
    let mut bytes = message.into_bytes();
    if !bodiless_status && !framing.head_only {
        bytes.extend_from_slice(&response.body);
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

/// The reason phrase RFC 9110 gives a status, or none for a code it does not name (the
/// status line then ends with the space before it, which is allowed).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::HttpVersion;

    fn request(method: &str, target: &str, body: &[u8]) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version: HttpVersion::Http11,
            headers: vec![("Host".to_owned(), "echo".to_owned())],
            body: body.to_vec(),
        }
    }

    fn written(response: &Response, framing: Framing) -> String {
        let mut bytes = Vec::new();
        write_response(&mut bytes, response, framing).expect("writing to a Vec cannot fail");
        String::from_utf8(bytes).expect("the answer is text")
    }

    const KEEP_OPEN: Framing = Framing {
        head_only: false,
        keep_open: true,
        http10_client: false,
    };

    #[test]
    fn a_get_is_answered_with_the_pod_method_and_target() {
        let response = respond(&request("GET", "/some/path?x=1", b""), "echo-7d4-abc");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.body,
            b"echo from echo-7d4-abc: GET /some/path?x=1\n"
        );
    }

    #[test]
    fn a_post_and_a_put_echo_their_body_but_a_delete_does_not() {
        let posted = respond(&request("POST", "/", b"hello\nworld"), "pod");
        assert_eq!(posted.body, b"echo from pod: POST /\nhello\nworld");
        let put = respond(&request("PUT", "/x", b"data"), "pod");
        assert_eq!(put.body, b"echo from pod: PUT /x\ndata");
        let deleted = respond(&request("DELETE", "/x", b"data"), "pod");
        assert_eq!(deleted.body, b"echo from pod: DELETE /x\n");
    }

    #[test]
    fn status_paths_answer_with_their_code_and_bad_codes_get_400() {
        let unavailable = respond(&request("GET", "/status/503", b""), "pod");
        assert_eq!(unavailable.status, 503);
        assert_eq!(unavailable.body, b"echo from pod: GET /status/503\n");
        assert_eq!(
            respond(&request("GET", "/status/204?q", b""), "pod").status,
            204
        );
        for bad in [
            "/status/100",
            "/status/600",
            "/status/abc",
            "/status/2000",
            "/status/",
        ] {
            assert_eq!(
                respond(&request("GET", bad, b""), "pod").status,
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn healthz_is_ok() {
        let response = respond(&request("GET", "/healthz", b""), "pod");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"ok\n"[..])
        );
    }

    #[test]
    fn an_answer_is_framed_by_content_length_and_says_when_it_closes() {
        let response = Response::text(503, "down\n".to_owned());
        assert_eq!(
            written(&response, KEEP_OPEN),
            "HTTP/1.1 503 Service Unavailable\r\nServer: echo\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\ndown\n"
        );
        let closing = Framing {
            keep_open: false,
            ..KEEP_OPEN
        };
        assert!(written(&response, closing).contains("\r\nConnection: close\r\n\r\ndown\n"));
        let http10 = Framing {
            http10_client: true,
            ..KEEP_OPEN
        };
        assert!(written(&response, http10).contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn head_keeps_the_length_but_sends_no_body_and_204_sends_neither() {
        let response = Response::text(200, "twelve bytes".to_owned());
        let head_only = Framing {
            head_only: true,
            ..KEEP_OPEN
        };
        assert!(written(&response, head_only).ends_with("Content-Length: 12\r\n\r\n"));
        let no_content = Response::text(204, "ignored".to_owned());
        let text = written(&no_content, KEEP_OPEN);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(!text.contains("Content-Length"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn an_unnamed_status_has_an_empty_reason_phrase() {
        let response = Response::text(299, String::new());
        assert!(written(&response, KEEP_OPEN).starts_with("HTTP/1.1 299 \r\n"));
    }
}
