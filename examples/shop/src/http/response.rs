//! Answers and how they are written: always with a Content-Length and `Connection:
//! close`, since the services serve one connection at a time (a wasm32-wasip2 guest has
//! no threads) and a kept-open idle connection would hold every other client off.

use std::io::{self, Write};

use crate::json::Value;

/// An answer to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    /// Header fields beyond Content-Type, Content-Length and Connection.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            headers: Vec::new(),
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn html(status: u16, html: String) -> Response {
        Response {
            status,
            content_type: "text/html; charset=utf-8".to_owned(),
            headers: Vec::new(),
            body: html.into_bytes(),
        }
    }

    pub fn json(status: u16, value: &Value) -> Response {
        Response {
            status,
            content_type: "application/json".to_owned(),
            headers: Vec::new(),
            body: format!("{value}\n").into_bytes(),
        }
    }

    /// A JSON error answer: `{"error": message}`.
    pub fn json_error(status: u16, message: &str) -> Response {
        let value = Value::Object(vec![("error".to_owned(), Value::string(message))]);
        Response::json(status, &value)
    }

    /// 303 See Other to `location`: the answer to a form POST, so that reloading the
    /// page the browser lands on does not post the form again.
    pub fn see_other(location: &str) -> Response {
        let mut response = Response::text(303, "");
        response.headers.push(("Location", location.to_owned()));
        response
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

/// Writes `response`; `head_only` leaves the body out (the answer to HEAD).
pub fn write_response<W: Write>(
    writer: &mut W,
    response: &Response,
    head_only: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

/// The reason phrase RFC 9110 gives the statuses the shop uses.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        303 => "See Other",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_has_its_length_extra_fields_and_closes() {
        let mut bytes = Vec::new();
        let response = Response::see_other("/?notice=added");
        write_response(&mut bytes, &response, false).expect("writing to a Vec cannot fail");
        assert_eq!(
            String::from_utf8(bytes).expect("text"),
            "HTTP/1.1 303 See Other\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 0\r\nConnection: close\r\nLocation: /?notice=added\r\n\r\n"
        );
    }

    #[test]
    fn head_leaves_the_body_out() {
        let mut bytes = Vec::new();
        write_response(&mut bytes, &Response::text(200, "ok\n"), true).expect("a Vec");
        let text = String::from_utf8(bytes).expect("text");
        assert!(
            text.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"),
            "{text}"
        );
    }
}
