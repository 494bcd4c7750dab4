use std::io::{BufReader, Cursor};

use super::*;

fn read(bytes: &[u8]) -> Result<Option<Request>, RequestError> {
    read_request(&mut Cursor::new(bytes))
}

fn read_one(bytes: &[u8]) -> Request {
    read(bytes)
        .expect("the request is well-formed")
        .expect("a request was sent")
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    read(bytes).expect_err("the request is refused").status()
}

#[test]
fn a_get_is_read_with_its_header_fields_in_order() {
    let request = read_one(b"GET /path?query=1 HTTP/1.1\r\nHost: echo\r\nAccept:  */* \r\n\r\n");
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/path?query=1");
    assert_eq!(request.path(), "/path");
    assert_eq!(request.version, HttpVersion::Http11);
    assert_eq!(
        request.headers,
        vec![
            ("Host".to_owned(), "echo".to_owned()),
            ("Accept".to_owned(), "*/*".to_owned())
        ]
    );
    assert!(request.body.is_empty());
}

#[test]
fn requests_on_one_connection_are_read_one_after_another_then_none() {
    let mut connection = Cursor::new(
        &b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
           GET /b HTTP/1.1\r\nHost: h\r\n\r\n"[..],
    );
    let first = read_request(&mut connection)
        .expect("well-formed")
        .expect("a first request");
    assert_eq!(
        (first.target.as_str(), first.body.as_slice()),
        ("/a", &b"hello"[..])
    );
    let second = read_request(&mut connection)
        .expect("well-formed")
        .expect("a second request");
    assert_eq!(second.target, "/b");
    assert!(
        read_request(&mut connection)
            .expect("a clean end")
            .is_none()
    );
}

#[test]
fn a_body_split_across_reads_is_read_whole() {
    // A one-byte buffer makes every line and the body arrive in pieces.
    let bytes = b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
    let mut reader = BufReader::with_capacity(1, &bytes[..]);
    let request = read_request(&mut reader)
        .expect("well-formed")
        .expect("a request");
    assert_eq!(request.body, b"hello world");
}

#[test]
fn an_empty_connection_and_leading_empty_lines_are_not_errors() {
    assert!(read(b"").expect("a clean end").is_none());
    assert!(read(b"\r\n\r\n").expect("a clean end").is_none());
    assert_eq!(
        read_one(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").target,
        "/"
    );
}

#[test]
fn bare_line_feeds_are_accepted() {
    let request = read_one(b"GET / HTTP/1.1\nHost: h\nContent-Length: 2\n\nok");
    assert_eq!(request.body, b"ok");
}

#[test]
fn a_chunked_body_is_decoded_and_its_trailers_dropped() {
    let request = read_one(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n\
          5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    );
    assert_eq!(request.body, b"hello world");
    assert!(request.keeps_connection_open());
}

#[test]
fn connection_options_decide_whether_the_connection_stays_open() {
    let http11 = read_one(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(http11.keeps_connection_open());
    let closing = read_one(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
    assert!(!closing.keeps_connection_open());
    let http10 = read_one(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(http10.version, HttpVersion::Http10);
    assert!(!http10.keeps_connection_open());
    let http10_keep_alive = read_one(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(http10_keep_alive.keeps_connection_open());
}

#[test]
fn an_absolute_form_target_has_the_path_of_its_url() {
    assert_eq!(
        read_one(b"GET http://echo:80/a/b?c HTTP/1.1\r\nHost: echo\r\n\r\n").path(),
        "/a/b"
    );
    assert_eq!(
        read_one(b"GET http://echo HTTP/1.1\r\nHost: echo\r\n\r\n").path(),
        "/"
    );
}

#[test]
fn malformed_requests_are_answered_400() {
    let malformed: [&[u8]; 18] = [
        b"GET /\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTX/1.1\r\nHost: h\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    ];
    for request in malformed {
        assert_eq!(
            status_of(request),
            Some(400),
            "{}",
            String::from_utf8_lossy(request)
        );
    }
}

#[test]
fn agreeing_content_lengths_are_accepted() {
    let request = read_one(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab",
    );
    assert_eq!(request.body, b"ab");
}

#[test]
fn a_head_over_the_cap_is_answered_431() {
    let mut long_line = b"GET /".to_vec();
    long_line.extend(std::iter::repeat_n(b'a', MAXIMUM_HEAD_BYTES as usize));
    long_line.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(status_of(&long_line), Some(431));
    let mut many_fields = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for index in 0..MAXIMUM_HEADER_FIELDS {
        many_fields.extend_from_slice(format!("X-Field-{index}: v\r\n").as_bytes());
    }
    many_fields.extend_from_slice(b"\r\n");
    assert_eq!(status_of(&many_fields), Some(431));
}

#[test]
fn a_body_over_the_cap_is_answered_413_without_reading_it() {
    let declared = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        MAXIMUM_BODY_BYTES + 1
    );
    assert_eq!(status_of(declared.as_bytes()), Some(413));
    let huge = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    assert_eq!(status_of(huge), Some(413));
    let chunk =
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n";
    assert_eq!(status_of(chunk), Some(413));
}

#[test]
fn unsupported_codings_and_versions_get_501_and_505() {
    let gzip = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(status_of(gzip), Some(501));
    assert_eq!(status_of(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"), Some(505));
}

#[test]
fn a_request_cut_short_is_not_answered() {
    let cut_short: [&[u8]; 4] = [
        b"GET / HTT",
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ];
    for request in cut_short {
        let error = read(request).expect_err("the request is incomplete");
        assert!(matches!(error, RequestError::Truncated), "{error:?}");
        assert_eq!(error.status(), None);
    }
}

#[test]
fn arbitrary_bytes_never_panic_the_parser() {
    // A small deterministic generator (xorshift) feeds the parser pieces of valid
    // requests mixed with random bytes. Whatever it makes of them, it must not panic,
    // and what it accepts must respect the caps.
    let pieces: [&[u8]; 12] = [
        b"GET ",
        b"/ ",
        b"HTTP/1.1",
        b"\r\n",
        b"\n",
        b"Host: h",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"5",
        b"ffffffff",
        b":",
        b"\r",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut bytes = Vec::new();
        for _ in 0..next() % 12 {
            let choice = next();
            if choice % 4 == 0 {
                bytes.push((choice >> 8) as u8);
            } else {
                bytes.extend_from_slice(pieces[(choice >> 8) as usize % pieces.len()]);
            }
        }
        match read(&bytes) {
            Ok(Some(request)) => {
                assert!(request.body.len() as u64 <= MAXIMUM_BODY_BYTES);
                assert!(request.headers.len() <= MAXIMUM_HEADER_FIELDS);
            }
            Ok(None) => {}
            Err(error) => assert!(
                matches!(error.status(), None | Some(400 | 413 | 431 | 501 | 505)),
                "{error:?}"
            ),
        }
    }
}
