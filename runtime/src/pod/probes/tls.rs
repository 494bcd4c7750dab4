//! TLS for `scheme: HTTPS` probes. The kubelet does not verify the container's
//! certificate (its probes use `InsecureSkipVerify`): a probe asks whether the server
//! answers, not who it is. The handshake's signatures are still checked, so the peer must
//! hold the key of the certificate it shows.

use std::sync::{Arc, OnceLock};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::ProbeConnection;

/// Accepts any certificate, checking only the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The probes' TLS client configuration, built once per process.
fn connector() -> Result<TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            });
            let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|error| format!("cannot set up TLS: {error}"))?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map(TlsConnector::from)
}

/// Starts TLS on a connection to `host`. A name is sent as SNI; an IP address is not (as
/// Go's client does).
pub async fn start_tls(
    connection: Box<dyn ProbeConnection>,
    host: &str,
) -> Result<TlsStream<Box<dyn ProbeConnection>>, String> {
    let connector = connector()?;
    let server_name = ServerName::try_from(host.to_owned())
        .map_err(|error| format!("invalid TLS server name {host:?}: {error}"))?;
    connector
        .connect(server_name, connection)
        .await
        .map_err(|error| format!("tls: {error}"))
}
