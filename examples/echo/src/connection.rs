//! Serving one connection: requests one after another while the client keeps it open,
//! with a log line per request.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::request::{HttpVersion, read_request};
use crate::response::{Framing, error_response, respond, write_response};

/// How long a connection may sit idle, or a request or answer stall, before it is closed.
/// echo serves one connection at a time (a wasm32-wasip2 guest has no threads), so a
/// client that keeps an idle connection open holds every other client off this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long, and how many bytes, a closing connection is drained for.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
const DRAIN_LIMIT: u64 = 256 * 1024;

/// Serves `stream` until the client closes it, asks to close it, sends something that
/// is not a request, or leaves it idle for [`IDLE_TIMEOUT`].
pub fn serve_connection(stream: &TcpStream, pod_name: &str) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown peer".to_owned(), |address| address.to_string());
    // Timeouts keep one silent client from holding the server forever. Where the
    // platform cannot set them the connection is still served, only without that guard.
    let timeouts = stream
        .set_read_timeout(Some(IDLE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IDLE_TIMEOUT)));
    if let Err(error) = timeouts {
        println!("{peer}: cannot set the connection's timeouts: {error}");
    }
    let mut reader = BufReader::new(stream);
    loop {
        // Waiting for a request's first byte tells a client that is done with the
        // connection (end of stream, or idle past the timeout) from one that fails
        // mid-request; only the second is worth a log line.
        match reader.fill_buf() {
            Ok([]) => return,
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return;
            }
            Err(error) => {
                println!("{peer}: {error}");
                return;
            }
        }
        let (response, framing, what_was_asked) = match read_request(&mut reader) {
            Ok(None) => return,
            Ok(Some(request)) => {
                let framing = Framing {
                    head_only: request.method == "HEAD",
                    keep_open: request.keeps_connection_open(),
                    http10_client: request.version == HttpVersion::Http10,
                };
                let request_line = format!(
                    "\"{} {} {}\"",
                    request.method,
                    request.target,
                    request.version.as_str()
                );
                (respond(&request, pod_name), framing, request_line)
            }
            Err(error) => {
                let Some(status) = error.status() else {
                    println!("{peer}: {error}");
                    return;
                };
                // After a request that could not be read there is no telling where the
                // next one would start, so the connection closes after the answer.
                let framing = Framing {
                    head_only: false,
                    keep_open: false,
                    http10_client: false,
                };
                (
                    error_response(status, &error.to_string()),
                    framing,
                    format!("refused ({error})"),
                )
            }
        };
        println!(
            "{peer} {what_was_asked} {} {}",
            response.status,
            response.body.len()
        );
        if let Err(error) = write_response(&mut &*stream, &response, framing) {
            println!("{peer}: writing the answer failed: {error}");
            return;
        }
        if !framing.keep_open {
            close_gracefully(stream);
            return;
        }
    }
}

/// Closes the sending side, then reads and drops what the client still sends for a
/// short while. Closing a socket that has unread bytes makes the kernel reset the
/// connection, which can discard the answer before the client reads it (an answer to a
/// request refused before its body was read, say); draining first avoids that.
fn close_gracefully(stream: &TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    if stream.set_read_timeout(Some(DRAIN_TIMEOUT)).is_ok() {
        let mut discarded = std::io::sink();
        // Whatever ends the drain (end of stream, the limit, the timeout, an error), the
        // connection is closed next, so its outcome does not matter.
        let _ = std::io::copy(&mut stream.take(DRAIN_LIMIT), &mut discarded);
    }
}
