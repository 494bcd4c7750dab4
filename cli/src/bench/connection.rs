//! Connections to the API server, driven by hyper's low-level client: no pool and no
//! client-side middleware, so what is measured is the server. Every connection speaks TLS
//! with the cluster CA and presents the admin's client certificate, as kubectl with the
//! admin kubeconfig does. A `Connection` is one HTTP/1.1 keep-alive connection (ALPN
//! "http/1.1"); a `SharedConnection` is one HTTP/2 connection (ALPN "h2") that carries
//! many requests at once.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use wasmkube_control_plane::server::ControlPlane;

const HTTP1_ALPN: &[u8] = b"http/1.1";
const HTTP2_ALPN: &[u8] = b"h2";

/// The API server and how the benchmark's connections reach it: TLS that trusts only the
/// cluster CA, and the admin's client certificate (group system:masters). Cloning it
/// shares the TLS settings, so every connection presents the same certificate.
#[derive(Clone)]
pub struct ApiServerEndpoint {
    pub address: SocketAddr,
    /// The name the server's certificate must carry: its loopback address.
    server_name: ServerName<'static>,
    /// Offers only "http/1.1", so the server cannot pick HTTP/2 for these connections.
    http1: TlsConnector,
    /// Offers only "h2", as a client that knows the server speaks HTTP/2.
    http2: TlsConnector,
}

impl ApiServerEndpoint {
    /// The control plane's API server, reached as its admin with a new client certificate.
    pub fn admin_of(control_plane: &ControlPlane) -> anyhow::Result<Self> {
        let admin = control_plane
            .admin_identity()
            .context("cannot issue the admin's client certificate")?;
        let authority = control_plane.authority.certificate_pem();
        let settings = |alpn: &[u8]| {
            wasmkube_pki::tls::client_config(authority, Some(&admin), &[alpn])
                .map(TlsConnector::from)
                .context("cannot set up TLS for the API server's clients")
        };
        Ok(Self {
            address: control_plane.address,
            server_name: ServerName::from(control_plane.address.ip()),
            http1: settings(HTTP1_ALPN)?,
            http2: settings(HTTP2_ALPN)?,
        })
    }

    async fn connect(
        &self,
        tls: &TlsConnector,
    ) -> anyhow::Result<TokioIo<TlsStream<tokio::net::TcpStream>>> {
        let address = self.address;
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to the API server at {address}"))?;
        // Requests are small and latency is what is measured: send each at once.
        stream.set_nodelay(true)?;
        let stream = tls
            .connect(self.server_name.clone(), stream)
            .await
            .with_context(|| {
                format!("the TLS handshake with the API server at {address} failed")
            })?;
        Ok(TokioIo::new(stream))
    }
}

/// The application protocol the server chose in the handshake.
fn negotiated_protocol(stream: &TokioIo<TlsStream<tokio::net::TcpStream>>) -> Option<&[u8]> {
    stream.inner().get_ref().1.alpn_protocol()
}

fn request(method: Method, uri: &str, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Full::new(body))?)
}

pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    host: String,
}

/// A response read to its end.
pub struct CompleteResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Connection {
    pub async fn open(endpoint: &ApiServerEndpoint) -> anyhow::Result<Self> {
        let stream = endpoint.connect(&endpoint.http1).await?;
        let (sender, connection) = http1::handshake(stream).await?;
        tokio::spawn(async move {
            // The connection ends when its sender is dropped; an error then is the
            // server closing, which the next request on it reports.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: endpoint.address.to_string(),
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Response<Incoming>> {
        let mut request = request(method, path, body)?;
        request
            .headers_mut()
            .insert(header::HOST, self.host.parse()?);
        self.sender.ready().await?;
        Ok(self.sender.send_request(request).await?)
    }

    /// POSTs a JSON body and reads the whole answer.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> anyhow::Result<CompleteResponse> {
        let response = self.send(Method::POST, path, body).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(CompleteResponse { status, body })
    }

    /// GETs a path and hands back the response as soon as its head arrives, for a stream
    /// (a watch) to be read from its body. The connection then belongs to that stream.
    pub async fn get_streaming(mut self, path: &str) -> anyhow::Result<Response<Incoming>> {
        self.send(Method::GET, path, Bytes::new()).await
    }
}

pub struct SharedConnection {
    sender: http2::SendRequest<Full<Bytes>>,
    /// The scheme and authority, which HTTP/2 sends as pseudo-headers taken from the URI.
    base: String,
}

impl SharedConnection {
    pub async fn open(endpoint: &ApiServerEndpoint) -> anyhow::Result<Self> {
        let stream = endpoint.connect(&endpoint.http2).await?;
        // A server that ignored the offer would answer HTTP/2's preface as HTTP/1.1.
        anyhow::ensure!(
            negotiated_protocol(&stream) == Some(HTTP2_ALPN),
            "the API server at {} did not agree to HTTP/2 in the TLS handshake",
            endpoint.address
        );
        let (sender, connection) = http2::handshake(TokioExecutor::new(), stream).await?;
        tokio::spawn(async move {
            // As for HTTP/1.1: an error shows in the streams that were still open.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            base: format!("https://{}", endpoint.address),
        })
    }

    /// GETs a path on a new stream of this connection and hands back the response as
    /// soon as its head arrives; the connection goes on carrying other streams.
    pub async fn get_streaming(&self, path: &str) -> anyhow::Result<Response<Incoming>> {
        let request = request(Method::GET, &format!("{}{path}", self.base), Bytes::new())?;
        let mut sender = self.sender.clone();
        sender.ready().await?;
        Ok(sender.send_request(request).await?)
    }
}
