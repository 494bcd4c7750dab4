//! A small HTTPS client for what kubectl cannot do: requests without credentials, with
//! a made-up bearer token, or to a node endpoint. It trusts only the cluster CA (the
//! server's DIR/tls/ca.crt) and presents a client certificate only when given one.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls::pki_types::ServerName;
use wasmkube_pki::tls::TlsIdentity;

/// What an HTTPS server answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON (a Kubernetes Status, say), failing the test when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// Who the client is: nobody, a bearer token, or a client certificate.
#[derive(Clone, Copy)]
pub enum Credentials<'a> {
    None,
    BearerToken(&'a str),
    Certificate(&'a TlsIdentity),
}

/// The cluster CA, as the server wrote it.
pub fn cluster_authority(server_data_dir: &Path) -> String {
    std::fs::read_to_string(server_data_dir.join("tls").join("ca.crt"))
        .expect("the cluster CA certificate")
}

/// An error and its causes in one line, so that a TLS alert shows through hyper's error.
fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// Sends one HTTP/1.1 request over TLS to `address` and reads the whole answer. An `Err`
/// is a failure below HTTP (the TLS handshake, a refused certificate), in words.
pub fn request(
    authority_pem: &str,
    address: SocketAddr,
    credentials: Credentials<'_>,
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
) -> Result<Answer, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the request");
    runtime.block_on(async {
        let identity = match credentials {
            Credentials::Certificate(identity) => Some(identity),
            Credentials::None | Credentials::BearerToken(_) => None,
        };
        let config = wasmkube_pki::tls::client_config(authority_pem, identity, &[b"http/1.1"])
            .expect("client TLS settings");
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|error| error_chain(&error))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::IpAddress(address.ip().into()), tcp)
            .await
            .map_err(|error| error_chain(&error))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| error_chain(&error))?;
        tokio::spawn(connection);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, address.to_string())
            .header(http::header::ACCEPT, "application/json");
        if let Credentials::BearerToken(token) = credentials {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
            .expect("a well-formed request");
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| error_chain(&error))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| error_chain(&error))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    })
}

/// The client certificate and key a minted kubeconfig holds (base64 PEM in
/// `client-certificate-data` and `client-key-data`).
pub fn kubeconfig_identity(kubeconfig: &Path) -> TlsIdentity {
    let text = std::fs::read_to_string(kubeconfig).expect("the kubeconfig");
    let document: serde_json::Value = serde_yaml::from_str(&text).expect("a YAML kubeconfig");
    let user = &document["users"][0]["user"];
    // k8s-openapi's ByteString reads base64, as a kubeconfig's *-data fields are.
    let decode = |field: &str| {
        let bytes: k8s_openapi::ByteString = serde_json::from_value(user[field].clone())
            .unwrap_or_else(|error| panic!("{field} is not base64: {error}"));
        String::from_utf8(bytes.0).unwrap_or_else(|error| panic!("{field} is not PEM: {error}"))
    };
    TlsIdentity {
        certificate_chain_pem: decode("client-certificate-data"),
        private_key_pem: decode("client-key-data"),
    }
}
