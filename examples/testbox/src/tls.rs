//! `tls-hello`: the first flight of a TLS 1.2 handshake, spoken by hand, to show which
//! server answers at an address. It sends a ClientHello that offers TLS 1.2 only (so the
//! server's certificate comes back unencrypted, as TLS 1.3 would not send it), reads the
//! server's flight up to ServerHelloDone, and prints the ServerHello's version and cipher
//! suite and the leaf certificate in hex, for the caller to check against the server it
//! meant to reach. No key exchange follows: this proves where the bytes went, not a
//! secure channel, and needs no crypto library in the guest.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use crate::arguments::{AppletError, exactly};

/// TLS record content types.
const HANDSHAKE_RECORD: u8 = 0x16;
const ALERT_RECORD: u8 = 0x15;
/// Handshake message types.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const SERVER_HELLO_DONE: u8 = 14;
/// TLS 1.2's version number on the wire.
const TLS_1_2: [u8; 2] = [0x03, 0x03];
/// ECDHE with ECDSA or RSA, AES-GCM or ChaCha20-Poly1305: what a modern TLS 1.2 server
/// (rustls among them) accepts.
const CIPHER_SUITES: [u16; 6] = [0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca9, 0xcca8];
/// x25519, secp256r1, secp384r1.
const GROUPS: [u16; 3] = [0x001d, 0x0017, 0x0018];
/// ECDSA P-256 and P-384 with SHA-2, RSA-PSS and RSA PKCS#1 with SHA-2.
const SIGNATURE_SCHEMES: [u16; 6] = [0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501];
/// The most of the server's flight read before giving up on its end.
const MAX_FLIGHT_BYTES: usize = 256 * 1024;
/// How long the server may take to answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `tls-hello HOST:PORT SERVER_NAME`: see the module's documentation. Exits 0 when a TLS
/// 1.2 ServerHello and a certificate came back, 1 otherwise (an alert included).
pub fn tls_hello(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [address, server_name] = exactly("tls-hello HOST:PORT SERVER_NAME", arguments)?;
    let addresses: Vec<_> = address
        .to_socket_addrs()
        .map_err(|error| AppletError::Failed(format!("cannot resolve {address}: {error}")))?
        .collect();
    let first = addresses
        .first()
        .ok_or_else(|| AppletError::Failed(format!("{address} resolves to no address")))?;
    let mut stream = TcpStream::connect(first)
        .map_err(|error| AppletError::Failed(format!("cannot connect to {first}: {error}")))?;
    // A platform without read timeouts still reads, only unguarded.
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    println!("connected to {first}");
    stream
        .write_all(&client_hello(server_name))
        .map_err(|error| AppletError::Failed(format!("sending the ClientHello failed: {error}")))?;
    let flight = read_flight(&mut stream)?;
    let hello = flight.server_hello.ok_or_else(|| {
        AppletError::Failed("the server's flight ended without a ServerHello".to_owned())
    })?;
    println!(
        "server-hello version={:02x}{:02x} cipher={:04x}",
        hello.version[0], hello.version[1], hello.cipher_suite
    );
    let certificate = flight.leaf_certificate.ok_or_else(|| {
        AppletError::Failed("the server's flight ended without a certificate".to_owned())
    })?;
    println!("certificate {}", hex(&certificate));
    Ok(ExitCode::SUCCESS)
}

/// A handshake record holding a ClientHello for `server_name` that offers TLS 1.2 only.
fn client_hello(server_name: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&TLS_1_2);
    // The client random: any 32 bytes do, since no session is ever made of this one.
    body.extend((0..32_u8).map(|index| index.wrapping_mul(37)));
    // No session to resume.
    body.push(0);
    with_u16_length(&mut body, |suites| {
        for suite in CIPHER_SUITES {
            suites.extend_from_slice(&suite.to_be_bytes());
        }
    });
    // Only the null compression method.
    body.extend_from_slice(&[1, 0]);
    with_u16_length(&mut body, |extensions| {
        extension(extensions, 0x0000, |server_names| {
            with_u16_length(server_names, |list| {
                list.push(0);
                with_u16_length(list, |name| name.extend_from_slice(server_name.as_bytes()));
            });
        });
        extension(extensions, 0x000a, |groups| {
            with_u16_length(groups, |list| {
                for group in GROUPS {
                    list.extend_from_slice(&group.to_be_bytes());
                }
            });
        });
        // EC point formats: uncompressed only.
        extension(extensions, 0x000b, |formats| {
            formats.extend_from_slice(&[1, 0])
        });
        extension(extensions, 0x000d, |schemes| {
            with_u16_length(schemes, |list| {
                for scheme in SIGNATURE_SCHEMES {
                    list.extend_from_slice(&scheme.to_be_bytes());
                }
            });
        });
        // Extended master secret, and an empty renegotiation_info.
        extension(extensions, 0x0017, |_| {});
        extension(extensions, 0xff01, |renegotiation| renegotiation.push(0));
    });
    let mut handshake = vec![CLIENT_HELLO];
    handshake.extend_from_slice(&u24(body.len()));
    handshake.extend(body);
    // TLS 1.0 in the record layer, as clients write their first record for old servers.
    let mut record = vec![HANDSHAKE_RECORD, 0x03, 0x01];
    record.extend_from_slice(&u16_length(handshake.len()));
    record.extend(handshake);
    record
}

