//! CertificateSigningRequests from their requesters to their certificates: the approver
//! approves what a node or its bootstrap token asks for, the signer signs what is
//! approved with the cluster CA, and leaves alone what is denied or not its own.

use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, PostParams};
use wasmkube_control_plane::auth::UserInfo;
use wasmkube_control_plane::certificates::approver::{
    NODE_CLIENT_MESSAGE, SELF_NODE_SERVING_MESSAGE,
};
use wasmkube_control_plane::certificates::signer::SIGNER_VALIDATION_FAILURE;
use wasmkube_control_plane::certificates::{
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER, KUBE_APISERVER_CLIENT_SIGNER, KUBELET_SERVING_SIGNER,
};
use wasmkube_pki::{ClusterAuthority, Subject};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::support::{
    certificate_pem, conditions, create, decide, node_subject, signing_request, start_cluster,
    wait_for,
};

const CLIENT_USAGES: &[&str] = &["digital signature", "client auth"];
const SERVING_USAGES: &[&str] = &["digital signature", "server auth"];

/// What a signed certificate says, after checking that the cluster CA signed it.
struct Checked {
    subject: Subject,
    client_auth: bool,
    server_auth: bool,
    dns_names: Vec<String>,
    addresses: Vec<IpAddr>,
}

fn check_signed_by(authority: &ClusterAuthority, certificate_pem: &str) -> Checked {
    let der = wasmkube_pki::first_certificate_der(certificate_pem).expect("a PEM certificate");
    let authority_der =
        wasmkube_pki::first_certificate_der(authority.certificate_pem()).expect("the CA");
    let (_, certificate) = X509Certificate::from_der(&der).expect("an X.509 certificate");
    let (_, authority_certificate) = X509Certificate::from_der(&authority_der).expect("the CA");
    certificate
        .verify_signature(Some(authority_certificate.public_key()))
        .expect("the cluster CA signed the certificate");
    let usage = certificate
        .extended_key_usage()
        .expect("readable extensions")
        .expect("an extended key usage");
    let names = certificate
        .subject_alternative_name()
        .expect("readable extensions")
        .map(|extension| extension.value.general_names.clone())
        .unwrap_or_default();
    Checked {
        subject: Subject::of_certificate_der(&der).expect("a subject"),
        client_auth: usage.value.client_auth,
        server_auth: usage.value.server_auth,
        dns_names: names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns_name) => Some((*dns_name).to_owned()),
                _ => None,
            })
            .collect(),
        addresses: names
            .iter()
            .filter_map(|name| match name {
                GeneralName::IPAddress(bytes) => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                _ => None,
            })
            .collect(),
    }
}

fn signed(csr: &CertificateSigningRequest) -> bool {
    certificate_pem(csr).is_some()
}

fn failed(csr: &CertificateSigningRequest) -> bool {
    conditions(csr)
        .iter()
        .any(|condition| condition.type_ == "Failed")
}

#[tokio::test]
async fn a_bootstrap_tokens_node_client_request_is_approved_and_signed() {
    let cluster = start_cluster().await;
    let bootstrapper = UserInfo::authenticated(
        "system:bootstrap:abcdef",
        &[
            "system:bootstrappers",
            "system:bootstrappers:wasmkube:default-node-token",
        ],
    );
    let (mut csr, _key) = signing_request(
        "node-csr-n1",
        &node_subject("n1"),
        &[],
        &[],
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
        CLIENT_USAGES,
    );
    // A requester cannot claim to be someone else.
    csr.spec.username = Some("system:node:n1".to_owned());
    csr.spec.groups = Some(vec!["system:nodes".to_owned()]);
    let created = create(&cluster.plane.client_as(bootstrapper), &csr).await;
    assert_eq!(
        created.spec.username.as_deref(),
        Some("system:bootstrap:abcdef")
    );
    let groups = created.spec.groups.clone().unwrap_or_default();
    assert!(
        groups.contains(&"system:bootstrappers".to_owned()),
        "{groups:?}"
    );
    assert!(!groups.contains(&"system:nodes".to_owned()), "{groups:?}");

    let done = wait_for(&cluster.plane.client, "node-csr-n1", "signed", signed).await;

    let approval = &conditions(&done)[0];
    assert_eq!(
        (approval.type_.as_str(), approval.status.as_str()),
        ("Approved", "True")
    );
    assert_eq!(approval.reason.as_deref(), Some("AutoApproved"));
    assert_eq!(approval.message.as_deref(), Some(NODE_CLIENT_MESSAGE));
    let certificate = check_signed_by(
        &cluster.plane.authority,
        &certificate_pem(&done).expect("a certificate"),
    );
    assert_eq!(certificate.subject, node_subject("n1"));
    assert!(certificate.client_auth && !certificate.server_auth);
}

