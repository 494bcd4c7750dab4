//! A certificate's subject as Kubernetes reads it: the common name is the user's name and
//! each organization one of the user's groups.

use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest, X509Name};

use crate::PkiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub common_name: String,
    pub organizations: Vec<String>,
}

impl Subject {
    pub fn new(common_name: impl Into<String>, organizations: &[&str]) -> Self {
        Self {
            common_name: common_name.into(),
            organizations: organizations
                .iter()
                .map(|&group| group.to_owned())
                .collect(),
        }
    }

    fn of_name(name: &X509Name<'_>) -> Result<Self, PkiError> {
        let text = |attribute: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attribute.as_str().map(str::to_owned).map_err(|error| {
                PkiError::Invalid(format!("a subject attribute is not text: {error}"))
            })
        };
        let common_name = match name.iter_common_name().next() {
            Some(attribute) => text(attribute)?,
            None => String::new(),
        };
        let organizations = name
            .iter_organization()
            .map(text)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            common_name,
            organizations,
        })
    }

    /// The subject of a DER certificate.
    pub fn of_certificate_der(der: &[u8]) -> Result<Self, PkiError> {
        let (_, certificate) = X509Certificate::from_der(der)
            .map_err(|error| PkiError::Invalid(format!("not an X.509 certificate: {error}")))?;
        Self::of_name(certificate.subject())
    }

    /// The subject a PEM certificate signing request asks for.
    pub fn of_request_pem(pem: &str) -> Result<Self, PkiError> {
        use rustls::pki_types::CertificateSigningRequestDer;
        use rustls::pki_types::pem::PemObject;
        let der =
            CertificateSigningRequestDer::from_pem_slice(pem.as_bytes()).map_err(|error| {
                PkiError::Invalid(format!(
                    "not a PEM certificate signing request (\"CERTIFICATE REQUEST\"): {error}"
                ))
            })?;
        let (_, request) = X509CertificationRequest::from_der(der.as_ref()).map_err(|error| {
            PkiError::Invalid(format!(
                "not a PKCS#10 certificate signing request: {error}"
            ))
        })?;
        Self::of_name(&request.certification_request_info.subject)
    }
}
