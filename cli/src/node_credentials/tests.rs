use std::net::{Ipv4Addr, SocketAddr};

use wasmkube_pki::tls::ClientCertificates;
use wasmkube_pki::tls::server_config;
use wasmkube_pki::{ClusterAuthority, Usage, first_certificate_der};

use super::*;

const NODE_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));

fn node_subject(node_name: &str) -> Subject {
    Subject::new(format!("system:node:{node_name}"), &["system:nodes"])
}

/// Credentials for node n1 as a previous join left them, signed by `authority`.
fn write_previous_credentials(directory: &Path, authority: &ClusterAuthority) {
    let client = authority
        .issue(&node_subject("n1"), Usage::Client, &[], &[])
        .expect("a client certificate");
    let serving = authority
        .issue(
            &node_subject("n1"),
            Usage::Server,
            &["n1".to_owned()],
            &[NODE_ADDRESS],
        )
        .expect("a serving certificate");
    write_file_atomically(
        &directory.join(AUTHORITY_FILE),
        authority.certificate_pem(),
        false,
    )
    .expect("the CA is written");
    for (certificate_file, key_file, issued) in [
        (CLIENT_CERTIFICATE_FILE, CLIENT_KEY_FILE, client),
        (SERVING_CERTIFICATE_FILE, SERVING_KEY_FILE, serving),
    ] {
        let identity = TlsIdentity {
            certificate_chain_pem: issued.certificate_pem,
            private_key_pem: issued.private_key_pem,
        };
        write_identity(directory, certificate_file, key_file, &identity)
            .expect("the identity is written");
    }
}

/// The URL of a loopback port nothing listens on, so any attempt to reach the server
/// fails at once.
async fn unreachable_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    drop(listener);
    format!("https://{address}")
}

/// A TLS server presenting `identity`, which completes handshakes and nothing more.
async fn tls_server(identity: TlsIdentity, authority_pem: &str) -> SocketAddr {
    let config = server_config(
        &identity,
        authority_pem,
        ClientCertificates::Optional,
        &[b"http/1.1"],
    )
    .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // The client decides whether the handshake succeeds; nothing is served.
                let _handshake = acceptor.accept(stream).await;
            });
        }
    });
    address
}

/// An API server's identity from `authority`, its chain ending with the CA, as the
/// wasmkube API server presents it.
fn api_server_identity(authority: &ClusterAuthority) -> TlsIdentity {
    let issued = authority
        .issue(
            &Subject::new("kube-apiserver", &[]),
            Usage::Server,
            &["localhost".to_owned()],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
        .expect("a serving certificate");
    TlsIdentity {
        certificate_chain_pem: format!("{}{}", issued.certificate_pem, authority.certificate_pem()),
        private_key_pem: issued.private_key_pem,
    }
}

#[tokio::test]
async fn valid_credentials_in_the_directory_are_reused_without_the_server() {
    let directory = tempfile::tempdir().expect("a directory");
    let authority = ClusterAuthority::create("cluster-ca").expect("a CA");
    write_previous_credentials(directory.path(), &authority);
    let join_token = JoinToken::generate(&authority.certificate_sha256_hex()).expect("a token");
    let server = unreachable_server().await;

    let credentials = obtain(
        &server,
        &join_token,
        "n1",
        &[NODE_ADDRESS],
        directory.path(),
    )
    .await
    .expect("the stored credentials are reused");

    assert_eq!(credentials.authority_pem, authority.certificate_pem());
    let stored_client = std::fs::read_to_string(directory.path().join(CLIENT_CERTIFICATE_FILE))
        .expect("the client certificate");
    assert_eq!(
        credentials.client_identity.certificate_chain_pem,
        stored_client
    );
    let stored_serving = std::fs::read_to_string(directory.path().join(SERVING_CERTIFICATE_FILE))
        .expect("the serving certificate");
    assert_eq!(
        credentials.serving_identity.certificate_chain_pem,
        stored_serving
    );
    let kubeconfig = kube::config::Kubeconfig::read_from(&credentials.kubeconfig_path)
        .expect("a kubeconfig is written");
    let cluster = kubeconfig.clusters[0].cluster.as_ref().expect("a cluster");
    assert_eq!(cluster.server.as_deref(), Some(server.as_str()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials.kubeconfig_path)
            .expect("its metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds the client key");
    }
}

#[tokio::test]
async fn credentials_for_another_node_or_address_are_not_reused() {
    let directory = tempfile::tempdir().expect("a directory");
    let authority = ClusterAuthority::create("cluster-ca").expect("a CA");
    write_previous_credentials(directory.path(), &authority);
    let join_token = JoinToken::generate(&authority.certificate_sha256_hex()).expect("a token");
    let server = unreachable_server().await;

    // Anything not reusable needs the server, which is unreachable here.
    let another_node = obtain(
        &server,
        &join_token,
        "n2",
        &[NODE_ADDRESS],
        directory.path(),
    )
    .await
    .expect_err("n1's certificates are not n2's");
    assert!(
        format!("{another_node:#}").contains("join token"),
        "asks for a client certificate with the join token: {another_node:#}"
    );
    let new_address = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 6));
    let moved = obtain(&server, &join_token, "n1", &[new_address], directory.path())
        .await
        .expect_err("the serving certificate does not name the new address");
    assert!(
        format!("{moved:#}").contains("serving certificate"),
        "keeps the client certificate and asks for a serving one: {moved:#}"
    );
}

#[tokio::test]
async fn a_server_whose_chain_lacks_the_pinned_ca_is_not_trusted() {
    let directory = tempfile::tempdir().expect("a directory");
    let pinned = ClusterAuthority::create("pinned-ca").expect("a CA");
    let impostor = ClusterAuthority::create("impostor-ca").expect("another CA");
    let address = tls_server(api_server_identity(&impostor), impostor.certificate_pem()).await;
    let join_token = JoinToken::generate(&pinned.certificate_sha256_hex()).expect("a token");

    let error = obtain(
        &format!("https://{address}"),
        &join_token,
        "n1",
        &[NODE_ADDRESS],
        directory.path(),
    )
    .await
    .expect_err("the impostor is not trusted");

    let message = format!("{error:#}");
    assert!(
        message.contains("no CA with the join token's hash"),
        "{message}"
    );
    assert!(
        message.contains(&pinned.certificate_sha256_hex()),
        "{message}"
    );
    assert!(
        !directory.path().join(AUTHORITY_FILE).exists(),
        "nothing from the impostor is kept"
    );
}

#[tokio::test]
async fn the_pinned_ca_is_learned_from_the_servers_chain() {
    let authority = ClusterAuthority::create("cluster-ca").expect("a CA");
    let address = tls_server(api_server_identity(&authority), authority.certificate_pem()).await;
    let join_token = JoinToken::generate(&authority.certificate_sha256_hex()).expect("a token");

    let learned = learn_authority(&format!("https://{address}"), &join_token)
        .await
        .expect("the server's chain has the pinned CA");

    assert_eq!(
        first_certificate_der(&learned).expect("a certificate"),
        first_certificate_der(authority.certificate_pem()).expect("a certificate")
    );
}

#[test]
fn server_urls_must_be_https() {
    let address = ServerAddress::parse("https://[::1]:6443").expect("an IPv6 URL");
    assert_eq!((address.host.as_str(), address.port), ("::1", 6443));
    let error = ServerAddress::parse("http://10.0.0.1:6443").expect_err("plain HTTP");
    assert!(error.to_string().contains("https://host:port"), "{error}");
}
