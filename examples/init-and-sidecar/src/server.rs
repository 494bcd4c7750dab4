//! The app container: serves the page the init containers prepared, over HTTP/1.1, and
//! writes an access log into the shared volume for the sidecar to ship.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::roles::{access_log_path, page_path};

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub fn serve(directory: &str, port: u16) -> Result<(), String> {
    let listener = TcpListener::bind(("0.0.0.0", port))
        .map_err(|error| format!("cannot listen on port {port}: {error}"))?;
    println!(
        "serve: serving {} on port {port}",
        page_path(directory).display()
    );
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(error) = answer(&stream, directory) {
                    eprintln!("serve: a request failed: {error}");
                }
            }
            Err(error) => {
                eprintln!("serve: accepting a connection failed: {error}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}

/// Answers one request (the connection is closed after it) and logs it.
fn answer(stream: &TcpStream, directory: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and dropped: the answer depends on the target only.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("-");
    let target = parts.next().unwrap_or("-");
    let (status, body) = match (method, target) {
        ("GET", "/" | "/index.html") => match fs::read_to_string(page_path(directory)) {
            Ok(page) => ("200 OK", page),
            Err(error) => (
                "500 Internal Server Error",
                format!("cannot read the page: {error}\n"),
            ),
        },
        ("GET", _) => ("404 Not Found", "not found\n".to_owned()),
        _ => ("405 Method Not Allowed", "only GET\n".to_owned()),
    };
    let mut writer = stream;
    write!(
        writer,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    writer.flush()?;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let line = format!(
        "{seconds} \"{method} {target}\" {} {}\n",
        &status[..3],
        body.len()
    );
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(access_log_path(directory))?;
    log.write_all(line.as_bytes())
}
