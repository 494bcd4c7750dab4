//! Reading one HTTP/1.x request from a connection, with caps on the head and the body so
//! that a client cannot make a service hold unbounded memory. Bodies are sized by
//! Content-Length only: browsers, curl and the shop's own client all send one, and a
//! chunked body is refused with 411 Length Required.

use std::fmt;
use std::io::{self, BufRead, Read};

/// The longest request head (request line and header fields) read.
pub const MAXIMUM_HEAD_BYTES: u64 = 16 * 1024;

/// The largest request body read.
pub const MAXIMUM_BODY_BYTES: u64 = 256 * 1024;

/// A request read in full.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The target as sent: `/path?query`.
    pub target: String,
    /// The header fields in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The target's path, without its query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The target's query, without the `?`; empty when there is none.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    /// The first header field named `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, lossy where it is not UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[cfg(test)]
impl Request {
    /// A request with no header fields, as the services' unit tests hand them in.
    pub fn without_headers(method: &str, target: &str, body: &str) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum RequestError {
    /// Reading failed or timed out, or the client closed mid-request: no answer is sent.
    Connection(io::Error),
    /// Not a well-formed HTTP/1.x request: 400.
    Malformed(&'static str),
    /// The head is over [`MAXIMUM_HEAD_BYTES`]: 431.
    HeadTooLarge,
    /// The body is over [`MAXIMUM_BODY_BYTES`]: 413.
    BodyTooLarge,
    /// A body without Content-Length (chunked): 411.
    LengthRequired,
}

impl RequestError {
    /// The status to answer with, or `None` when the connection can carry no answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Connection(_) => None,
            Self::Malformed(_) => Some(400),
            Self::HeadTooLarge => Some(431),
            Self::BodyTooLarge => Some(413),
            Self::LengthRequired => Some(411),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connection(error) => write!(formatter, "reading the request failed: {error}"),
            Self::Malformed(problem) => write!(formatter, "malformed request: {problem}"),
            Self::HeadTooLarge => write!(
                formatter,
                "the request head is over {MAXIMUM_HEAD_BYTES} bytes"
            ),
            Self::BodyTooLarge => write!(
                formatter,
                "the request body is over {MAXIMUM_BODY_BYTES} bytes"
            ),
            Self::LengthRequired => formatter.write_str("a request body needs a Content-Length"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Reads the next request from `reader`; `Ok(None)` when the client closed the
/// connection before sending one.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<Request>, RequestError> {
    let mut head = Vec::new();
    let mut limited = reader.take(MAXIMUM_HEAD_BYTES);
    loop {
        let before = head.len();
        let read = limited
            .read_until(b'\n', &mut head)
            .map_err(RequestError::Connection)?;
        if read == 0 {
            if head.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            if limited.limit() == 0 {
                return Err(RequestError::HeadTooLarge);
            }
            return Err(RequestError::Connection(
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        let line = &head[before..];
        // A blank line ends the head, unless it comes before the request line (which
        // RFC 9112 §2.2 lets a server skip).
        if (line == b"\r\n" || line == b"\n") && !head[..before].iter().all(u8::is_ascii_whitespace)
        {
            break;
        }
    }
    let head =
        String::from_utf8(head).map_err(|_| RequestError::Malformed("the head is not UTF-8"))?;
    let mut lines = head.lines().skip_while(|line| line.trim().is_empty());
    let request_line = lines
        .next()
        .ok_or(RequestError::Malformed("no request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(
            "the request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(RequestError::Malformed("the method is not a token"));
    }
    if !target.starts_with('/') || !target.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(RequestError::Malformed(
            "the target is not an origin-form path",
        ));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(RequestError::Malformed(
            "the version is not HTTP/1.0 or HTTP/1.1",
        ));
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(RequestError::Malformed("a header field without a colon"))?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(RequestError::Malformed(
                "a header field name is not a token",
            ));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(RequestError::LengthRequired);
    }
    if let Some(length) = request.header("content-length") {
        let length: u64 = length
            .parse()
            .map_err(|_| RequestError::Malformed("the Content-Length is not a number"))?;
        if length > MAXIMUM_BODY_BYTES {
            return Err(RequestError::BodyTooLarge);
        }
        let mut body = Vec::new();
        reader
            .take(length)
            .read_to_end(&mut body)
            .map_err(RequestError::Connection)?;
        if body.len() as u64 != length {
            return Err(RequestError::Connection(
                io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        request.body = body;
    }
    Ok(Some(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<Request>, RequestError> {
        read_request(&mut text.as_bytes())
    }

    #[test]
    fn a_form_post_is_read_with_its_body() {
        let request = read(
            "\r\nPOST /cart?x=1 HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nproduct=socks",
        )
        .expect("a request")
        .expect("not the end");
        assert_eq!(request.method, "POST");
        assert_eq!((request.path(), request.query()), ("/cart", "x=1"));
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.body_text(), "product=socks");
    }

    #[test]
    fn a_closed_connection_is_not_a_request() {
        assert!(matches!(read(""), Ok(None)));
        assert!(matches!(read("\r\n"), Ok(None)));
    }

    #[test]
    fn bad_requests_name_their_status() {
        let status = |text: &str| read(text).err().and_then(|error| error.status());
        assert_eq!(status("GET /\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/2\r\n\r\n"), Some(400));
        assert_eq!(status("GET http://x/ HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), Some(400));
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"),
            Some(413)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(411)
        );
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(status(&huge), Some(431));
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            None
        );
    }
}
