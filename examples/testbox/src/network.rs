//! Applets that move bytes over TCP, for measuring the pod network's throughput: a sink
//! that counts what one connection brings and a source that sends a fixed amount. Both
//! are plain `std::net`, so the same code runs as a guest and natively for comparison.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crate::arguments::{AppletError, exactly, parse_count};

/// How many bytes each read and write moves: a socket buffer's worth, so that the count
/// of calls into the host stays small beside the bytes.
const CHUNK_BYTES: usize = 64 * 1024;

/// How long `tcp-source` keeps trying to reach a sink that is not listening yet (the
/// containers of a pod start side by side, so the sink may come up second).
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// The pause between two connection attempts.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

const MEBIBYTE: u64 = 1024 * 1024;

/// `tcp-sink PORT`: listens on 127.0.0.1:PORT, takes one connection, reads it to its end
/// and prints `received BYTES bytes in SECONDS s` (from the accept to the end of the
/// stream), then closes the connection, which tells the source the count is taken.
pub fn tcp_sink(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [port] = exactly("tcp-sink PORT", arguments)?;
    let port: u16 = port
        .parse()
        .map_err(|_| AppletError::Usage(format!("{port:?} is not a port from 0 to 65535")))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|error| failed(&format!("cannot listen on 127.0.0.1:{port}"), &error))?;
    let (mut stream, _) = listener
        .accept()
        .map_err(|error| failed("accepting the connection failed", &error))?;
    let started = Instant::now();
    let mut buffer = vec![0_u8; CHUNK_BYTES];
    let mut received: u64 = 0;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => received += count as u64,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(failed("reading the connection failed", &error)),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "received {received} bytes in {:.6} s",
        elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tcp-source ADDRESS:PORT MEBIBYTES`: connects (retrying for a while when nothing
/// listens yet), sends that many mebibytes, closes its sending side and waits for the
/// sink to close, then prints `sent BYTES bytes in SECONDS s` (from the connection to
/// the sink's close).
pub fn tcp_source(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [address, mebibytes] = exactly("tcp-source ADDRESS:PORT MEBIBYTES", arguments)?;
    let address: SocketAddr = address.parse().map_err(|_| {
        AppletError::Usage(format!(
            "{address:?} is not a numeric address and port like 127.0.0.1:9000"
        ))
    })?;
    let total = parse_count(mebibytes)?
        .checked_mul(MEBIBYTE)
        .ok_or_else(|| AppletError::Usage(format!("{mebibytes} MiB is too many bytes")))?;
    let mut stream = connect_patiently(address)?;
    let started = Instant::now();
    // A recognisable pattern rather than zeros, so that nothing on the way can send less
    // by recognising an empty page.
    let chunk: Vec<u8> = (0..CHUNK_BYTES).map(|index| index as u8).collect();
    let mut remaining = total;
    while remaining > 0 {
        let length = usize::try_from(remaining.min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
        stream
            .write_all(&chunk[..length])
            .map_err(|error| failed("sending failed", &error))?;
        remaining -= length as u64;
    }
    stream
        .shutdown(Shutdown::Write)
        .map_err(|error| failed("closing the sending side failed", &error))?;
    // The sink closes once it has read everything; waiting for that makes the time
    // printed here cover the delivery, not only the handing over to the network.
    let mut leftover = [0_u8; 16];
    loop {
        match stream.read(&mut leftover) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(failed("waiting for the sink to close failed", &error)),
        }
    }
    println!(
        "sent {total} bytes in {:.6} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn connect_patiently(address: SocketAddr) -> Result<TcpStream, AppletError> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    loop {
        match TcpStream::connect(address) {
            Ok(stream) => return Ok(stream),
            Err(error) if Instant::now() >= deadline => {
                return Err(failed(&format!("cannot connect to {address}"), &error));
            }
            Err(_) => thread::sleep(CONNECT_RETRY_DELAY),
        }
    }
}

fn failed(what: &str, error: &std::io::Error) -> AppletError {
    AppletError::Failed(format!("{what}: {error}"))
}
