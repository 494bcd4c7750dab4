//! TLS for the tests: HTTPS clients that present a certificate of the cluster CA (the
//! admin's, or any subject's), and fake node agents that serve HTTPS with a node's
//! serving certificate, as the API server insists on both.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use wasmkube_control_plane::server::ControlPlane;
use wasmkube_pki::tls::{ClientCertificates, TlsIdentity};
use wasmkube_pki::{Subject, Usage};

pub type HttpsClient<B> = Client<HttpsConnector<HttpConnector>, B>;

/// A client identity of the cluster CA for `subject`.
pub fn identity(
    plane: &ControlPlane,
    subject: &Subject,
    usage: Usage,
    addresses: &[IpAddr],
) -> TlsIdentity {
    let issued = plane
        .authority
        .issue(subject, usage, &[], addresses)
        .expect("a certificate from the cluster CA");
    TlsIdentity {
        certificate_chain_pem: issued.certificate_pem,
        private_key_pem: issued.private_key_pem,
    }
}

/// The rustls client settings of `identity` (none: anonymous), trusting the cluster CA.
pub fn client_tls(
    plane: &ControlPlane,
    identity: Option<&TlsIdentity>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    wasmkube_pki::tls::client_config(plane.authority.certificate_pem(), identity, alpn)
        .expect("client TLS settings")
}

/// An HTTPS client (HTTP/1.1) acting as `identity`, or anonymous with `None`.
pub fn https_client_as<B>(plane: &ControlPlane, identity: Option<&TlsIdentity>) -> HttpsClient<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*client_tls(plane, identity, &[])).clone())
        .https_only()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// An HTTPS client acting as the admin (group system:masters).
pub fn admin_client<B>(plane: &ControlPlane) -> HttpsClient<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let admin = plane.admin_identity().expect("the admin's certificate");
    https_client_as(plane, Some(&admin))
}

/// A listener for axum that speaks TLS with a node's serving certificate and requires
/// client certificates of the cluster CA, as a node agent's endpoint does.
pub struct NodeAgentListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for NodeAgentListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, address) = axum::serve::Listener::accept(&mut self.tcp).await;
            if let Ok(stream) = self.acceptor.accept(stream).await {
                return (stream, address);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `app` as a fake node agent on a loopback port over TLS; answers the port.
pub async fn serve_node_agent(plane: &ControlPlane, app: axum::Router) -> u16 {
    let serving = identity(
        plane,
        &Subject::new("system:node:fake", &["system:nodes"]),
        Usage::Server,
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
    );
    let config = wasmkube_pki::tls::server_config(
        &serving,
        plane.authority.certificate_pem(),
        ClientCertificates::Required,
        &[b"http/1.1"],
    )
    .expect("node TLS settings");
    let tcp = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = tcp.local_addr().expect("the agent's address").port();
    let listener = NodeAgentListener {
        tcp,
        acceptor: TlsAcceptor::from(config),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A raw TLS connection to the API server as the admin, for tests that write HTTP by hand.
pub async fn admin_connection(
    plane: &ControlPlane,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let admin = plane.admin_identity().expect("the admin's certificate");
    let tcp = tokio::net::TcpStream::connect(plane.address)
        .await
        .expect("the API server accepts");
    tokio_rustls::TlsConnector::from(client_tls(plane, Some(&admin), &[b"http/1.1"]))
        .connect(rustls::pki_types::ServerName::from(plane.address.ip()), tcp)
        .await
        .expect("a TLS handshake with the API server")
}
