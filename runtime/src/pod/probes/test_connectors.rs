//! Connectors for the probes' unit tests: real TCP connections to 127.0.0.1, standing in
//! for the pod network, and one whose connections never complete.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{PodPortConnector, ProbeConnection};

/// A "pod" whose IP is 127.0.0.1 and whose ports are the host's.
pub struct LoopbackConnector;

impl PodPortConnector for LoopbackConnector {
    fn pod_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    fn connect(&self, port: u16) -> BoxFuture<'_, io::Result<Box<dyn ProbeConnection>>> {
        async move {
            let stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
            Ok(Box::new(stream) as Box<dyn ProbeConnection>)
        }
        .boxed()
    }
}

/// A pod whose connections hang, as a dropped SYN does.
pub struct StalledConnector;

impl PodPortConnector for StalledConnector {
    fn pod_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    fn connect(&self, _port: u16) -> BoxFuture<'_, io::Result<Box<dyn ProbeConnection>>> {
        futures::future::pending().boxed()
    }
}

/// A TLS server configuration with the self-signed certificate in `testdata/`.
pub fn tls_server_config() -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certificates = CertificateDer::pem_slice_iter(include_bytes!("testdata/certificate.pem"))
        .collect::<Result<Vec<_>, _>>()
        .expect("the test certificate parses");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/key.pem"))
        .expect("the test key parses");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("a server configuration"),
    )
}
