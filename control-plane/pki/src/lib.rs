//! The cluster's public-key infrastructure, shared by the API server, the node agents and
//! the CLI: the cluster CA that signs every certificate (`authority`), subjects as
//! Kubernetes reads them (common name = user, organizations = groups, in `subject`), the
//! key pairs and certificate signing requests a node or a user makes (`signing_request`),
//! the rustls settings of every TLS endpoint (`tls`), the TLS listener they serve on
//! (`listener`) and the join token (`join_token`).

pub mod authority;
pub mod join_token;
pub mod listener;
pub mod signing_request;
pub mod subject;
pub mod tls;

pub use authority::{ClusterAuthority, IssuedCertificate, Usage};
pub use join_token::JoinToken;
pub use subject::Subject;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make or read a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Random bytes from the operating system, through ring as rustls uses it.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], PkiError> {
    use rustls::crypto::ring::default_provider;
    let mut bytes = [0u8; N];
    default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| PkiError::Invalid("the system's random source failed".to_owned()))?;
    Ok(bytes)
}

/// The DER of the first certificate in a PEM text.
pub fn first_certificate_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|error| PkiError::Invalid(format!("not a PEM certificate: {error}")))
}
