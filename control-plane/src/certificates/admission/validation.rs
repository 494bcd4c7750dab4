//! CertificateSigningRequest validation, as `pkg/apis/certificates/validation`: the request
//! must be a signed PKCS#10 request, usages known and distinct, the signer name a
//! `domain/path`, conditions well-formed; updates may not remove Approved, Denied or
//! Failed conditions, and only the approval subresource may set the first two, only the
//! status subresource the certificate.

use base64::Engine;
use serde_json::{Value, json};
use wasmkube_admission::{FieldError, NameRule, go_quote};

use crate::certificates::{
    CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED, LEGACY_UNKNOWN_SIGNER, request,
};

/// Every key usage Kubernetes knows (`allValidUsages`), sorted as its error lists them.
const VALID_USAGES: &[&str] = &[
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// The condition types that may only be True.
const TRUE_ONLY_CONDITIONS: &[&str] = &[CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED];

const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
const DNS1123_LABEL_MAX_LENGTH: usize = 63;

/// What a write may do beyond a plain create (Kubernetes' `certificateValidationOptions`):
/// the subresources' capabilities, and what is tolerated because the stored object has it
/// already.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValidationOptions {
    pub allow_setting_approval_conditions: bool,
    pub allow_setting_certificate: bool,
    allow_both_approved_and_denied: bool,
    allow_legacy_signer_name: bool,
    allow_duplicate_condition_types: bool,
    allow_empty_condition_type: bool,
    allow_arbitrary_certificate: bool,
    allow_unknown_usages: bool,
    allow_duplicate_usages: bool,
}

pub(super) fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) fn usages(object: &Value) -> Vec<&str> {
    object
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|usage| usage.as_str().unwrap_or_default())
        .collect()
}

pub(super) fn conditions(object: &Value) -> &[Value] {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn condition_type(condition: &Value) -> &str {
    text(condition, "/type")
}

fn conditions_of_type<'a>(object: &'a Value, wanted: &str) -> Vec<&'a Value> {
    conditions(object)
        .iter()
        .filter(|condition| condition_type(condition) == wanted)
        .collect()
}

/// A `[]byte` field's bytes (base64 in JSON).
pub(super) fn bytes_field(object: &Value, pointer: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text(object, pointer))
        .map_err(|error| format!("illegal base64 data: {error}"))
}

fn has_duplicates<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    values.into_iter().any(|value| !seen.insert(value))
}

impl ValidationOptions {
    /// Kubernetes' `getValidationOptions`: tolerate on update what the stored object has.
    pub fn for_write(new: &Value, old: Option<&Value>) -> Self {
        let Some(old) = old else {
            return Self::default();
        };
        let old_types: Vec<&str> = conditions(old).iter().map(condition_type).collect();
        let old_certificate = bytes_field(old, "/status/certificate").unwrap_or_default();
        let new_certificate = bytes_field(new, "/status/certificate").unwrap_or_default();
        Self {
            allow_both_approved_and_denied: old_types.contains(&CONDITION_APPROVED)
                && old_types.contains(&CONDITION_DENIED),
            allow_legacy_signer_name: text(old, "/spec/signerName") == LEGACY_UNKNOWN_SIGNER,
            allow_duplicate_condition_types: has_duplicates(old_types.iter().copied()),
            allow_empty_condition_type: old_types.contains(&""),
            allow_arbitrary_certificate: new_certificate == old_certificate
                || validate_certificate(&old_certificate).is_err(),
            allow_unknown_usages: usages(old)
                .iter()
                .any(|usage| !VALID_USAGES.contains(usage)),
            allow_duplicate_usages: has_duplicates(usages(old)),
            ..Self::default()
        }
    }
}