fn extension(extensions: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    extensions.extend_from_slice(&kind.to_be_bytes());
    with_u16_length(extensions, fill);
}

/// Appends what `fill` writes, preceded by its length in two bytes.
fn with_u16_length(buffer: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    buffer.extend_from_slice(&u16_length(inner.len()));
    buffer.extend(inner);
}

fn u16_length(length: usize) -> [u8; 2] {
    u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes()
}

fn u24(length: usize) -> [u8; 3] {
    let [_, high, middle, low] = u32::try_from(length).unwrap_or(u32::MAX).to_be_bytes();
    [high, middle, low]
}

struct ServerHello {
    version: [u8; 2],
    cipher_suite: u16,
}

#[derive(Default)]
struct Flight {
    server_hello: Option<ServerHello>,
    leaf_certificate: Option<Vec<u8>>,
}

/// Reads records until ServerHelloDone, the end of the stream or an alert, gathering the
/// handshake messages they carry.
fn read_flight(stream: &mut TcpStream) -> Result<Flight, AppletError> {
    let mut flight = Flight::default();
    let mut handshake = Vec::new();
    let mut read_so_far = 0;
    loop {
        let mut header = [0_u8; 5];
        if stream.read_exact(&mut header).is_err() {
            return Ok(flight);
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        read_so_far += length;
        if read_so_far > MAX_FLIGHT_BYTES {
            return Err(AppletError::Failed(
                "the server's flight is too long".to_owned(),
            ));
        }
        let mut fragment = vec![0_u8; length];
        stream.read_exact(&mut fragment).map_err(|error| {
            AppletError::Failed(format!("the server's record was cut short: {error}"))
        })?;
        match header[0] {
            HANDSHAKE_RECORD => handshake.extend(fragment),
            ALERT_RECORD => {
                return Err(AppletError::Failed(format!(
                    "the server sent an alert: {fragment:02x?}"
                )));
            }
            other => {
                return Err(AppletError::Failed(format!(
                    "the server sent a record of type {other:#04x}, not a handshake: is it TLS?"
                )));
            }
        }
        while let Some((kind, body, rest)) = next_message(&handshake) {
            let done = kind == SERVER_HELLO_DONE;
            match kind {
                SERVER_HELLO => flight.server_hello = parse_server_hello(body),
                CERTIFICATE => flight.leaf_certificate = parse_leaf_certificate(body),
                _ => {}
            }
            handshake = rest.to_vec();
            if done {
                return Ok(flight);
            }
        }
    }
}

/// The first whole handshake message in `buffer`: its type, its body and what follows.
fn next_message(buffer: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&kind, rest) = buffer.split_first()?;
    let (length, rest) = read_u24(rest)?;
    (rest.len() >= length).then(|| (kind, &rest[..length], &rest[length..]))
}

fn read_u24(buffer: &[u8]) -> Option<(usize, &[u8])> {
    let (length, rest) = buffer.split_first_chunk::<3>()?;
    let length =
        usize::from(length[0]) << 16 | usize::from(length[1]) << 8 | usize::from(length[2]);
    Some((length, rest))
}

fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let (version, rest) = body.split_first_chunk::<2>()?;
    // The server random, then the session id with its one-byte length.
    let rest = rest.get(32..)?;
    let (&session_id_length, rest) = rest.split_first()?;
    let rest = rest.get(usize::from(session_id_length)..)?;
    let (cipher_suite, _) = rest.split_first_chunk::<2>()?;
    Some(ServerHello {
        version: *version,
        cipher_suite: u16::from_be_bytes(*cipher_suite),
    })
}

/// The first certificate of a Certificate message: the server's own.
fn parse_leaf_certificate(body: &[u8]) -> Option<Vec<u8>> {
    let (_, list) = read_u24(body)?;
    let (length, rest) = read_u24(list)?;
    rest.get(..length).map(<[u8]>::to_vec)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
