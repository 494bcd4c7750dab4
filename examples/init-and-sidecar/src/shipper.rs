//! The sidecar: a log shipper that reads the app's access log from the shared volume and
//! ships (prints) each new line, and that reaches the app over the pod's loopback, which
//! all containers of a pod share.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::roles::access_log_path;

/// How often the sidecar asks the app for the page and looks for new log lines.
const PERIOD: Duration = Duration::from_secs(2);

pub fn ship_logs(directory: &str, port: u16) -> Result<(), String> {
    let log_path = access_log_path(directory);
    println!(
        "ship-logs: shipping {} and asking 127.0.0.1:{port} every {}s",
        log_path.display(),
        PERIOD.as_secs()
    );
    let mut shipped_bytes = 0_u64;
    loop {
        match fetch_page(port) {
            Ok((status, first_line)) => {
                println!(
                    "ship-logs: GET http://127.0.0.1:{port}/ over the pod's loopback: {status}: {first_line}"
                );
            }
            Err(error) => {
                println!("ship-logs: the app on 127.0.0.1:{port} did not answer: {error}")
            }
        }
        match new_lines(&log_path, shipped_bytes) {
            Ok((lines, new_offset)) => {
                for line in lines.lines() {
                    println!("ship-logs: shipped access log line: {line}");
                }
                shipped_bytes = new_offset;
            }
            Err(error) => println!("ship-logs: no access log yet: {error}"),
        }
        std::thread::sleep(PERIOD);
    }
}

/// GETs the page and returns the status line's code and text and the body's first line.
fn fetch_page(port: u16) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ship-logs\r\nConnection: close\r\n\r\n",
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .lines()
        .next()
        .and_then(|line| line.split_once(' '))
        .map_or_else(String::new, |(_, status)| status.to_owned());
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.lines().next().unwrap_or_default().to_owned()))
}

/// The log's text after `offset`, and the new offset (whole lines only).
fn new_lines(path: &std::path::Path, offset: u64) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let complete = text.rfind('\n').map_or(0, |end| end + 1);
    text.truncate(complete);
    Ok((text, offset + complete as u64))
}
