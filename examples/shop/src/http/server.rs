//! The accept loop every service runs: one connection at a time, one request per
//! connection, a log line per request.

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use super::request::{Request, read_request};
use super::response::{Response, write_response};
use crate::storage::port_setting;

/// How long a client may take to send its request or read the answer. Short, because
/// while one connection waits every other client does: a browser that opens a spare
/// connection ahead of time, say, holds the service this long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// How long, and how many bytes, a closing connection is drained for.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(200);

/// How long the last connection is drained for before the server stops: the process
/// exits next, which resets its connections, so the client is given time to read the
/// answer and close first (through a `kubectl port-forward` that takes a while).
const LAST_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
const DRAIN_LIMIT: u64 = 64 * 1024;

/// The pause after a failed accept, so that a lasting failure does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// What a handler decides after answering.
pub enum Next {
    /// Keep serving.
    Continue,
    /// Stop serving once the answer is sent: [`serve`] returns.
    Stop,
}

/// Serves `listener` until a handler asks to stop: each request goes to `handle`, whose
/// answer is written back before the connection closes. `service` names the log lines.
pub fn serve(
    service: &str,
    listener: &TcpListener,
    mut handle: impl FnMut(&Request) -> (Response, Next),
) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("{service}: accepting a connection failed: {error}");
                std::thread::sleep(ACCEPT_RETRY_DELAY);
                continue;
            }
        };
        if let Next::Stop = serve_connection(service, &stream, &mut handle) {
            return;
        }
    }
}

fn serve_connection(
    service: &str,
    stream: &TcpStream,
    handle: &mut impl FnMut(&Request) -> (Response, Next),
) -> Next {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown peer".to_owned(), |address| address.to_string());
    // The timeouts keep one silent client from holding the service; where they cannot
    // be set the connection is still served.
    let timeouts = stream
        .set_read_timeout(Some(CONNECTION_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CONNECTION_TIMEOUT)));
    if let Err(error) = timeouts {
        eprintln!("{service}: cannot set the connection's timeouts: {error}");
    }
    let mut reader = BufReader::new(stream);
    let (response, next, head_only, what_was_asked) = match read_request(&mut reader) {
        Ok(None) => return Next::Continue,
        Ok(Some(request)) => {
            let (response, next) = handle(&request);
            let asked = format!("{} {}", request.method, request.target);
            (response, next, request.method == "HEAD", asked)
        }
        Err(error) => match error.status() {
            Some(status) => (
                Response::text(status, &format!("{error}\n")),
                Next::Continue,
                false,
                format!("refused ({error})"),
            ),
            None => {
                eprintln!("{service}: {peer}: {error}");
                return Next::Continue;
            }
        },
    };
    // Probes ask every second; logging them would bury the requests that matter.
    if what_was_asked != "GET /healthz" {
        println!(
            "{service}: {peer} \"{what_was_asked}\" {} {}",
            response.status,
            response.body.len()
        );
    }
    if let Err(error) = write_response(&mut &*stream, &response, head_only) {
        eprintln!("{service}: {peer}: writing the answer failed: {error}");
    }
    let drain_timeout = match next {
        Next::Continue => DRAIN_TIMEOUT,
        Next::Stop => LAST_DRAIN_TIMEOUT,
    };
    close_gracefully(stream, drain_timeout);
    next
}

/// Closes the sending side, then drops what the client still sends until it closes its
/// side or `timeout` passes: closing a socket with unread bytes can reset the connection
/// before the client has read the answer.
fn close_gracefully(stream: &TcpStream, timeout: Duration) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    if stream.set_read_timeout(Some(timeout)).is_ok() {
        // Whatever ends the drain, the connection is closed next.
        let _ = std::io::copy(&mut stream.take(DRAIN_LIMIT), &mut std::io::sink());
    }
}

/// Listens on `address:port`, naming the service and the address in its log.
pub fn listen(service: &str, address: &str, port: u16) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind((address, port))?;
    let bound = listener
        .local_addr()
        .map_or_else(|_| format!("{address}:{port}"), |bound| bound.to_string());
    println!("{service}: listening on {bound}");
    Ok(listener)
}

/// Listens on every address at `$PORT` (8080 when unset), as the services with one public
/// port do; `Err` says why it cannot.
pub fn listen_on_port_setting(service: &str) -> Result<TcpListener, String> {
    let port = port_setting()?;
    listen(service, "0.0.0.0", port).map_err(|error| format!("cannot listen: {error}"))
}
