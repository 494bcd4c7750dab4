//! One HTTP/1.1 keep-alive connection to the API server, driven by hyper's low-level
//! client: no pool and no client-side middleware, so what is measured is the server.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// A response read to its end.
pub struct CompleteResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to the API server at {address}"))?;
        // Requests are small and latency is what is measured: send each at once.
        stream.set_nodelay(true)?;
        let (sender, connection) = handshake(TokioIo::new(stream)).await?;
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
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(body))?;
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
