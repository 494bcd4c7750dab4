//! The rustls settings of the cluster's TLS endpoints (the API server, the node endpoint,
//! the pod network's tunnel) and of their clients, all rooted in the cluster CA, with
//! ring as the one crypto provider.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::authority::sha256_hex;
use crate::{PkiError, Subject};

/// A certificate chain and its private key, as a TLS endpoint presents them.
#[derive(Clone)]
pub struct TlsIdentity {
    pub certificate_chain_pem: String,
    pub private_key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsIdentity")
            .finish_non_exhaustive()
    }
}

/// Whether a server asks its clients for certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Asked for but optional: the API server, whose clients may use tokens instead.
    Optional,
    /// Required: the node endpoint and the tunnel, which only the cluster's own parts call.
    Required,
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| PkiError::Invalid(format!("not PEM certificates: {error}")))?;
    if chain.is_empty() {
        return Err(PkiError::Invalid(
            "no certificate in the PEM text".to_owned(),
        ));
    }
    Ok(chain)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|error| PkiError::Invalid(format!("not a PEM private key: {error}")))
}

/// The trust anchors of a PEM bundle of CA certificates.
pub fn root_store(authority_pem: &str) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(authority_pem)? {
        roots.add(certificate)?;
    }
    Ok(Arc::new(roots))
}

/// A server's settings: its identity, and clients' certificates checked against the
/// cluster CA. `alpn` lists the application protocols it offers, most preferred first.
pub fn server_config(
    identity: &TlsIdentity,
    authority_pem: &str,
    client_certificates: ClientCertificates,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = Arc::new(default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(root_store(authority_pem)?, provider.clone());
    let verifier = match client_certificates {
        ClientCertificates::Optional => verifier.allow_unauthenticated(),
        ClientCertificates::Required => verifier,
    }
    .build()
    .map_err(|error| PkiError::Invalid(format!("cannot check client certificates: {error}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certificates(&identity.certificate_chain_pem)?,
            private_key(&identity.private_key_pem)?,
        )?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client's settings: servers checked against the cluster CA, and the client's own
/// certificate when it has one.
pub fn client_config(
    authority_pem: &str,
    identity: Option<&TlsIdentity>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, PkiError> {
    let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(authority_pem)?);
    let mut config = match identity {
        Some(identity) => builder.with_client_auth_cert(
            certificates(&identity.certificate_chain_pem)?,
            private_key(&identity.private_key_pem)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The subject of the certificate a TLS peer presented (already verified by rustls
/// against the cluster CA), if it presented one.
pub fn peer_subject(peer_certificates: Option<&[CertificateDer<'_>]>) -> Option<Subject> {
    let end_entity = peer_certificates?.first()?;
    Subject::of_certificate_der(end_entity.as_ref()).ok()
}

/// Trusts a server whose chain includes a CA with a known SHA-256 (a join token's pin)
/// that signed its certificate, and remembers that CA. This is how a joining node, which
/// has only the join token, learns the cluster CA without trusting the network.
#[derive(Debug)]
pub struct PinnedAuthorityVerifier {
    ca_sha256_hex: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
    found: Mutex<Option<CertificateDer<'static>>>,
}

impl PinnedAuthorityVerifier {
    pub fn new(ca_sha256_hex: &str) -> Arc<Self> {
        Arc::new(Self {
            ca_sha256_hex: ca_sha256_hex.to_ascii_lowercase(),
            provider: Arc::new(default_provider()),
            found: Mutex::new(None),
        })
    }

    /// A client configuration that trusts only such a server.
    pub fn client_config(self: &Arc<Self>) -> Result<Arc<ClientConfig>, PkiError> {
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The pinned CA in PEM, once a handshake has found it.
    pub fn authority_pem(&self) -> Option<String> {
        let found = self.found.lock().ok()?.clone()?;
        Some(pem::encode(&pem::Pem::new("CERTIFICATE", found.to_vec())))
    }
}

impl ServerCertVerifier for PinnedAuthorityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = intermediates
            .iter()
            .find(|certificate| sha256_hex(certificate.as_ref()) == self.ca_sha256_hex)
            .ok_or_else(|| {
                rustls::Error::General(
                    "the server's certificate chain has no CA with the join token's hash"
                        .to_owned(),
                )
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(pinned.clone().into_owned())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|error| rustls::Error::General(error.to_string()))?;
        let verified =
            verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)?;
        if let Ok(mut found) = self.found.lock() {
            *found = Some(pinned.clone().into_owned());
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
