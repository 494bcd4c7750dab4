use base64::Engine;
use serde_json::{Value, json};
use wasmkube_pki::{Subject, signing_request};

use super::*;
use crate::certificates::{
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER, LEGACY_UNKNOWN_SIGNER, NODES_GROUP,
};

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn request_pem(subject: &Subject) -> String {
    signing_request::generate(subject, &[], &[])
        .expect("a signing request")
        .request_pem
}

fn node_subject() -> Subject {
    Subject::new("system:node:n1", &[NODES_GROUP])
}

fn csr_with_request(request_pem: &str, signer: &str, usages: &[&str]) -> Value {
    json!({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "node-csr-1"},
        "spec": {
            "request": base64_of(request_pem.as_bytes()),
            "signerName": signer,
            "usages": usages,
        },
    })
}

fn node_client_csr() -> Value {
    csr_with_request(
        &request_pem(&node_subject()),
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
        &["digital signature", "client auth"],
    )
}

fn bootstrapper() -> UserInfo {
    UserInfo::authenticated("system:bootstrap:abcdef", &["system:bootstrappers"])
}

/// The causes of a 422, as `field: message`.
fn causes(error: &ApiError) -> Vec<String> {
    assert_eq!(error.code.as_u16(), 422, "{}", error.message);
    error
        .details
        .as_ref()
        .and_then(|details| details.get("causes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|cause| {
            format!(
                "{}: {}",
                cause["field"].as_str().unwrap_or_default(),
                cause["message"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn condition(kind: &str) -> Value {
    json!({
        "type": kind, "status": "True", "reason": "ByHand", "message": "checked",
        "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z",
    })
}

/// A condition as `kubectl certificate approve` sends it: without times.
fn bare_condition(kind: &str) -> Value {
    json!({"type": kind, "status": "True", "reason": "KubectlApprove", "message": "approved"})
}

fn with_conditions(mut csr: Value, conditions: Vec<Value>) -> Value {
    csr["status"] = json!({"conditions": conditions});
    csr
}

#[test]
fn the_requester_is_the_authenticated_user_whatever_the_client_sent() {
    let mut csr = node_client_csr();
    csr["spec"]["username"] = json!("system:node:n1");
    csr["spec"]["groups"] = json!(["system:nodes", "system:masters"]);
    csr["spec"]["uid"] = json!("forged");
    csr["spec"]["extra"] = json!({"scopes": ["all"]});
    csr["status"] = json!({"conditions": [condition("Approved")]});
    let mut user = bootstrapper();
    user.extra
        .insert("origin".to_owned(), vec!["join".to_owned()]);
    admit_create(&mut csr, &user).expect("admitted");
    assert_eq!(csr["spec"]["username"], "system:bootstrap:abcdef");
    assert_eq!(
        csr["spec"]["groups"],
        json!(["system:bootstrappers", "system:authenticated"])
    );
    assert!(csr["spec"].get("uid").is_none(), "{csr}");
    assert_eq!(csr["spec"]["extra"], json!({"origin": ["join"]}));
    assert!(
        csr.get("status").is_none(),
        "no pre-approved requests: {csr}"
    );
}

#[test]
fn a_request_that_is_not_a_pem_certificate_request_is_invalid() {
    let authority = wasmkube_pki::ClusterAuthority::create("test-ca").expect("a CA");
    let mut csr = csr_with_request(
        authority.certificate_pem(),
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
        &["digital signature", "client auth"],
    );
    let error = admit_create(&mut csr, &bootstrapper()).expect_err("refused");
    let causes = causes(&error);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(
        causes[0].starts_with("spec.request: Invalid value: ")
            && causes[0].ends_with(": PEM block type must be CERTIFICATE REQUEST"),
        "{causes:?}"
    );
    assert!(
        error
            .message
            .starts_with("CertificateSigningRequest.certificates.k8s.io \"node-csr-1\" is invalid"),
        "{}",
        error.message
    );
}

#[test]
fn a_request_whose_signature_does_not_verify_is_invalid() {
    let block = pem::parse(request_pem(&node_subject())).expect("PEM");
    let mut der = block.contents().to_vec();
    // The last byte belongs to the signature: the request no longer proves its key.
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
    let mut csr = csr_with_request(
        &tampered,
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
        &["digital signature", "client auth"],
    );
    let causes = causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused"));
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(causes[0].contains("x509: invalid signature"), "{causes:?}");
}

#[test]
fn usages_and_the_signer_name_are_validated_as_kubernetes_does() {
    let pem_text = request_pem(&node_subject());
    let mut csr = csr_with_request(&pem_text, "", &[]);
    assert_eq!(
        causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused")),
        [
            "spec.usages: Required value",
            "spec.signerName: Required value"
        ]
    );
    let mut csr = csr_with_request(
        &pem_text,
        "example.com/a/b",
        &["client auth", "flying", "client auth"],
    );
    assert_eq!(
        causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused")),
        [
            format!(
                "spec.usages[1]: Unsupported value: \"flying\": supported values: {}",
                [
                    "any", "cert sign", "client auth", "code signing", "content commitment",
                    "crl sign", "data encipherment", "decipher only", "digital signature",
                    "email protection", "encipher only", "ipsec end system", "ipsec tunnel",
                    "ipsec user", "key agreement", "key encipherment", "microsoft sgc",
                    "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing",
                    "timestamping",
                ]
                .map(|usage| format!("\"{usage}\""))
                .join(", ")
            ),
            "spec.usages[2]: Duplicate value: \"client auth\"".to_owned(),
            "spec.signerName: Invalid value: \"example.com/a/b\": must be a fully qualified domain and path of the form 'example.com/signer-name'".to_owned(),
        ]
    );
    let mut csr = csr_with_request(&pem_text, "nodots/signer", &["client auth"]);
    assert_eq!(
        causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused")),
        [
            "spec.signerName: Invalid value: \"nodots\": should be a domain with at least two segments separated by dots"
        ]
    );
    let mut csr = csr_with_request(&pem_text, LEGACY_UNKNOWN_SIGNER, &["client auth"]);
    assert_eq!(
        causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused")),
        [
            "spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version"
        ]
    );
    let mut csr = csr_with_request(&pem_text, "example.com/signer", &["client auth"]);
    csr["spec"]["expirationSeconds"] = json!(60);
    assert_eq!(
        causes(&admit_create(&mut csr, &bootstrapper()).expect_err("refused")),
        [
            "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"
        ]
    );
}

#[test]
fn no_system_masters_client_certificate_through_a_request() {
    let mut csr = csr_with_request(
        &request_pem(&Subject::new("mallory", &["system:masters"])),
        KUBE_APISERVER_CLIENT_SIGNER,
        &["client auth"],
    );
    let error = admit_create(&mut csr, &bootstrapper()).expect_err("refused");
    assert_eq!(error.code.as_u16(), 403);
    assert_eq!(
        error.message,
        "certificatesigningrequests.certificates.k8s.io \"node-csr-1\" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    );
}

fn admitted_node_client_csr() -> Value {
    let mut csr = node_client_csr();
    admit_create(&mut csr, &bootstrapper()).expect("admitted");
    csr
}

#[test]
fn updates_of_the_object_itself_change_neither_spec_nor_status() {
    let old = with_conditions(admitted_node_client_csr(), vec![condition("Approved")]);
    let mut new = old.clone();
    new["spec"]["username"] = json!("system:node:n1");
    new["spec"]["usages"] = json!(["server auth"]);
    new["status"] = json!({"certificate": base64_of(b"forged")});
    new["metadata"]["labels"] = json!({"kept": "yes"});
    admit_update(&mut new, &old, None).expect("admitted");
    assert_eq!(new["spec"], old["spec"]);
    assert_eq!(new["status"], old["status"]);
    assert_eq!(new["metadata"]["labels"], json!({"kept": "yes"}));
}

#[test]
fn the_approval_subresource_sets_approved_or_denied_and_nothing_else() {
    let old = admitted_node_client_csr();
    let mut approved = with_conditions(old.clone(), vec![bare_condition("Approved")]);
    approved["status"]["certificate"] = json!(base64_of(b"not through approval"));
    approved["spec"]["signerName"] = json!("example.com/other");
    admit_update(&mut approved, &old, Some("approval")).expect("approved");
    assert_eq!(approved["spec"], old["spec"]);
    assert!(
        approved["status"].get("certificate").is_none(),
        "{approved}"
    );
    let approval = &approved["status"]["conditions"][0];
    assert_eq!(approval["type"], "Approved");
    assert!(approval["lastUpdateTime"].is_string(), "{approval}");
    assert!(approval["lastTransitionTime"].is_string(), "{approval}");

    let mut both = with_conditions(
        old.clone(),
        vec![condition("Approved"), condition("Denied")],
    );
    assert_eq!(
        causes(&admit_update(&mut both, &old, Some("approval")).expect_err("refused")),
        [
            "status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"
        ]
    );

    let mut withdrawn = with_conditions(approved.clone(), Vec::new());
    assert_eq!(
        causes(&admit_update(&mut withdrawn, &approved, Some("approval")).expect_err("refused")),
        ["status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""]
    );

    let mut false_approval = with_conditions(
        old.clone(),
        vec![json!({"type": "Approved", "status": "False"})],
    );
    assert_eq!(
        causes(&admit_update(&mut false_approval, &old, Some("approval")).expect_err("refused")),
        ["status.conditions[0].status: Unsupported value: \"False\": supported values: \"True\""]
    );
}

#[test]
fn the_status_subresource_sets_the_certificate_but_not_the_approval() {
    let old = admitted_node_client_csr();
    let mut self_approved = with_conditions(old.clone(), vec![condition("Approved")]);
    assert_eq!(
        causes(&admit_update(&mut self_approved, &old, Some("status")).expect_err("refused")),
        ["status.conditions: Forbidden: updates may not add a condition of type \"Approved\""]
    );

    let approved = with_conditions(old.clone(), vec![condition("Approved")]);
    let authority = wasmkube_pki::ClusterAuthority::create("test-ca").expect("a CA");
    let mut signed = approved.clone();
    signed["status"]["certificate"] = json!(base64_of(authority.certificate_pem().as_bytes()));
    // A status writer that drops the approval keeps it all the same.
    signed["status"]["conditions"][0]["message"] = json!("rewritten");
    admit_update(&mut signed, &approved, Some("status")).expect("signed");
    assert_eq!(
        signed["status"]["conditions"],
        approved["status"]["conditions"]
    );

    let mut resigned = signed.clone();
    resigned["status"]["certificate"] = json!(base64_of(
        wasmkube_pki::ClusterAuthority::create("other-ca")
            .expect("a CA")
            .certificate_pem()
            .as_bytes()
    ));
    assert_eq!(
        causes(&admit_update(&mut resigned, &signed, Some("status")).expect_err("refused")),
        ["status.certificate: Forbidden: updates may not modify existing certificate content"]
    );

    let mut garbage = approved.clone();
    garbage["status"]["certificate"] = json!(base64_of(
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    ));
    assert_eq!(
        causes(&admit_update(&mut garbage, &approved, Some("status")).expect_err("refused")),
        [
            "status.certificate: Invalid value: \"<certificate data>\": only CERTIFICATE PEM blocks are allowed, found \"PRIVATE KEY\""
        ]
    );
}
