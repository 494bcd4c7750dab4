//! Reading one HTTP/1.x request from a connection as RFC 9112 lays it out, with caps on
//! the head and the body so that a client cannot make the server hold unbounded memory.
//! Whatever is not a well-formed request becomes an error that names the status to answer
//! with; nothing a client sends can make the parser panic.

use std::fmt;
use std::io::{self, BufRead, Read};

/// The longest request head (request line and header fields, line ends included) read.
pub const MAXIMUM_HEAD_BYTES: u64 = 16 * 1024;

/// The most header fields one request may carry.
pub const MAXIMUM_HEADER_FIELDS: usize = 100;

/// The largest request body read, whether sized by Content-Length or chunked.
pub const MAXIMUM_BODY_BYTES: u64 = 1024 * 1024;

/// The longest chunk-size line (size, extensions) and trailer section of a chunked body.
const MAXIMUM_CHUNK_METADATA_BYTES: u64 = 16 * 1024;

/// The protocol versions served; both are answered with HTTP/1.1 status lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
}

impl HttpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

/// A request read in full, body included.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent: usually `/path?query`, possibly absolute-form.
    pub target: String,
    pub version: HttpVersion,
    /// The header fields in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, already decoded when it was chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// The path the target names, without its query. An absolute-form target
    /// (`http://host/path`, which proxies send) is reduced to its path.
    pub fn path(&self) -> &str {
        let origin_form = match self.target.split_once("://") {
            Some((_, authority_and_path)) => authority_and_path
                .find('/')
                .map_or("/", |slash| &authority_and_path[slash..]),
            None => self.target.as_str(),
        };
        origin_form
            .split_once('?')
            .map_or(origin_form, |(path, _)| path)
    }

    /// Whether the client lets the connection stay open after this request: HTTP/1.1
    /// does unless it says `Connection: close`, HTTP/1.0 only with `Connection:
    /// keep-alive`.
    pub fn keeps_connection_open(&self) -> bool {
        let has_connection_option = |wanted: &str| {
            self.headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, value)| value.split(','))
                .any(|option| option.trim().eq_ignore_ascii_case(wanted))
        };
        match self.version {
            HttpVersion::Http11 => !has_connection_option("close"),
            HttpVersion::Http10 => has_connection_option("keep-alive"),
        }
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum RequestError {
    /// Reading failed or timed out; the connection cannot carry an answer.
    Connection(io::Error),
    /// The client closed its side part-way through a request.
    Truncated,
    /// Not well-formed HTTP/1.x: 400 Bad Request.
    Malformed(String),
    /// The head is longer than [`MAXIMUM_HEAD_BYTES`] or has more than
    /// [`MAXIMUM_HEADER_FIELDS`] fields: 431 Request Header Fields Too Large.
    HeadTooLarge,
    /// The body would be larger than [`MAXIMUM_BODY_BYTES`]: 413 Content Too Large.
    BodyTooLarge,
    /// A transfer coding other than chunked: 501 Not Implemented.
    UnsupportedTransferCoding(String),
    /// An HTTP version other than 1.0 and 1.1: 505 HTTP Version Not Supported.
    UnsupportedVersion(String),
}

impl RequestError {
    /// The status to answer with, or `None` when the connection can carry no answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Connection(_) | Self::Truncated => None,
            Self::Malformed(_) => Some(400),
            Self::HeadTooLarge => Some(431),
            Self::BodyTooLarge => Some(413),
            Self::UnsupportedTransferCoding(_) => Some(501),
            Self::UnsupportedVersion(_) => Some(505),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connection(error) => write!(formatter, "reading the request failed: {error}"),
            Self::Truncated => formatter.write_str("the client closed the connection mid-request"),
            Self::Malformed(problem) => write!(formatter, "malformed request: {problem}"),
            Self::HeadTooLarge => write!(
                formatter,
                "the request head is over {MAXIMUM_HEAD_BYTES} bytes or {MAXIMUM_HEADER_FIELDS} fields"
            ),
            Self::BodyTooLarge => {
                write!(
                    formatter,
                    "the request body is over {MAXIMUM_BODY_BYTES} bytes"
                )
            }
            Self::UnsupportedTransferCoding(coding) => {
                write!(formatter, "the transfer coding {coding:?} is not supported")
            }
            Self::UnsupportedVersion(version) => {
                write!(
                    formatter,
                    "the protocol version {version:?} is not supported"
                )
            }
        }
    }
}

