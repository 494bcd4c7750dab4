//! Calling another service: `http://host[:port]` base URLs, one request per connection
//! (`Connection: close`), the answer read to the end of the stream. Host names are
//! Service names the pod's cluster DNS resolves (`catalogue`, `cart.shop`, ...).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::json::{self, Value};

/// How long connecting to one address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long sending the request or waiting for more of the answer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read.
const MAXIMUM_ANSWER_BYTES: u64 = 1024 * 1024;

/// An answer from another service.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The header fields, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a call got no usable answer.
#[derive(Debug)]
pub enum CallError {
    BadUrl(String),
    Resolve {
        authority: String,
        error: io::Error,
    },
    Connect {
        authority: String,
        error: io::Error,
    },
    Transfer {
        authority: String,
        error: io::Error,
    },
    BadAnswer {
        authority: String,
        problem: String,
    },
    /// The service answered with a status outside 2xx.
    Status {
        authority: String,
        status: u16,
        body: String,
    },
}

impl CallError {
    /// Whether the request never reached the service, so sending it again is safe.
    pub fn never_sent(&self) -> bool {
        matches!(self, Self::Resolve { .. } | Self::Connect { .. })
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(url) => write!(formatter, "{url:?} is not an http://host[:port] URL"),
            Self::Resolve { authority, error } => {
                write!(formatter, "cannot resolve {authority}: {error}")
            }
            Self::Connect { authority, error } => {
                write!(formatter, "cannot connect to {authority}: {error}")
            }
            Self::Transfer { authority, error } => write!(formatter, "{authority}: {error}"),
            Self::BadAnswer { authority, problem } => {
                write!(formatter, "{authority} gave a bad answer: {problem}")
            }
            Self::Status {
                authority,
                status,
                body,
            } => write!(formatter, "{authority} answered {status}: {}", body.trim()),
        }
    }
}

impl std::error::Error for CallError {}

/// The `host:port` of an `http://host[:port][/]` base URL.
pub fn authority_of(base_url: &str) -> Result<String, CallError> {
    let authority = base_url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.contains(['/', '@', '?', '#', ' ']))
        .ok_or_else(|| CallError::BadUrl(base_url.to_owned()))?;
    Ok(
        if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        },
    )
}

/// Sends `method path` with `body` (JSON when given) to the service at `authority`
/// (`host:port`) and returns its answer, whatever the status.
pub fn send(
    authority: &str,
    method: &str,
    path_and_query: &str,
    extra_headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Result<Answer, CallError> {
    let addresses: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|error| CallError::Resolve {
            authority: authority.to_owned(),
            error,
        })?
        .collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    let mut connected = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => {
                connected = Some(stream);
                break;
            }
            Err(error) => last_error = error,
        }
    }
    let stream = connected.ok_or_else(|| CallError::Connect {
        authority: authority.to_owned(),
        error: last_error,
    })?;
    let transfer_error = |error| CallError::Transfer {
        authority: authority.to_owned(),
        error,
    };
    stream
        .set_read_timeout(Some(TRANSFER_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TRANSFER_TIMEOUT)))
        .map_err(transfer_error)?;
    let host = authority.strip_suffix(":80").unwrap_or(authority);
    let mut request =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in extra_headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut bytes = match body {
        Some((content_type, body)) => {
            request.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            ));
            let mut bytes = request.into_bytes();
            bytes.extend_from_slice(body);
            bytes
        }
        None => {
            request.push_str("\r\n");
            request.into_bytes()
        }
    };
    (&stream).write_all(&bytes).map_err(transfer_error)?;
    bytes.clear();
    (&stream)
        .take(MAXIMUM_ANSWER_BYTES)
        .read_to_end(&mut bytes)
        .map_err(transfer_error)?;
    parse_answer(&bytes, method == "HEAD").map_err(|problem| CallError::BadAnswer {
        authority: authority.to_owned(),
        problem,
    })
}

/// Calls a JSON API: sends `body` as JSON (when given), wants a 2xx answer, and returns
/// its body parsed as JSON.
pub fn call_json(
    authority: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, CallError> {
    let encoded = body.map(Value::to_string);
    let answer = send(
        authority,
        method,
        path,
        &[("Accept", "application/json")],
        encoded
            .as_deref()
            .map(|text| ("application/json", text.as_bytes())),
    )?;
    let text = String::from_utf8_lossy(&answer.body);
    if !(200..300).contains(&answer.status) {
        return Err(CallError::Status {
            authority: authority.to_owned(),
            status: answer.status,
            body: text.into_owned(),
        });
    }
    json::parse(&text).map_err(|error| CallError::BadAnswer {
        authority: authority.to_owned(),
        problem: error.to_string(),
    })
}

/// Reads a whole answer: status line, header fields, and the body (by Content-Length
/// when given, else up to the end of the stream). The answer to a HEAD request
/// (`to_head`) has no body, whatever its Content-Length says.
pub fn parse_answer(bytes: &[u8], to_head: bool) -> Result<Answer, String> {
    let head_end = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("the answer's head does not end")?;
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| "the head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{status_line:?} is not a status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: bytes[head_end + 4..].to_vec(),
    };
    if answer
        .header("transfer-encoding")
        .is_some_and(|coding| coding.eq_ignore_ascii_case("chunked"))
    {
        return Err("a chunked answer is not supported".to_owned());
    }
    if to_head {
        answer.body.clear();
        return Ok(answer);
    }
    if let Some(length) = answer.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("Content-Length {length:?} is not a number"))?;
        if answer.body.len() < length {
            return Err("the answer ends before its Content-Length".to_owned());
        }
        answer.body.truncate(length);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_become_host_and_port() {
        assert_eq!(
            authority_of("http://catalogue").ok(),
            Some("catalogue:80".to_owned())
        );
        assert_eq!(
            authority_of("http://cart.shop/").ok(),
            Some("cart.shop:80".to_owned())
        );
        assert_eq!(
            authority_of("http://127.0.0.1:8001").ok(),
            Some("127.0.0.1:8001".to_owned())
        );
        for bad in ["https://x", "http://", "http://x/path", "catalogue"] {
            assert!(authority_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_cut_at_their_length() {
        let answer = parse_answer(
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}trailing",
            false,
        )
        .expect("an answer");
        assert_eq!(answer.status, 201);
        assert_eq!(answer.header("x-a"), Some("b"));
        assert_eq!(answer.body, b"{}");
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", false).is_err());
        let head = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true);
        assert_eq!(head.map(|answer| answer.body), Ok(Vec::new()));
        assert!(parse_answer(b"garbage\r\n\r\n", false).is_err());
    }
}
