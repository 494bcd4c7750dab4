use std::io::Cursor;
use std::net::TcpListener;
use std::thread;

use super::*;
use crate::url::parse_http_url;

fn answer_of(bytes: &[u8]) -> Result<Answer, AnswerError> {
    read_answer(&mut Cursor::new(bytes))
}

fn url(text: &str) -> HttpUrl {
    parse_http_url(text).expect("a valid URL")
}

#[test]
fn a_get_and_a_post_ask_to_close_the_connection() {
    let get = request_bytes(&url("http://echo.default/status/503?x"), None);
    assert_eq!(
        String::from_utf8(get).expect("text"),
        "GET /status/503?x HTTP/1.1\r\nHost: echo.default\r\nUser-Agent: echo-client\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    let post =
        String::from_utf8(request_bytes(&url("http://localhost:8080"), Some("hi"))).expect("text");
    assert!(post.starts_with("POST / HTTP/1.1\r\nHost: localhost:8080\r\n"));
    assert!(post.ends_with("Content-Length: 2\r\n\r\nhi"));
}

#[test]
fn bodies_are_read_by_length_by_chunks_or_to_the_end() {
    let sized = answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst\nignored")
        .expect("an answer");
    assert_eq!(
        sized,
        Answer {
            status: 200,
            body: b"first".to_vec()
        }
    );
    let chunked = answer_of(
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nd\n\r\n0\r\nT: v\r\n\r\n",
    )
    .expect("an answer");
    assert_eq!(
        chunked,
        Answer {
            status: 503,
            body: b"abcd\n".to_vec()
        }
    );
    assert_eq!(chunked.first_body_line(), "abcd");
    let to_the_end = answer_of(b"HTTP/1.0 200 OK\r\n\r\nline one\r\nline two").expect("an answer");
    assert_eq!(to_the_end.first_body_line(), "line one");
    let no_content = answer_of(b"HTTP/1.1 204 No Content\r\n\r\n").expect("an answer");
    assert_eq!(no_content.status, 204);
    assert!(no_content.body.is_empty());
}

#[test]
fn interim_answers_are_skipped() {
    let answer = answer_of(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    )
    .expect("an answer");
    assert_eq!(
        answer,
        Answer {
            status: 201,
            body: b"ok".to_vec()
        }
    );
}

#[test]
fn broken_answers_are_refused() {
    let broken: [&[u8]; 6] = [
        b"",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
    ];
    for answer in broken {
        assert!(
            matches!(answer_of(answer), Err(AnswerError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(answer)
        );
    }
}

/// Serves `answers` in turn, one connection each, returning each request it read.
fn serve(answers: Vec<&'static [u8]>) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    let server = thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            while reader.read_line(&mut request).expect("a request line") > 2 {}
            stream.write_all(answer).expect("the answer is sent");
            requests.push(request);
        }
        requests
    });
    (port, server)
}

#[test]
fn each_exchange_opens_a_new_connection() {
    let (port, server) = serve(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npod-a\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npod-b\n",
    ]);
    let target = url(&format!("http://localhost:{port}/"));
    let first = exchange(&target, None).expect("a first answer");
    let second = exchange(&target, None).expect("a second answer");
    assert_eq!(
        (first.first_body_line(), second.first_body_line()),
        ("pod-a".to_owned(), "pod-b".to_owned())
    );
    let requests = server.join().expect("the server thread ends");
    assert!(
        requests
            .iter()
            .all(|request| request.contains("Connection: close\r\n"))
    );
}

#[test]
fn a_refused_connection_names_the_address_tried() {
    // A port that was just free: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a loopback port")
        .port();
    let error =
        exchange(&url(&format!("http://127.0.0.1:{port}/")), None).expect_err("nothing listens");
    assert!(matches!(error, ExchangeError::Connect { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&format!("at 127.0.0.1:{port}")),
        "{error}"
    );
}

#[test]
fn a_name_that_does_not_resolve_is_named() {
    let error = exchange(&url("http://no-such-host.invalid/"), None).expect_err("no such host");
    assert!(matches!(error, ExchangeError::Resolve { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("cannot resolve no-such-host.invalid:80"),
        "{error}"
    );
}
