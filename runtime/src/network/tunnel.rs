//! The tunnel between node agents: how a pod reaches a pod of another node. Each node
//! listens on one port. A connection is TLS both ways, rooted in the cluster CA: the
//! dialing node presents its client certificate, the listening node its serving
//! certificate (checked against the address it announced), and each accepts only a peer
//! in `system:nodes`. Inside, the connection opens with a header line naming the source
//! and the destination pod address; the remote node delivers it to its pod in memory and
//! answers with one status line, and then the bytes flow unchanged. The pod IPs are kept
//! end to end (no NAT): the receiving pod sees the sender's pod IP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wasmkube_pki::authority::NODES_GROUP;

use super::ConnectError;
use super::node::NodeNetwork;
use super::pipe::VirtualStream;
use super::pod::BindScope;

/// The header line's first word. Version 2: TLS with node certificates replaced the
/// shared token that version 1's header carried.
pub const PROTOCOL: &str = "WASMKUBE-TUNNEL/2";
/// The one application protocol (ALPN) both ends of a tunnel offer, so that a client of
/// another port (the node endpoint's HTTP) is refused in the handshake.
pub const ALPN_PROTOCOL: &[u8] = b"wasmkube-tunnel/2";
/// A header line longer than this is not a tunnel client's.
const MAX_HEADER: usize = 512;
/// How long the TLS handshake and the header exchange may take together.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the tunnel port until the listener fails.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, network: NodeNetwork) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let network = network.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(error) = serve_one(stream, &acceptor, &network).await {
                tracing::debug!(%peer, "tunnel connection refused: {error}");
            }
        });
    }
}

/// Whether the peer's certificate (verified against the cluster CA in the handshake)
/// names a node.
fn is_node(peer_certificates: Option<&[CertificateDer<'_>]>) -> bool {
    wasmkube_pki::tls::peer_subject(peer_certificates).is_some_and(|subject| {
        subject
            .organizations
            .iter()
            .any(|group| group == NODES_GROUP)
    })
}

async fn serve_one(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    network: &NodeNetwork,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let handshake = async {
        let stream = acceptor
            .accept(stream)
            .await
            .map_err(|error| format!("TLS handshake: {error}"))?;
        let peer_is_node = is_node(stream.get_ref().1.peer_certificates());
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        (&mut reader)
            .take(MAX_HEADER as u64)
            .read_line(&mut header)
            .await
            .map_err(|error| error.to_string())?;
        Ok::<_, String>((reader, header, peer_is_node))
    };
    let (reader, header, peer_is_node) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| "no TLS handshake and header in time".to_owned())??;
    let accepted = if peer_is_node {
        accept_header(header.trim_end(), network)
    } else {
        Err(ConnectError::Denied)
    };
    let (answer, delivered) = match accepted {
        Ok(stream) => ("OK", Some(stream)),
        Err(error) => (error.tunnel_word(), None),
    };
    let mut stream = reader.into_inner();
    stream
        .write_all(format!("{answer}\n").as_bytes())
        .await
        .map_err(|error| error.to_string())?;
    let Some(mut pod_end) = delivered else {
        let _ = stream.shutdown().await;
        return Err(if peer_is_node {
            format!("answered {answer}")
        } else {
            format!("answered {answer}: the peer's certificate is not a node's")
        });
    };
    let _ = tokio::io::copy_bidirectional(&mut stream, &mut pod_end).await;
    Ok(())
}

fn accept_header(header: &str, network: &NodeNetwork) -> Result<VirtualStream, ConnectError> {
    let fields: Vec<&str> = header.split(' ').collect();
    let [protocol, source, destination] = fields.as_slice() else {
        return Err(ConnectError::Denied);
    };
    if *protocol != PROTOCOL {
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

/// Opens a tunnelled connection to a pod of the node listening at `tunnel`.
pub(super) async fn connect(
    tunnel: SocketAddr,
    tls: &Arc<rustls::ClientConfig>,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<VirtualStream, ConnectError> {
    let handshake = async {
        let stream = TcpStream::connect(tunnel)
            .await
            .map_err(|_| ConnectError::Unreachable)?;
        let _ = stream.set_nodelay(true);
        // The remote node's serving certificate must name the address it announced.
        let server_name = ServerName::IpAddress(tunnel.ip().into());
        let stream = TlsConnector::from(Arc::clone(tls))
            .connect(server_name, stream)
            .await
            .map_err(|error| {
                tracing::debug!(%tunnel, %error, "the TLS handshake with a node's tunnel failed");
                ConnectError::Denied
            })?;
        if !is_node(stream.get_ref().1.peer_certificates()) {
            tracing::debug!(%tunnel, "the tunnel's certificate is not a node's");
            return Err(ConnectError::Denied);
        }
        exchange_header(stream, source, destination).await
    };
    let reader = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| ConnectError::TimedOut)??;
    // Bytes the remote pod sent right after the answer may sit in the reader's buffer.
    Ok(super::egress::bridge(reader))
}

/// Sends the header line and reads the answer; on `OK`, the stream is the pod's.
async fn exchange_header<S>(
    mut stream: S,
    source: SocketAddr,
    destination: SocketAddr,
) -> Result<BufReader<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(format!("{PROTOCOL} {source} {destination}\n").as_bytes())
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
}
