//! The cluster CA: made on the server's first start (as k3s does), kept in the data
//! directory, and the signer of every certificate in the cluster: the API server's and
//! the nodes' serving certificates, and the client certificates of users and nodes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::tls::TlsIdentity;
use crate::{PkiError, Subject, random_bytes};

/// The group of every node's identity, as the kubelet's certificates carry it.
pub const NODES_GROUP: &str = "system:nodes";

/// The prefix of a node's user name: `system:node:<node name>`.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// How long the CA is valid: ten years, as kubeadm's and k3s's.
const AUTHORITY_VALIDITY: Duration = Duration::days(3650);

/// How long a leaf certificate is valid: one year, as kubeadm's and k3s's.
pub const LEAF_VALIDITY: Duration = Duration::days(365);

/// Certificates are valid from a little before they are made, so that a peer whose clock
/// is slightly behind still accepts them.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// What a certificate is for, which sets its extended key usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// A client certificate: TLS client authentication only.
    Client,
    /// A serving certificate: TLS server authentication only.
    Server,
    /// Both, for a node's tunnel, which dials and answers with the same identity.
    ClientAndServer,
}

/// A certificate with the private key it was made for, both in PEM.
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

pub struct ClusterAuthority {
    certificate_pem: String,
    certificate_der: Vec<u8>,
    key: KeyPair,
}

impl std::fmt::Debug for ClusterAuthority {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClusterAuthority")
            .field("sha256", &self.certificate_sha256_hex())
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a file whole (beside, synced, then renamed), readable by its owner only when
/// it holds a secret, so that a crash never leaves half a key behind.
pub fn write_file_atomically(path: &Path, contents: &str, secret: bool) -> Result<(), PkiError> {
    let error = |source| PkiError::File {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let temporary = path.with_extension("partial");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = secret;
        let mut file = options.open(&temporary).map_err(error)?;
        file.write_all(contents.as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
    }
    std::fs::rename(&temporary, path).map_err(error)
}

fn validity(params: &mut CertificateParams, length: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + length;
}

fn random_serial_number() -> Result<SerialNumber, PkiError> {
    // Positive and at most 20 octets, as RFC 5280 asks.
    let mut bytes = random_bytes::<16>()?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

fn distinguished_name(subject: &Subject) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for organization in &subject.organizations {
        name.push(DnType::OrganizationName, organization.as_str());
    }
    name.push(DnType::CommonName, subject.common_name.as_str());
    name
}

fn leaf_parameters(subject: &Subject, usage: Usage) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(subject);
    params.serial_number = Some(random_serial_number()?);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = match usage {
        Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Usage::ClientAndServer => vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ],
    };
    validity(&mut params, LEAF_VALIDITY);
    Ok(params)
}

/// The subject alternative names of a serving certificate.
pub fn alternative_names(
    dns_names: &[String],
    addresses: &[IpAddr],
) -> Result<Vec<SanType>, PkiError> {
    let mut names = Vec::new();
    for name in dns_names {
        let name = name
            .clone()
            .try_into()
            .map_err(|_| PkiError::Invalid(format!("{name:?} is not a DNS name")))?;
        names.push(SanType::DnsName(name));
    }
    names.extend(addresses.iter().copied().map(SanType::IpAddress));
    Ok(names)
}

impl ClusterAuthority {
    /// Loads the CA kept in `directory` (ca.crt, ca.key), making it on the first start.
    pub fn load_or_create(directory: &Path) -> Result<Self, PkiError> {
        let certificate_path = directory.join("ca.crt");
        let key_path = directory.join("ca.key");
        match (read(&certificate_path)?, read(&key_path)?) {
            (Some(certificate_pem), Some(key_pem)) => Self::from_pem(&certificate_pem, &key_pem),
            (None, None) => {
                let authority = Self::create("wasmkube-ca")?;
                // The key first: a certificate without its key would be unusable.
                write_file_atomically(&key_path, &authority.key.serialize_pem(), true)?;
                write_file_atomically(&certificate_path, &authority.certificate_pem, false)?;
                Ok(authority)
            }
            (Some(_), None) => Err(missing(&key_path, &certificate_path)),
            (None, Some(_)) => Err(missing(&certificate_path, &key_path)),
        }
    }