/// Kubernetes' `ValidateSignerName`: `<domain>/<path>`, the domain of DNS labels with at
/// least one dot, the path of DNS subdomains.
pub fn validate_signer_name(signer_name: &str) -> Vec<FieldError> {
    const FIELD: &str = "spec.signerName";
    if signer_name.is_empty() {
        return vec![FieldError::required(FIELD, "")];
    }
    let segments: Vec<&str> = signer_name.split('/').collect();
    let [domain, path] = segments.as_slice() else {
        return vec![FieldError::invalid(
            FIELD,
            json!(signer_name),
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    let mut errors = Vec::new();
    if domain.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errors.push(FieldError::too_long(FIELD, DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let domain_labels: Vec<&str> = domain.split('.').collect();
    let label_errors = |segment: &str, labels: &[&str], rule: NameRule| -> Vec<FieldError> {
        for label in labels {
            let problems = rule.problems(label, false);
            if !problems.is_empty() {
                return problems
                    .into_iter()
                    .map(|problem| {
                        FieldError::invalid(
                            FIELD,
                            json!(segment),
                            format!("validating label {}: {problem}", go_quote(label)),
                        )
                    })
                    .collect();
            }
        }
        Vec::new()
    };
    errors.extend(label_errors(domain, &domain_labels, NameRule::Dns1123Label));
    if domain_labels.len() < 2 {
        errors.push(FieldError::invalid(
            FIELD,
            json!(domain),
            "should be a domain with at least two segments separated by dots",
        ));
    }
    let path_labels: Vec<&str> = path.split('.').collect();
    errors.extend(label_errors(path, &path_labels, NameRule::Dns1123Subdomain));
    let max_path_length = DNS1123_SUBDOMAIN_MAX_LENGTH + DNS1123_LABEL_MAX_LENGTH + 1;
    let max_length = DNS1123_SUBDOMAIN_MAX_LENGTH + max_path_length + 1;
    if signer_name.len() > max_length {
        errors.push(FieldError::too_long(FIELD, max_length));
    }
    errors
}

/// Kubernetes' `validateCertificate`: PEM CERTIFICATE blocks only, no headers, each an
/// X.509 certificate, at least one. Empty content is no certificate, which is valid.
pub fn validate_certificate(pem_data: &[u8]) -> Result<(), String> {
    if pem_data.is_empty() {
        return Ok(());
    }
    let blocks = pem::parse_many(pem_data).map_err(|error| error.to_string())?;
    if blocks.is_empty() {
        return Err("must contain at least one CERTIFICATE PEM block".to_owned());
    }
    for block in &blocks {
        if block.tag() != "CERTIFICATE" {
            return Err(format!(
                "only CERTIFICATE PEM blocks are allowed, found {}",
                go_quote(block.tag())
            ));
        }
        if block.headers().iter().next().is_some() {
            return Err("no PEM block headers are permitted".to_owned());
        }
        x509_parser::parse_x509_certificate(block.contents())
            .map_err(|error| format!("x509: malformed certificate: {error}"))?;
    }
    Ok(())
}

fn validate_conditions(object: &Value, options: &ValidationOptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen_types = std::collections::BTreeSet::new();
    let (mut has_approved, mut has_denied) = (false, false);
    for (index, condition) in conditions(object).iter().enumerate() {
        let path = format!("status.conditions[{index}]");
        let kind = condition_type(condition);
        if !options.allow_empty_condition_type && kind.is_empty() {
            errors.push(FieldError::required(format!("{path}.type"), ""));
        }
        let allowed: &[&str] = if TRUE_ONLY_CONDITIONS.contains(&kind) {
            &["True"]
        } else {
            &["False", "True", "Unknown"]
        };
        let status = text(condition, "/status");
        if status.is_empty() {
            errors.push(FieldError::required(format!("{path}.status"), ""));
        } else if !allowed.contains(&status) {
            errors.push(FieldError::not_supported(
                format!("{path}.status"),
                json!(status),
                allowed,
            ));
        }
        if !options.allow_both_approved_and_denied {
            let exclusive = match kind {
                CONDITION_APPROVED => {
                    has_approved = true;
                    has_denied
                }
                CONDITION_DENIED => {
                    has_denied = true;
                    has_approved
                }
                _ => false,
            };
            if exclusive {
                errors.push(FieldError::invalid(
                    format!("{path}.type"),
                    json!(kind),
                    "Approved and Denied conditions are mutually exclusive",
                ));
            }
        }
        if !options.allow_duplicate_condition_types && !seen_types.insert(kind) {
            errors.push(FieldError::duplicate(format!("{path}.type"), json!(kind)));
        }
    }
    errors
}

/// `validateCertificateSigningRequest`, without the metadata (the API server's generic
/// admission validates that).
pub fn validate(object: &Value, options: &ValidationOptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let parsed = bytes_field(object, "/spec/request")
        .and_then(|request_bytes| request::parse(&request_bytes, true));
    if let Err(error) = parsed {
        errors.push(FieldError::invalid(
            "spec.request",
            json!(text(object, "/spec/request")),
            error,
        ));
    }
    let requested_usages = usages(object);
    if requested_usages.is_empty() {
        errors.push(FieldError::required("spec.usages", ""));
    }
    if !options.allow_unknown_usages {
        for (index, usage) in requested_usages.iter().enumerate() {
            if !VALID_USAGES.contains(usage) {
                errors.push(FieldError::not_supported(
                    format!("spec.usages[{index}]"),
                    json!(usage),
                    VALID_USAGES,
                ));
            }
        }
    }
    if !options.allow_duplicate_usages {
        let mut seen = std::collections::BTreeSet::new();
        for (index, usage) in requested_usages.iter().enumerate() {
            if !seen.insert(*usage) {
                errors.push(FieldError::duplicate(
                    format!("spec.usages[{index}]"),
                    json!(usage),
                ));
            }
        }
    }
    let signer_name = text(object, "/spec/signerName");
    if !options.allow_legacy_signer_name && signer_name == LEGACY_UNKNOWN_SIGNER {
        errors.push(FieldError::invalid(
            "spec.signerName",
            json!(signer_name),
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        errors.extend(validate_signer_name(signer_name));
    }
    if let Some(seconds) = object
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .filter(|seconds| *seconds < 600)
    {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(seconds),
            "may not specify a duration less than 600 seconds (10 minutes)",
        ));
    }
    errors.extend(validate_conditions(object, options));
    if !options.allow_arbitrary_certificate {
        let certificate = bytes_field(object, "/status/certificate")
            .and_then(|certificate| validate_certificate(&certificate));
        if let Err(error) = certificate {
            errors.push(FieldError::invalid(
                "status.certificate",
                json!("<certificate data>"),
                error,
            ));
        }
    }
    errors
}

/// `validateCertificateSigningRequestUpdate`: the object as on create, and what an update
/// may not change.
pub fn validate_update(new: &Value, old: &Value, options: &ValidationOptions) -> Vec<FieldError> {
    let mut errors = validate(new, options);
    for kind in [CONDITION_APPROVED, CONDITION_DENIED, CONDITION_FAILED] {
        if conditions_of_type(new, kind).len() < conditions_of_type(old, kind).len() {
            errors.push(FieldError::forbidden(
                "status.conditions",
                format!(
                    "updates may not remove a condition of type {}",
                    go_quote(kind)
                ),
            ));
        }
    }
    if !options.allow_setting_approval_conditions {
        for kind in [CONDITION_APPROVED, CONDITION_DENIED] {
            let (old_conditions, new_conditions) =
                (conditions_of_type(old, kind), conditions_of_type(new, kind));
            if new_conditions.len() > old_conditions.len() {
                errors.push(FieldError::forbidden(
                    "status.conditions",
                    format!("updates may not add a condition of type {}", go_quote(kind)),
                ));
            } else if new_conditions.len() == old_conditions.len()
                && new_conditions != old_conditions
            {
                errors.push(FieldError::forbidden(
                    "status.conditions",
                    format!(
                        "updates may not modify a condition of type {}",
                        go_quote(kind)
                    ),
                ));
            }
        }
    }
    let new_certificate = bytes_field(new, "/status/certificate").unwrap_or_default();
    let old_certificate = bytes_field(old, "/status/certificate").unwrap_or_default();
    if new_certificate != old_certificate {
        if !options.allow_setting_certificate {
            errors.push(FieldError::forbidden(
                "status.certificate",
                "updates may not set certificate content",
            ));
        } else if !old_certificate.is_empty() {
            errors.push(FieldError::forbidden(
                "status.certificate",
                "updates may not modify existing certificate content",
            ));
        }
    }
    errors
}
