//! A CertificateSigningRequest's PKCS#10 request, parsed as Kubernetes' `ParseCSR` does,
//! and the checks Kubernetes' built-in signers make of the requests they accept
//! (`ValidateKubeletClientCSR`, `ValidateKubeletServingCSR`, the kube-apiserver-client
//! signer's usages), with Kubernetes' messages.

use std::collections::BTreeSet;
use std::net::IpAddr;

use wasmkube_pki::Subject;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

use super::{
    NODE_USER_PREFIX, NODES_GROUP, USAGE_CLIENT_AUTH, USAGE_DIGITAL_SIGNATURE,
    USAGE_KEY_ENCIPHERMENT, USAGE_SERVER_AUTH,
};

/// What a certificate request asks for: its subject and alternative names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRequest {
    pub subject: Subject,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
}

impl ParsedRequest {
    /// A request for `subject` with no alternative names.
    pub fn of_subject(subject: Subject) -> Self {
        Self {
            subject,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            email_addresses: Vec::new(),
            uris: Vec::new(),
        }
    }
}

fn not_a_request() -> String {
    "PEM block type must be CERTIFICATE REQUEST".to_owned()
}

fn ip_address(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Parses the first PEM block of `request` as a PKCS#10 request; with
/// `check_signature`, also checks the request's self-signature (`CheckSignature`), which
/// proves the requester holds the private key.
pub fn parse(request: &[u8], check_signature: bool) -> Result<ParsedRequest, String> {
    let block = pem::parse(request).map_err(|_| not_a_request())?;
    if block.tag() != "CERTIFICATE REQUEST" {
        return Err(not_a_request());
    }
    let (_, parsed) = X509CertificationRequest::from_der(block.contents())
        .map_err(|error| format!("x509: malformed certificate request: {error}"))?;
    if check_signature {
        parsed
            .verify_signature()
            .map_err(|error| format!("x509: invalid signature: {error}"))?;
    }
    let pem_text = pem::encode(&block);
    let subject = Subject::of_request_pem(&pem_text).map_err(|error| error.to_string())?;
    let mut result = ParsedRequest::of_subject(subject);
    for extension in parsed.requested_extensions().into_iter().flatten() {
        let ParsedExtension::SubjectAlternativeName(names) = extension else {
            continue;
        };
        for name in &names.general_names {
            match name {
                GeneralName::DNSName(dns_name) => result.dns_names.push((*dns_name).to_owned()),
                GeneralName::RFC822Name(email) => result.email_addresses.push((*email).to_owned()),
                GeneralName::URI(uri) => result.uris.push((*uri).to_owned()),
                GeneralName::IPAddress(bytes) => match ip_address(bytes) {
                    Some(address) => result.ip_addresses.push(address),
                    None => {
                        return Err(format!(
                            "x509: cannot parse IP address of length {}",
                            bytes.len()
                        ));
                    }
                },
                _ => {}
            }
        }
    }
    Ok(result)
}

/// Usages as a set, as Kubernetes compares them (`usagesToSet`).
fn usage_set<'a>(usages: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    usages.into_iter().collect()
}

/// Go's `%v` of a sorted string set: `[a b c]`.
fn listed(usages: &[&str]) -> String {
    let mut sorted = usages.to_vec();
    sorted.sort_unstable();
    format!("[{}]", sorted.join(" "))
}

fn organization_is_system_nodes(request: &ParsedRequest) -> Result<(), String> {
    if request.subject.organizations != [NODES_GROUP] {
        return Err("subject organization is not system:nodes".to_owned());
    }
    Ok(())
}

fn common_name_is_a_node(request: &ParsedRequest) -> Result<(), String> {
    if !request.subject.common_name.starts_with(NODE_USER_PREFIX) {
        return Err("subject common name does not begin with system:node:".to_owned());
    }
    Ok(())
}

/// Kubernetes' `ValidateKubeletClientCSR`: a node's client certificate.
pub fn validate_kubelet_client(request: &ParsedRequest, usages: &[&str]) -> Result<(), String> {
    organization_is_system_nodes(request)?;
    if !request.dns_names.is_empty() {
        return Err("DNS subjectAltNames are not allowed".to_owned());
    }
    if !request.email_addresses.is_empty() {
        return Err("Email subjectAltNames are not allowed".to_owned());
    }
    if !request.ip_addresses.is_empty() {
        return Err("IP subjectAltNames are not allowed".to_owned());
    }
    if !request.uris.is_empty() {
        return Err("URI subjectAltNames are not allowed".to_owned());
    }
    common_name_is_a_node(request)?;
    let required = [
        USAGE_DIGITAL_SIGNATURE,
        USAGE_KEY_ENCIPHERMENT,
        USAGE_CLIENT_AUTH,
    ];
    let required_without_rsa = [USAGE_DIGITAL_SIGNATURE, USAGE_CLIENT_AUTH];
    let given = usage_set(usages.iter().copied());
    if given != usage_set(required) && given != usage_set(required_without_rsa) {
        return Err(format!("usages did not match {}", listed(&required)));
    }
    Ok(())
}

