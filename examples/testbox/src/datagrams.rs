//! Applets that exchange UDP datagrams with `std::net::UdpSocket`, for testing UDP on the
//! pod network: a server that answers every datagram with its own bytes, and a client
//! that sends one and prints the answer.

use std::net::{Ipv4Addr, UdpSocket};
use std::process::ExitCode;

use crate::arguments::{AppletError, exactly};

/// The largest datagram the applets read.
const MAX_DATAGRAM: usize = 65_536;

fn failed(what: &str, error: &std::io::Error) -> AppletError {
    AppletError::Failed(format!("{what}: {error}"))
}

/// `udp-echo PORT`: binds 0.0.0.0:PORT and sends every datagram back to its sender,
/// printing `echoed N bytes to ADDRESS` for each, forever.
pub fn udp_echo(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [port] = exactly("udp-echo PORT", arguments)?;
    let port: u16 = port
        .parse()
        .map_err(|_| AppletError::Usage(format!("{port:?} is not a port from 0 to 65535")))?;
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))
        .map_err(|error| failed(&format!("cannot bind UDP port {port}"), &error))?;
    let mut buffer = vec![0_u8; MAX_DATAGRAM];
    loop {
        let (length, sender) = socket
            .recv_from(&mut buffer)
            .map_err(|error| failed("receiving failed", &error))?;
        socket
            .send_to(&buffer[..length], sender)
            .map_err(|error| failed(&format!("answering {sender} failed"), &error))?;
        println!("echoed {length} bytes to {sender}");
    }
}

/// `udp-ask ADDRESS MESSAGE`: sends MESSAGE to ADDRESS (host:port) from an ephemeral
/// port, waits for one answer (asking again every 200 ms, up to 10 s) and prints `answer from ADDRESS: TEXT`.
pub fn udp_ask(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [address, message] = exactly("udp-ask ADDRESS MESSAGE", arguments)?;
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|error| failed("cannot bind a UDP socket", &error))?;
    // The server may start after the client (containers start side by side): ask again
    // until it answers, as a UDP client retries. WASI has no socket read timeouts, so
    // the socket is polled without blocking.
    socket
        .set_nonblocking(true)
        .map_err(|error| failed("cannot make the socket non-blocking", &error))?;
    let mut buffer = vec![0_u8; MAX_DATAGRAM];
    for _ in 0..50 {
        socket
            .send_to(message.as_bytes(), address)
            .map_err(|error| failed(&format!("sending to {address} failed"), &error))?;
        for _ in 0..20 {
            match socket.recv_from(&mut buffer) {
                Ok((length, sender)) => {
                    let text = String::from_utf8_lossy(&buffer[..length]);
                    println!("answer from {sender}: {text}");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => return Err(failed("receiving failed", &error)),
            }
        }
    }
    Err(AppletError::Failed(format!("no answer from {address}")))
}
