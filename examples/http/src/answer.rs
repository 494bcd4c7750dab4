//! What the handler answers, the way echo answers it, apart from the wasi:http types so
//! that it can be tested on the host.

/// An answer: a status and a plain-text body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The answer to `method target` (with `request_body`, read for POST and PUT only) from
/// the pod called `pod_name`:
/// - `/healthz`: 200 `ok`;
/// - `/status/<code>`: the status `<code>` (200 to 599), with the echo body;
/// - anything else: 200 with the echo body.
///
/// The echo body's first line names the pod, the method and the target; a POST or PUT
/// body follows it as sent.
pub fn answer(method: &str, target: &str, request_body: &[u8], pod_name: &str) -> Answer {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path == "/healthz" {
        return Answer {
            status: 200,
            body: b"ok\n".to_vec(),
        };
    }
    let status = match path.strip_prefix("/status/") {
        Some(code) => match parse_status_code(code) {
            Some(status) => status,
            None => {
                return Answer {
                    status: 400,
                    body: format!(
                        "echo from {pod_name}: {code:?} is not a status code from 200 to 599\n"
                    )
                    .into_bytes(),
                };
            }
        },
        None => 200,
    };
    let mut body = format!("echo from {pod_name}: {method} {target}\n").into_bytes();
    if method == "POST" || method == "PUT" {
        body.extend_from_slice(request_body);
    }
    Answer { status, body }
}

/// Whether a method's request body is echoed, and so worth reading.
pub fn echoes_body(method: &str) -> bool {
    method == "POST" || method == "PUT"
}

/// Reads a final status code: three digits from 200 to 599.
fn parse_status_code(code: &str) -> Option<u16> {
    if code.len() != 3 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    code.parse()
        .ok()
        .filter(|status| (200..=599).contains(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_echoed_with_the_pod_name() {
        assert_eq!(
            answer("GET", "/a?b=c", b"", "web-0"),
            Answer {
                status: 200,
                body: b"echo from web-0: GET /a?b=c\n".to_vec()
            }
        );
        assert_eq!(
            answer("POST", "/", b"payload", "web-0").body,
            b"echo from web-0: POST /\npayload"
        );
        assert_eq!(
            answer("DELETE", "/", b"payload", "web-0").body,
            b"echo from web-0: DELETE /\n"
        );
    }

    #[test]
    fn status_paths_and_healthz_answer_as_echo_does() {
        assert_eq!(answer("GET", "/status/503", b"", "p").status, 503);
        assert_eq!(answer("GET", "/status/199", b"", "p").status, 400);
        assert_eq!(answer("GET", "/status/x", b"", "p").status, 400);
        assert_eq!(
            answer("GET", "/healthz", b"", "p"),
            Answer {
                status: 200,
                body: b"ok\n".to_vec()
            }
        );
    }
}
