//! The tunnel between node agents: how a pod reaches a pod of another node. Each node
//! listens on one port; a connection opens with a header line naming the shared secret,
//! the source and the destination pod address, the remote node delivers it to its pod
//! in memory and answers with one status line, and then the bytes flow unchanged. The
//! pod IPs are kept end to end (no NAT): the receiving pod sees the sender's pod IP.
//!
//! The secret proves that the peer is a node of this cluster; the link itself is plain
//! TCP until TLS comes to the node endpoints.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::ConnectError;
use super::node::NodeNetwork;
use super::pipe::VirtualStream;
use super::pod::BindScope;

const PROTOCOL: &str = "WASMKUBE-TUNNEL/1";
/// A header line longer than this is not a tunnel client's.
const MAX_HEADER: usize = 512;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the tunnel port until the listener fails.
pub async fn serve(listener: TcpListener, network: NodeNetwork) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let network = network.clone();
        tokio::spawn(async move {
            if let Err(error) = serve_one(stream, &network).await {
                tracing::debug!(%peer, "tunnel connection refused: {error}");
            }
        });
    }
}

async fn serve_one(stream: TcpStream, network: &NodeNetwork) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        (&mut reader).take(MAX_HEADER as u64).read_line(&mut header),
    )
    .await
    .map_err(|_| "no header in time".to_owned())?
    .map_err(|error| error.to_string())?;
    let (answer, delivered) = match accept_header(header.trim_end(), network) {
        Ok(stream) => ("OK", Some(stream)),
        Err(error) => (error.tunnel_word(), None),
    };
    let mut stream = reader.into_inner();
    stream
        .write_all(format!("{answer}\n").as_bytes())
        .await
        .map_err(|error| error.to_string())?;
    let Some(mut pod_end) = delivered else {
        return Err(format!("answered {answer}"));
    };
    let _ = tokio::io::copy_bidirectional(&mut stream, &mut pod_end).await;
    Ok(())
}

fn accept_header(header: &str, network: &NodeNetwork) -> Result<VirtualStream, ConnectError> {
    let fields: Vec<&str> = header.split(' ').collect();
    let [protocol, token, source, destination] = fields.as_slice() else {
        return Err(ConnectError::Denied);
    };
    let expected = network
        .shared
        .tunnel_token
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let authentic = expected.is_some_and(|expected| same_secret(token, &expected));
    if *protocol != PROTOCOL || !authentic {
        return Err(ConnectError::Denied);
    }
    let source: SocketAddr = source.parse().map_err(|_| ConnectError::Denied)?;
    let destination: SocketAddr = destination.parse().map_err(|_| ConnectError::Denied)?;
    let IpAddr::V4(ip) = destination.ip() else {
        return Err(ConnectError::Unreachable);
    };
    let pod = network.pod(ip).ok_or(ConnectError::Unreachable)?;
    pod.deliver(BindScope::PodIp, destination.port(), source)
}

/// Compares secrets in time independent of where they differ.
fn same_secret(offered: &str, expected: &str) -> bool {
    offered.len() == expected.len()
        && offered
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// Opens a tunnelled connection to a pod of the node listening at `tunnel`.
pub(super) async fn connect(
    tunnel: SocketAddr,
    token: &str,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<VirtualStream, ConnectError> {
    let handshake = async {
        let mut stream = TcpStream::connect(tunnel)
            .await
            .map_err(|_| ConnectError::Unreachable)?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(format!("{PROTOCOL} {token} {source} {destination}\n").as_bytes())
            .await
            .map_err(|_| ConnectError::Unreachable)?;
        let mut reader = BufReader::new(stream);
        let mut answer = String::new();
        (&mut reader)
            .take(MAX_HEADER as u64)
            .read_line(&mut answer)
            .await
            .map_err(|_| ConnectError::Unreachable)?;
        match answer.trim_end() {
            "OK" => Ok(reader),
            word => Err(ConnectError::from_tunnel_word(word)),
        }
    };
    let reader = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| ConnectError::TimedOut)??;
    // Bytes the remote pod sent right after the answer may sit in the reader's buffer.
    Ok(super::egress::bridge(reader))
}