/// Kubernetes' `ValidateKubeletServingCSR`: a node's serving certificate.
pub fn validate_kubelet_serving(request: &ParsedRequest, usages: &[&str]) -> Result<(), String> {
    organization_is_system_nodes(request)?;
    if request.dns_names.is_empty() && request.ip_addresses.is_empty() {
        return Err("DNS or IP subjectAltName is required".to_owned());
    }
    if !request.email_addresses.is_empty() {
        return Err("Email subjectAltNames are not allowed".to_owned());
    }
    if !request.uris.is_empty() {
        return Err("URI subjectAltNames are not allowed".to_owned());
    }
    let required = [
        USAGE_DIGITAL_SIGNATURE,
        USAGE_KEY_ENCIPHERMENT,
        USAGE_SERVER_AUTH,
    ];
    let required_without_rsa = [USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH];
    let given = usage_set(usages.iter().copied());
    if given != usage_set(required) && given != usage_set(required_without_rsa) {
        return Err(format!("usages did not match {}", listed(&required)));
    }
    common_name_is_a_node(request)
}

/// The kube-apiserver-client signer's usages (`validAPIServerClientUsages`): client auth,
/// and optionally digital signature and key encipherment.
pub fn validate_api_server_client_usages(usages: &[&str]) -> Result<(), String> {
    let mut has_client_auth = false;
    for &usage in usages {
        match usage {
            USAGE_DIGITAL_SIGNATURE | USAGE_KEY_ENCIPHERMENT => {}
            USAGE_CLIENT_AUTH => has_client_auth = true,
            other => return Err(format!("invalid usage for client certificate: {other}")),
        }
    }
    if !has_client_auth {
        return Err(format!(
            "missing required usage for client certificate: {USAGE_CLIENT_AUTH}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use wasmkube_pki::signing_request;

    use super::*;

    fn node_subject() -> Subject {
        Subject::new("system:node:n1", &[NODES_GROUP])
    }

    #[test]
    fn a_request_reads_back_its_subject_and_alternative_names() {
        let request = signing_request::generate(
            &node_subject(),
            &["n1".to_owned()],
            &[IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))],
        )
        .expect("a request");
        let parsed = parse(request.request_pem.as_bytes(), true).expect("it parses");
        assert_eq!(parsed.subject, node_subject());
        assert_eq!(parsed.dns_names, ["n1"]);
        assert_eq!(
            parsed.ip_addresses,
            [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]
        );
    }

    #[test]
    fn other_pem_blocks_are_not_requests() {
        let certificate = wasmkube_pki::ClusterAuthority::create("test-ca").expect("a CA");
        let error = parse(certificate.certificate_pem().as_bytes(), true).expect_err("refused");
        assert_eq!(error, "PEM block type must be CERTIFICATE REQUEST");
        assert_eq!(
            parse(b"not pem at all", true).expect_err("refused"),
            "PEM block type must be CERTIFICATE REQUEST"
        );
    }

    #[test]
    fn kubelet_client_requests_are_checked_as_kubernetes_does() {
        let client = ParsedRequest::of_subject(node_subject());
        let usages = [USAGE_DIGITAL_SIGNATURE, USAGE_CLIENT_AUTH];
        assert_eq!(validate_kubelet_client(&client, &usages), Ok(()));
        assert_eq!(
            validate_kubelet_client(
                &client,
                &[
                    USAGE_KEY_ENCIPHERMENT,
                    USAGE_DIGITAL_SIGNATURE,
                    USAGE_CLIENT_AUTH
                ]
            ),
            Ok(())
        );
        assert_eq!(
            validate_kubelet_client(&client, &[USAGE_CLIENT_AUTH]),
            Err("usages did not match [client auth digital signature key encipherment]".to_owned())
        );
        let with_address = ParsedRequest {
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            ..client.clone()
        };
        assert_eq!(
            validate_kubelet_client(&with_address, &usages),
            Err("IP subjectAltNames are not allowed".to_owned())
        );
        let not_a_node = ParsedRequest::of_subject(Subject::new("alice", &[NODES_GROUP]));
        assert_eq!(
            validate_kubelet_client(&not_a_node, &usages),
            Err("subject common name does not begin with system:node:".to_owned())
        );
        let masters =
            ParsedRequest::of_subject(Subject::new("system:node:n1", &["system:masters"]));
        assert_eq!(
            validate_kubelet_client(&masters, &usages),
            Err("subject organization is not system:nodes".to_owned())
        );
    }

    #[test]
    fn kubelet_serving_requests_need_an_address_or_name() {
        let usages = [USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH];
        let without_names = ParsedRequest::of_subject(node_subject());
        assert_eq!(
            validate_kubelet_serving(&without_names, &usages),
            Err("DNS or IP subjectAltName is required".to_owned())
        );
        let serving = ParsedRequest {
            dns_names: vec!["n1".to_owned()],
            ..without_names
        };
        assert_eq!(validate_kubelet_serving(&serving, &usages), Ok(()));
        assert_eq!(
            validate_kubelet_serving(&serving, &[USAGE_DIGITAL_SIGNATURE, USAGE_CLIENT_AUTH]),
            Err("usages did not match [digital signature key encipherment server auth]".to_owned())
        );
    }

    #[test]
    fn api_server_client_usages_need_client_auth_and_nothing_else() {
        assert_eq!(
            validate_api_server_client_usages(&[USAGE_CLIENT_AUTH, USAGE_DIGITAL_SIGNATURE]),
            Ok(())
        );
        assert_eq!(
            validate_api_server_client_usages(&[USAGE_DIGITAL_SIGNATURE]),
            Err("missing required usage for client certificate: client auth".to_owned())
        );
        assert_eq!(
            validate_api_server_client_usages(&[USAGE_CLIENT_AUTH, USAGE_SERVER_AUTH]),
            Err("invalid usage for client certificate: server auth".to_owned())
        );
    }
}