    /// A new CA, kept only in memory.
    pub fn create(common_name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        params.serial_number = Some(random_serial_number()?);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, AUTHORITY_VALIDITY);
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            certificate_der: certificate.der().to_vec(),
            key,
        })
    }

    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        Ok(Self {
            certificate_der: crate::first_certificate_der(certificate_pem)?,
            certificate_pem: certificate_pem.to_owned(),
            key: KeyPair::from_pem(key_pem)?,
        })
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The SHA-256 of the CA certificate's DER, in hex: what a join token pins (kubeadm's
    /// `--discovery-token-ca-cert-hash`, k3s's `K10` token prefix).
    pub fn certificate_sha256_hex(&self) -> String {
        sha256_hex(&self.certificate_der)
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, PkiError> {
        Ok(Issuer::from_ca_cert_der(
            &self.certificate_der.as_slice().into(),
            &self.key,
        )?)
    }

    /// A new key pair and a certificate for it.
    pub fn issue(
        &self,
        subject: &Subject,
        usage: Usage,
        dns_names: &[String],
        addresses: &[IpAddr],
    ) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = leaf_parameters(subject, usage)?;
        params.subject_alt_names = alternative_names(dns_names, addresses)?;
        let certificate = params.signed_by(&key, &self.issuer()?)?;
        Ok(IssuedCertificate {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
        })
    }

    /// A new key pair and its certificate as a TLS identity whose chain ends with the CA,
    /// so that a peer that has only a join token can find the CA the token pins.
    pub fn issue_identity(
        &self,
        subject: &Subject,
        usage: Usage,
        dns_names: &[String],
        addresses: &[IpAddr],
    ) -> Result<TlsIdentity, PkiError> {
        let issued = self.issue(subject, usage, dns_names, addresses)?;
        Ok(TlsIdentity {
            certificate_chain_pem: format!("{}{}", issued.certificate_pem, self.certificate_pem),
            private_key_pem: issued.private_key_pem,
        })
    }

    /// A node's two identities, both `system:node:<name>` in group `system:nodes`: the
    /// client one (first) it presents when it dials (the pod network's tunnel), and the
    /// serving one (second) for its node endpoint and tunnel, naming the node and its
    /// `addresses`, which the API server and the other nodes check it against. Each chain
    /// ends with the CA, as the API server's does.
    pub fn issue_node_identities(
        &self,
        node_name: &str,
        addresses: &[IpAddr],
    ) -> Result<(TlsIdentity, TlsIdentity), PkiError> {
        let subject = Subject::new(format!("{NODE_USER_PREFIX}{node_name}"), &[NODES_GROUP]);
        let client = self.issue_identity(&subject, Usage::Client, &[], &[])?;
        let serving =
            self.issue_identity(&subject, Usage::Server, &[node_name.to_owned()], addresses)?;
        Ok((client, serving))
    }

    /// Signs a PEM certificate signing request (after checking its signature) for the
    /// given usage. Only the request's subject and, for serving certificates, its
    /// alternative names are taken from it; the usage and validity are the signer's.
    pub fn sign_request(&self, request_pem: &str, usage: Usage) -> Result<String, PkiError> {
        let request = CertificateSigningRequestParams::from_pem(request_pem).map_err(|error| {
            PkiError::Invalid(format!(
                "not a valid PEM certificate signing request: {error}"
            ))
        })?;
        let subject = Subject::of_request_pem(request_pem)?;
        let mut params = leaf_parameters(&subject, usage)?;
        if usage != Usage::Client {
            params.subject_alt_names = request.params.subject_alt_names.clone();
        }
        let certificate = params.signed_by(&request.public_key, &self.issuer()?)?;
        Ok(certificate.pem())
    }
}

fn missing(absent: &Path, present: &Path) -> PkiError {
    PkiError::Invalid(format!(
        "{} is missing while {} exists: restore it, or remove both to make a new cluster CA",
        absent.display(),
        present.display()
    ))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where the data directory keeps the cluster's keys and certificates.
pub fn tls_directory(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}