#[tokio::test]
async fn a_node_gets_its_own_serving_certificate_approved_and_signed() {
    let cluster = start_cluster().await;
    let address = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    let (csr, _key) = signing_request(
        "node-csr-serving-n1",
        &node_subject("n1"),
        &["n1".to_owned()],
        &[address],
        KUBELET_SERVING_SIGNER,
        SERVING_USAGES,
    );
    create(&cluster.plane.client_as(UserInfo::node("n1")), &csr).await;

    let done = wait_for(
        &cluster.plane.client,
        "node-csr-serving-n1",
        "signed",
        signed,
    )
    .await;

    assert_eq!(
        conditions(&done)[0].message.as_deref(),
        Some(SELF_NODE_SERVING_MESSAGE)
    );
    let certificate = check_signed_by(
        &cluster.plane.authority,
        &certificate_pem(&done).expect("a certificate"),
    );
    assert_eq!(certificate.subject, node_subject("n1"));
    assert!(certificate.server_auth && !certificate.client_auth);
    assert_eq!(certificate.dns_names, ["n1"]);
    assert_eq!(certificate.addresses, [address]);
}

#[tokio::test]
async fn a_request_approved_by_hand_is_signed_and_stays_approved() {
    let cluster = start_cluster().await;
    let admin = &cluster.plane.client;
    let alice = Subject::new("alice", &["developers"]);
    let (csr, _key) = signing_request(
        "alice",
        &alice,
        &[],
        &[],
        KUBE_APISERVER_CLIENT_SIGNER,
        &["client auth"],
    );
    create(admin, &csr).await;
    decide(admin, "alice", "Approved").await;

    let done = wait_for(admin, "alice", "signed", signed).await;

    let certificate = check_signed_by(
        &cluster.plane.authority,
        &certificate_pem(&done).expect("a certificate"),
    );
    assert_eq!(certificate.subject, alice);
    assert!(certificate.client_auth);
    let api: Api<CertificateSigningRequest> = Api::all(admin.clone());
    let mut denied = done.clone();
    if let Some(conditions) = denied
        .status
        .as_mut()
        .and_then(|status| status.conditions.as_mut())
    {
        conditions[0].type_ = "Denied".to_owned();
    }
    let error = api
        .replace_subresource("approval", "alice", &PostParams::default(), &denied)
        .await
        .expect_err("an approval cannot become a denial");
    let kube::Error::Api(status) = error else {
        panic!("not an API error: {error}");
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status
            .message
            .contains("updates may not remove a condition of type \"Approved\""),
        "{}",
        status.message
    );
}

/// Creates a request and approves it by hand, then waits until it is signed: after
/// that, the signer has seen what happened before it.
async fn approve_and_wait_for_another(cluster: &crate::support::Cluster, name: &str) {
    let (csr, _key) = signing_request(
        name,
        &Subject::new(name, &[]),
        &[],
        &[],
        KUBE_APISERVER_CLIENT_SIGNER,
        &["client auth"],
    );
    create(&cluster.plane.client, &csr).await;
    decide(&cluster.plane.client, name, "Approved").await;
    wait_for(&cluster.plane.client, name, "signed", signed).await;
}

#[tokio::test]
async fn a_denied_request_stays_unsigned() {
    let cluster = start_cluster().await;
    let admin = &cluster.plane.client;
    let (csr, _key) = signing_request(
        "mallory",
        &Subject::new("mallory", &[]),
        &[],
        &[],
        KUBE_APISERVER_CLIENT_SIGNER,
        &["client auth"],
    );
    create(admin, &csr).await;
    decide(admin, "mallory", "Denied").await;

    approve_and_wait_for_another(&cluster, "after-mallory").await;

    let denied = Api::<CertificateSigningRequest>::all(admin.clone())
        .get("mallory")
        .await
        .expect("the request");
    assert!(!signed(&denied) && !failed(&denied), "{denied:?}");
}