impl std::error::Error for RequestError {}

fn malformed(problem: &str) -> RequestError {
    RequestError::Malformed(problem.to_owned())
}

/// Reads the next request from `reader`. `Ok(None)` means the client closed the
/// connection cleanly before starting another request.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<Request>, RequestError> {
    let mut head_budget = MAXIMUM_HEAD_BYTES;
    // RFC 9112 §2.2: a server ought to ignore empty lines before the request line, which
    // some clients send after a POST body.
    let request_line = loop {
        match read_line(reader, &mut head_budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let (method, target, version) = parse_request_line(&request_line)?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut head_budget)?.ok_or(RequestError::Truncated)?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAXIMUM_HEADER_FIELDS {
            return Err(RequestError::HeadTooLarge);
        }
        headers.push(parse_header_field(&line)?);
    }
    if version == HttpVersion::Http11
        && headers
            .iter()
            .all(|(name, _)| !name.eq_ignore_ascii_case("host"))
    {
        // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without Host.
        return Err(malformed(
            "an HTTP/1.1 request must have a Host header field",
        ));
    }
    let body = read_body(reader, version, &headers)?;
    Ok(Some(Request {
        method,
        target,
        version,
        headers,
        body,
    }))
}

/// Reads one line of at most `budget` bytes and takes its length off the budget. The
/// line end (CRLF, or a bare LF, which RFC 9112 lets a recipient accept) is removed.
/// `None` means the connection ended before the line's first byte.
fn read_line<R: BufRead>(
    reader: &mut R,
    budget: &mut u64,
) -> Result<Option<Vec<u8>>, RequestError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*budget)
        .read_until(b'\n', &mut line)
        .map_err(RequestError::Connection)?;
    *budget = budget.saturating_sub(read as u64);
    if line.pop() != Some(b'\n') {
        return if *budget == 0 {
            Err(RequestError::HeadTooLarge)
        } else if read == 0 {
            Ok(None)
        } else {
            Err(RequestError::Truncated)
        };
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.iter().any(|&byte| byte == b'\r' || byte == 0) {
        return Err(malformed("a line holds a bare CR or a NUL"));
    }
    Ok(Some(line))
}

/// Parses `METHOD SP TARGET SP HTTP/x.y`.
fn parse_request_line(line: &[u8]) -> Result<(String, String, HttpVersion), RequestError> {
    let text = std::str::from_utf8(line).map_err(|_| malformed("the request line is not ASCII"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("the request line is not METHOD TARGET VERSION"));
    };
    if !is_token(method) {
        return Err(malformed("the method is not a token"));
    }
    if target.is_empty() || !target.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(malformed(
            "the request target is empty or not visible ASCII",
        ));
    }
    let version = match version {
        "HTTP/1.1" => HttpVersion::Http11,
        "HTTP/1.0" => HttpVersion::Http10,
        other if is_http_version(other) => {
            return Err(RequestError::UnsupportedVersion(other.to_owned()));
        }
        _ => return Err(malformed("the protocol is not HTTP/x.y")),
    };
    Ok((method.to_owned(), target.to_owned(), version))
}

/// Whether `text` is `HTTP/` followed by a digit, a dot and a digit.
fn is_http_version(text: &str) -> bool {
    matches!(
        text.strip_prefix("HTTP/").map(str::as_bytes),
        Some([major, b'.', minor]) if major.is_ascii_digit() && minor.is_ascii_digit()
    )
}

/// Parses `name: value`. Obsolete line folding (a line that starts with white space) is
/// refused, as RFC 9112 §5.2 allows, and so is white space before the colon (§5.1).
fn parse_header_field(line: &[u8]) -> Result<(String, String), RequestError> {
    if line
        .first()
        .is_some_and(|&byte| byte == b' ' || byte == b'\t')
    {
        return Err(malformed("obsolete line folding in a header field"));
    }
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or_else(|| malformed("a header field has no colon"))?;
    let name = std::str::from_utf8(&line[..colon])
        .ok()
        .filter(|name| is_token(name))
        .ok_or_else(|| malformed("a header field name is not a token"))?;
    let value = line[colon + 1..].trim_ascii();
    if value
        .iter()
        .any(|&byte| byte.is_ascii_control() && byte != b'\t')
    {
        return Err(malformed("a header field value holds a control character"));
    }
    Ok((name.to_owned(), String::from_utf8_lossy(value).into_owned()))
}

