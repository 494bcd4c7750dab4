//! One request over a new connection: resolve the host, connect to the first address
//! that answers, send the request with `Connection: close`, read the answer.

use std::fmt;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::url::HttpUrl;

/// How long connecting to one address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long sending the request or waiting for more of the answer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest answer head (status line and header fields) read.
const MAXIMUM_HEAD_BYTES: u64 = 64 * 1024;

/// The largest answer body read.
const MAXIMUM_BODY_BYTES: u64 = 1024 * 1024;

/// An answer: its status and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body's first line, without its line end; lossy when the body is not UTF-8.
    pub fn first_body_line(&self) -> String {
        let first_line = self
            .body
            .split(|&byte| byte == b'\n')
            .next()
            .unwrap_or_default();
        String::from_utf8_lossy(first_line.strip_suffix(b"\r").unwrap_or(first_line)).into_owned()
    }
}

/// Why a request got no answer, naming the address it went to.
#[derive(Debug)]
pub enum ExchangeError {
    Resolve {
        authority: String,
        error: io::Error,
    },
    NoAddresses {
        authority: String,
    },
    Connect {
        authority: String,
        tried: Vec<SocketAddr>,
        error: io::Error,
    },
    Transfer {
        address: SocketAddr,
        stage: &'static str,
        error: io::Error,
    },
    BadAnswer {
        address: SocketAddr,
        problem: String,
    },
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve { authority, error } => {
                write!(formatter, "cannot resolve {authority}: {error}")
            }
            Self::NoAddresses { authority } => {
                write!(formatter, "{authority} resolved to no address")
            }
            Self::Connect {
                authority,
                tried,
                error,
            } => {
                let tried: Vec<String> = tried.iter().map(SocketAddr::to_string).collect();
                write!(
                    formatter,
                    "cannot connect to {authority} at {}: {error}",
                    tried.join(", ")
                )
            }
            Self::Transfer {
                address,
                stage,
                error,
            } => write!(formatter, "{address}: {stage}: {error}"),
            Self::BadAnswer { address, problem } => {
                write!(formatter, "{address}: bad answer: {problem}")
            }
        }
    }
}

impl std::error::Error for ExchangeError {}

/// Sends one request to `url` over a new connection: a POST of `data` when there is
/// some, a GET otherwise.
impl ExchangeError {
    /// Whether nothing listened at the address (the connection was refused).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Connect { error, .. } if error.kind() == ErrorKind::ConnectionRefused)
    }
}

pub fn exchange(url: &HttpUrl, data: Option<&str>) -> Result<Answer, ExchangeError> {
    let authority = format!("{}:{}", url.host, url.port);
    // Resolving for every request lets a changed DNS answer, or a new Service address,
    // take effect at once; the cluster's resolver answers from the Services it knows.
    let addresses: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|error| ExchangeError::Resolve {
            authority: authority.clone(),
            error,
        })?
        .collect();
    let (stream, address) = connect_to_first(&authority, &addresses)?;
    let transfer_error = |stage| {
        move |error| ExchangeError::Transfer {
            address,
            stage,
            error,
        }
    };
    stream
        .set_read_timeout(Some(TRANSFER_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TRANSFER_TIMEOUT)))
        .map_err(transfer_error("setting timeouts"))?;
    (&stream)
        .write_all(&request_bytes(url, data))
        .map_err(transfer_error("sending the request"))?;
    let mut reader = BufReader::new(&stream);
    read_answer(&mut reader).map_err(|error| match error {
        AnswerError::Io(error) => transfer_error("reading the answer")(error),
        AnswerError::Malformed(problem) => ExchangeError::BadAnswer { address, problem },
    })
}

/// Connects to each address in turn until one accepts; the error names all tried.
fn connect_to_first(
    authority: &str,
    addresses: &[SocketAddr],
) -> Result<(TcpStream, SocketAddr), ExchangeError> {
    let mut last_error = None;
    for &address in addresses {
        let attempt = match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            // A platform without connect timeouts still connects, only unguarded.
            Err(error) if error.kind() == ErrorKind::Unsupported => TcpStream::connect(address),
            other => other,
        };
        match attempt {
            Ok(stream) => return Ok((stream, address)),
            Err(error) => last_error = Some(error),
        }
    }
    match last_error {
        Some(error) => Err(ExchangeError::Connect {
            authority: authority.to_owned(),
            tried: addresses.to_vec(),
            error,
        }),
        None => Err(ExchangeError::NoAddresses {
            authority: authority.to_owned(),
        }),
    }
}