#[tokio::test]
async fn a_request_for_another_signer_is_left_alone() {
    let cluster = start_cluster().await;
    let admin = &cluster.plane.client;
    for (name, signer) in [
        ("custom", "example.com/custom-signer"),
        ("unknown-kubernetes", "kubernetes.io/unknown-signer"),
    ] {
        let (csr, _key) = signing_request(
            name,
            &Subject::new(name, &[]),
            &[],
            &[],
            signer,
            &["client auth"],
        );
        create(admin, &csr).await;
        decide(admin, name, "Approved").await;
    }

    approve_and_wait_for_another(&cluster, "after-custom").await;

    let api = Api::<CertificateSigningRequest>::all(admin.clone());
    for name in ["custom", "unknown-kubernetes"] {
        let untouched = api.get(name).await.expect("the request");
        assert!(!signed(&untouched) && !failed(&untouched), "{untouched:?}");
    }
}

#[tokio::test]
async fn a_request_its_signer_refuses_fails_with_the_reason() {
    let cluster = start_cluster().await;
    let admin = &cluster.plane.client;
    // A person approves a "kubelet client" request for a subject that is no node.
    let (csr, _key) = signing_request(
        "not-a-node",
        &Subject::new("alice", &["developers"]),
        &[],
        &[],
        KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
        CLIENT_USAGES,
    );
    create(admin, &csr).await;
    decide(admin, "not-a-node", "Approved").await;

    let done = wait_for(admin, "not-a-node", "failed", failed).await;

    let failure = conditions(&done)
        .into_iter()
        .find(|condition| condition.type_ == "Failed")
        .expect("a Failed condition");
    assert_eq!(failure.reason.as_deref(), Some(SIGNER_VALIDATION_FAILURE));
    assert_eq!(
        failure.message.as_deref(),
        Some("subject organization is not system:nodes")
    );
    assert!(!signed(&done));
}

#[tokio::test]
async fn conditions_and_certificates_change_only_through_their_subresources() {
    let cluster = start_cluster().await;
    let admin = &cluster.plane.client;
    let api: Api<CertificateSigningRequest> = Api::all(admin.clone());
    let (csr, _key) = signing_request(
        "bob",
        &Subject::new("bob", &[]),
        &[],
        &[],
        "example.com/by-hand",
        &["client auth"],
    );
    let mut created = create(admin, &csr).await;
    created.status = Some(Default::default());
    if let Some(status) = created.status.as_mut() {
        status.certificate = Some(ByteString(cluster.plane.authority.certificate_pem().into()));
    }
    let replaced = api
        .replace("bob", &PostParams::default(), &created)
        .await
        .expect("an update of the object itself is accepted");
    assert!(
        !signed(&replaced),
        "the status is kept as it was: {replaced:?}"
    );

    let mut self_approved = replaced.clone();
    self_approved.status = Some(Default::default());
    if let Some(status) = self_approved.status.as_mut() {
        status.conditions = Some(vec![
            k8s_openapi::api::certificates::v1::CertificateSigningRequestCondition {
                type_: "Approved".to_owned(),
                status: "True".to_owned(),
                ..Default::default()
            },
        ]);
    }
    let error = api
        .replace_status("bob", &PostParams::default(), &self_approved)
        .await
        .expect_err("approval goes through the approval subresource");
    let kube::Error::Api(status) = error else {
        panic!("not an API error: {error}");
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status
            .message
            .contains("updates may not add a condition of type \"Approved\""),
        "{}",
        status.message
    );

    let (mut garbage, _key) = signing_request(
        "garbage",
        &Subject::new("garbage", &[]),
        &[],
        &[],
        KUBE_APISERVER_CLIENT_SIGNER,
        &["client auth"],
    );
    garbage.spec.request = ByteString(b"not a request".to_vec());
    let error = api
        .create(&PostParams::default(), &garbage)
        .await
        .expect_err("refused");
    let kube::Error::Api(status) = error else {
        panic!("not an API error: {error}");
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status
            .message
            .contains("PEM block type must be CERTIFICATE REQUEST"),
        "{}",
        status.message
    );
}