/// Whether `text` is an RFC 9110 token: one or more tchars.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Reads the body the header fields announce: chunked, sized by Content-Length, or none.
fn read_body<R: BufRead>(
    reader: &mut R,
    version: HttpVersion,
    headers: &[(String, String)],
) -> Result<Vec<u8>, RequestError> {
    let values_of = |wanted: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|element| !element.is_empty())
            .collect()
    };
    let transfer_codings = values_of("transfer-encoding");
    let content_lengths = values_of("content-length");
    if let Some(last_coding) = transfer_codings.last() {
        // RFC 9112 §6.1 and §6.3: Transfer-Encoding in HTTP/1.0, or beside Content-Length,
        // is a sign of request smuggling, and a final coding other than chunked leaves the
        // body's length unknown; each is answered 400.
        if version == HttpVersion::Http10 {
            return Err(malformed("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if !content_lengths.is_empty() {
            return Err(malformed("both Transfer-Encoding and Content-Length"));
        }
        if !last_coding.eq_ignore_ascii_case("chunked") {
            return Err(malformed("the final transfer coding is not chunked"));
        }
        if let Some(other) = transfer_codings
            .iter()
            .find(|coding| !coding.eq_ignore_ascii_case("chunked"))
        {
            return Err(RequestError::UnsupportedTransferCoding((*other).to_owned()));
        }
        if transfer_codings.len() > 1 {
            return Err(malformed("chunked is applied more than once"));
        }
        return read_chunked_body(reader);
    }
    let Some(first_length) = content_lengths.first() else {
        return Ok(Vec::new());
    };
    // Several Content-Length values are acceptable only when they all agree (§6.3).
    if content_lengths.iter().any(|length| length != first_length) {
        return Err(malformed("Content-Length values disagree"));
    }
    if !first_length.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed("Content-Length is not a number"));
    }
    let length: u64 = first_length
        .parse()
        .map_err(|_| RequestError::BodyTooLarge)?;
    if length > MAXIMUM_BODY_BYTES {
        return Err(RequestError::BodyTooLarge);
    }
    let mut body = Vec::new();
    read_exactly(reader, length, &mut body)?;
    Ok(body)
}

/// Appends exactly `length` bytes from `reader` to `body`.
fn read_exactly<R: BufRead>(
    reader: &mut R,
    length: u64,
    body: &mut Vec<u8>,
) -> Result<(), RequestError> {
    let read = reader
        .by_ref()
        .take(length)
        .read_to_end(body)
        .map_err(RequestError::Connection)?;
    if read as u64 == length {
        Ok(())
    } else {
        Err(RequestError::Truncated)
    }
}

/// Decodes a chunked body (RFC 9112 §7.1): chunks of a hexadecimal size, each followed by
/// CRLF, ended by a zero-size chunk and a trailer section, whose fields are dropped.
fn read_chunked_body<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, RequestError> {
    let mut metadata_budget = MAXIMUM_CHUNK_METADATA_BYTES;
    let mut read_metadata_line = |reader: &mut R| match read_line(reader, &mut metadata_budget) {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(RequestError::Truncated),
        Err(RequestError::HeadTooLarge) => Err(malformed("chunk sizes or trailers are too long")),
        Err(other) => Err(other),
    };
    let mut body = Vec::new();
    loop {
        let size_line = read_metadata_line(reader)?;
        let size_digits = size_line
            .split(|&byte| byte == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        if size_digits.is_empty() || !size_digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(malformed("a chunk size is not hexadecimal"));
        }
        let size = std::str::from_utf8(size_digits)
            .ok()
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .ok_or(RequestError::BodyTooLarge)?;
        if size == 0 {
            break;
        }
        if size > MAXIMUM_BODY_BYTES - body.len() as u64 {
            return Err(RequestError::BodyTooLarge);
        }
        read_exactly(reader, size, &mut body)?;
        if !read_metadata_line(reader)?.is_empty() {
            return Err(malformed("chunk data is not followed by CRLF"));
        }
    }
    loop {
        let trailer_line = read_metadata_line(reader)?;
        if trailer_line.is_empty() {
            return Ok(body);
        }
        parse_header_field(&trailer_line)?;
    }
}

#[cfg(test)]
mod tests;