/// The request, asking the server to close the connection after answering, so that the
/// next request opens a new one (which a Service balances afresh).
fn request_bytes(url: &HttpUrl, data: Option<&str>) -> Vec<u8> {
    let method = if data.is_some() { "POST" } else { "GET" };
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: echo-client\r\nAccept: */*\r\nConnection: close\r\n",
        url.path_and_query, url.authority
    );
    if let Some(data) = data {
        head.push_str(&format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            data.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(data.unwrap_or_default().as_bytes());
    bytes
}

/// Why an answer could not be read.
#[derive(Debug)]
enum AnswerError {
    Io(io::Error),
    Malformed(String),
}

impl From<io::Error> for AnswerError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

fn malformed(problem: &str) -> AnswerError {
    AnswerError::Malformed(problem.to_owned())
}

/// Reads the final answer, skipping interim (1xx) ones, and its body: chunked, sized by
/// Content-Length, or up to the end of the connection.
fn read_answer<R: BufRead>(reader: &mut R) -> Result<Answer, AnswerError> {
    let mut budget = MAXIMUM_HEAD_BYTES;
    loop {
        let status_line = read_line(reader, &mut budget)?;
        let status = parse_status_line(&status_line)?;
        let mut headers = Vec::new();
        loop {
            let line = read_line(reader, &mut budget)?;
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| malformed("a header field has no colon"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        };
        let body = if matches!(status, 204 | 304) {
            Vec::new()
        } else if header("transfer-encoding")
            .is_some_and(|codings| codings.to_ascii_lowercase().ends_with("chunked"))
        {
            read_chunked_body(reader, &mut budget)?
        } else if let Some(length) = header("content-length") {
            let length: u64 = length
                .parse()
                .map_err(|_| malformed("Content-Length is not a number"))?;
            if length > MAXIMUM_BODY_BYTES {
                return Err(malformed("the body is too large"));
            }
            read_exactly(reader, length)?
        } else {
            let mut body = Vec::new();
            reader
                .by_ref()
                .take(MAXIMUM_BODY_BYTES)
                .read_to_end(&mut body)?;
            body
        };
        return Ok(Answer { status, body });
    }
}

/// Reads one line within `budget` bytes, without its line end.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut u64) -> Result<Vec<u8>, AnswerError> {
    let mut line = Vec::new();
    let read = reader.by_ref().take(*budget).read_until(b'\n', &mut line)?;
    *budget = budget.saturating_sub(read as u64);
    match line.pop() {
        Some(b'\n') => {}
        _ if *budget == 0 => return Err(malformed("the answer's head is too long")),
        _ => {
            return Err(malformed(
                "the connection closed before the answer's head ended",
            ));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Reads the status code from `HTTP/1.x SP 3DIGIT SP reason`.
fn parse_status_line(line: &[u8]) -> Result<u16, AnswerError> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(malformed("the status line is not VERSION CODE REASON"));
    };
    if !version.starts_with("HTTP/") {
        return Err(malformed("the status line does not start with HTTP/"));
    }
    if code.len() != 3 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed("the status code is not three digits"));
    }
    code.parse()
        .map_err(|_| malformed("the status code is not a number"))
}

fn read_exactly<R: BufRead>(reader: &mut R, length: u64) -> Result<Vec<u8>, AnswerError> {
    let mut body = Vec::new();
    reader.by_ref().take(length).read_to_end(&mut body)?;
    if body.len() as u64 == length {
        Ok(body)
    } else {
        Err(malformed("the connection closed before the body ended"))
    }
}

/// Decodes a chunked body; trailer fields are read and dropped.
fn read_chunked_body<R: BufRead>(reader: &mut R, budget: &mut u64) -> Result<Vec<u8>, AnswerError> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader, budget)?;
        let size_digits = size_line
            .split(|&byte| byte == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let size = std::str::from_utf8(size_digits)
            .ok()
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .ok_or_else(|| malformed("a chunk size is not hexadecimal"))?;
        if size == 0 {
            break;
        }
        if size > MAXIMUM_BODY_BYTES - body.len() as u64 {
            return Err(malformed("the body is too large"));
        }
        body.extend(read_exactly(reader, size)?);
        if !read_line(reader, budget)?.is_empty() {
            return Err(malformed("chunk data is not followed by CRLF"));
        }
    }
    while !read_line(reader, budget)?.is_empty() {}
    Ok(body)
}

#[cfg(test)]
mod tests;
