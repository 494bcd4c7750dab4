//! A new key pair and a certificate signing request for it: what a joining node sends
//! for its client certificate, and what `wasmkube` sends to mint a user's kubeconfig.

use std::net::IpAddr;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use crate::{PkiError, Subject};

pub struct SigningRequest {
    /// The request, in PEM ("CERTIFICATE REQUEST"), as a CertificateSigningRequest's
    /// spec.request carries it.
    pub request_pem: String,
    /// The private key, which never leaves the requester.
    pub private_key_pem: String,
}

pub fn generate(
    subject: &Subject,
    dns_names: &[String],
    addresses: &[IpAddr],
) -> Result<SigningRequest, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    for organization in &subject.organizations {
        name.push(DnType::OrganizationName, organization.as_str());
    }
    name.push(DnType::CommonName, subject.common_name.as_str());
    params.distinguished_name = name;
    params.subject_alt_names = crate::authority::alternative_names(dns_names, addresses)?;
    let request = params.serialize_request(&key)?;
    Ok(SigningRequest {
        request_pem: request.pem()?,
        private_key_pem: key.serialize_pem(),
    })
}
