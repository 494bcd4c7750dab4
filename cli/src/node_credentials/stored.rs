//! The credentials a previous join left in the node's directory, and whether they are
//! still good to use: signed by the pinned CA, for this node, naming its addresses, with
//! their keys, and not about to expire.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use wasmkube_pki::authority::sha256_hex;
use wasmkube_pki::tls::{ClientCertificates, TlsIdentity};
use wasmkube_pki::{JoinToken, Subject, first_certificate_der};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::AUTHORITY_FILE;

/// A certificate this close to its end is replaced rather than reused.
const RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a certificate must be to be reused: its subject, and the names it must cover.
pub(super) struct Wanted<'a> {
    pub subject: &'a Subject,
    pub dns_names: &'a [String],
    pub addresses: &'a [IpAddr],
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Whether a certificate is signed by the CA, has the wanted subject, covers the wanted
/// names and stays valid for longer than `RENEW_BEFORE`.
pub(super) fn certificate_is_current(
    certificate_pem: &str,
    authority_pem: &str,
    wanted: &Wanted<'_>,
) -> bool {
    let (Ok(der), Ok(authority_der)) = (
        first_certificate_der(certificate_pem),
        first_certificate_der(authority_pem),
    ) else {
        return false;
    };
    let (Ok((_, certificate)), Ok((_, authority))) = (
        X509Certificate::from_der(&der),
        X509Certificate::from_der(&authority_der),
    ) else {
        return false;
    };
    let signed_by_authority = certificate
        .verify_signature(Some(authority.public_key()))
        .is_ok();
    let validity = certificate.validity();
    let renew_before = i64::try_from(RENEW_BEFORE.as_secs()).unwrap_or(i64::MAX);
    let fresh = validity.not_before.timestamp() <= unix_now()
        && validity.not_after.timestamp() > unix_now().saturating_add(renew_before);
    let subject_matches =
        Subject::of_certificate_der(&der).is_ok_and(|subject| subject == *wanted.subject);
    let names: Vec<GeneralName<'_>> = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|extension| extension.value.general_names.clone())
        .unwrap_or_default();
    let covers_names = wanted
        .dns_names
        .iter()
        .all(|wanted_name| names.contains(&GeneralName::DNSName(wanted_name)));
    let covers_addresses = wanted.addresses.iter().all(|address| {
        names.iter().any(|name| match name {
            GeneralName::IPAddress(bytes) => match address {
                IpAddr::V4(v4) => *bytes == v4.octets(),
                IpAddr::V6(v6) => *bytes == v6.octets(),
            },
            _ => false,
        })
    });
    signed_by_authority && fresh && subject_matches && covers_names && covers_addresses
}

/// Whether the key is the certificate's, as rustls checks when it loads them.
pub(super) fn key_matches(identity: &TlsIdentity, authority_pem: &str) -> bool {
    wasmkube_pki::tls::server_config(identity, authority_pem, ClientCertificates::Required, &[])
        .is_ok()
}

/// The CA kept in the directory, if it is the one the join token pins.
pub(super) fn stored_authority(
    directory: &Path,
    join_token: &JoinToken,
) -> anyhow::Result<Option<String>> {
    let Some(pem_text) = read_optional(&directory.join(AUTHORITY_FILE))? else {
        return Ok(None);
    };
    Ok(first_certificate_der(&pem_text)
        .is_ok_and(|der| sha256_hex(&der) == join_token.ca_sha256_hex)
        .then_some(pem_text))
}

/// A certificate and key kept in the directory, if they are still good to use.
pub(super) fn stored_identity(
    directory: &Path,
    certificate_file: &str,
    key_file: &str,
    authority_pem: &str,
    wanted: &Wanted<'_>,
) -> anyhow::Result<Option<TlsIdentity>> {
    let certificate = read_optional(&directory.join(certificate_file))?;
    let key = read_optional(&directory.join(key_file))?;
    let (Some(certificate_chain_pem), Some(private_key_pem)) = (certificate, key) else {
        return Ok(None);
    };
    let identity = TlsIdentity {
        certificate_chain_pem,
        private_key_pem,
    };
    Ok(
        (certificate_is_current(&identity.certificate_chain_pem, authority_pem, wanted)
            && key_matches(&identity, authority_pem))
        .then_some(identity),
    )
}
