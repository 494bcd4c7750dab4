//! Connections to the API server, driven by hyper's low-level client: no pool and no
//! client-side middleware, so what is measured is the server. A `Connection` is one
//! HTTP/1.1 keep-alive connection; a `SharedConnection` is one HTTP/2 connection (prior
//! knowledge, as on a plain-TCP listener) that carries many requests at once.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};

pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    host: String,
}

/// A response read to its end.
pub struct CompleteResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

async fn connect(address: SocketAddr) -> anyhow::Result<TokioIo<tokio::net::TcpStream>> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to the API server at {address}"))?;
    // Requests are small and latency is what is measured: send each at once.
    stream.set_nodelay(true)?;
    Ok(TokioIo::new(stream))
}

fn request(method: Method, uri: &str, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Full::new(body))?)
}

impl Connection {
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let (sender, connection) = http1::handshake(connect(address).await?).await?;
        tokio::spawn(async move {
            // The connection ends when its sender is dropped; an error then is the
            // server closing, which the next request on it reports.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: address.to_string(),
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
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let (sender, connection) =
            http2::handshake(TokioExecutor::new(), connect(address).await?).await?;
        tokio::spawn(async move {
            // As for HTTP/1.1: an error shows in the streams that were still open.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            base: format!("http://{address}"),
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
