//! A node's credentials, obtained as the kubelet's TLS bootstrap obtains them. The join
//! token (`K10<CA hash>::<id>.<secret>`) is used once: its hash pins the cluster CA, which
//! the node learns from the chain the API server presents, and its bootstrap token asks
//! for the node's client certificate (signer kube-apiserver-client-kubelet), which the
//! server's approver approves for bootstrap tokens. With that certificate the node then
//! asks for its serving certificate (kubelet-serving). From then on the node's
//! credential is its certificate: the files in its directory are reused while they are
//! valid, and the join token is not needed again. Private keys are made here and never
//! leave the node; only certificate signing requests do.

mod stored;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio_rustls::rustls::pki_types::ServerName;
use wasmkube_control_plane::certificates::{
    KUBE_APISERVER_CLIENT_KUBELET_SIGNER, KUBELET_SERVING_SIGNER, USAGE_CLIENT_AUTH,
    USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH,
};
use wasmkube_control_plane::kubeconfig::{KubeconfigCredential, kubeconfig_yaml};
use wasmkube_pki::authority::write_file_atomically;
use wasmkube_pki::tls::{PinnedAuthorityVerifier, TlsIdentity};
use wasmkube_pki::{JoinToken, Subject};

use crate::certificate_request::CertificateRequest;

use stored::{Wanted, certificate_is_current, key_matches, stored_authority, stored_identity};

const AUTHORITY_FILE: &str = "ca.crt";
const CLIENT_CERTIFICATE_FILE: &str = "client.crt";
const CLIENT_KEY_FILE: &str = "client.key";
const SERVING_CERTIFICATE_FILE: &str = "serving.crt";
const SERVING_KEY_FILE: &str = "serving.key";
const KUBECONFIG_FILE: &str = "kubeconfig";

/// How long connecting to the server and its TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a certificate signing request may wait for its certificate: the approver
/// and signer answer in moments, but a person approving by hand needs longer.
const SIGNING_TIMEOUT: Duration = Duration::from_secs(300);

/// What a node needs to talk to the cluster and to be talked to.
#[derive(Debug)]
pub struct NodeCredentials {
    /// The cluster CA, in PEM.
    pub authority_pem: String,
    /// CN=system:node:<name>, O=system:nodes: the node's identity towards the API server,
    /// and the tunnel's client certificate.
    pub client_identity: TlsIdentity,
    /// For the node endpoint and the tunnel's server side, naming the node and its
    /// addresses.
    pub serving_identity: TlsIdentity,
    /// A kubeconfig with the server, the CA and the client certificate.
    pub kubeconfig_path: PathBuf,
}

/// The API server's host and port, from its `https://host:port` URL.
#[derive(Debug)]
struct ServerAddress {
    host: String,
    port: u16,
}

impl ServerAddress {
    fn parse(server: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = server
            .parse()
            .with_context(|| format!("{server:?} is not a URL"))?;
        if uri.scheme_str() != Some("https") {
            bail!("the server URL {server:?} must be https://host:port");
        }
        let host = uri
            .host()
            .ok_or_else(|| anyhow!("the server URL {server:?} names no host"))?;
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: uri.port_u16().unwrap_or(443),
        })
    }
}

/// Learns the cluster CA from the server's certificate chain, trusting it only if the
/// chain has a CA with the join token's hash that signed the server's certificate.
async fn learn_authority(server: &str, join_token: &JoinToken) -> anyhow::Result<String> {
    let address = ServerAddress::parse(server)?;
    let verifier = PinnedAuthorityVerifier::new(&join_token.ca_sha256_hex);
    let connector = tokio_rustls::TlsConnector::from(verifier.client_config()?);
    let server_name = ServerName::try_from(address.host.clone())
        .with_context(|| format!("{:?} is not a host name or address", address.host))?;
    let handshake = async {
        let stream = tokio::net::TcpStream::connect((address.host.as_str(), address.port))
            .await
            .with_context(|| format!("cannot connect to the server at {server}"))?;
        connector.connect(server_name, stream).await.map_err(|error| {
            anyhow!(
                "cannot trust the server at {server}: {error}; the join token pins the cluster CA \
                 whose SHA-256 is {} (check that the token is this server's DIR/node-token)",
                join_token.ca_sha256_hex
            )
        })
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| {
            anyhow!("the server at {server} did not answer within {HANDSHAKE_TIMEOUT:?}")
        })??;
    verifier
        .authority_pem()
        .ok_or_else(|| anyhow!("the server at {server} completed a handshake without its CA"))
}

/// A client of the API server with the given credential.
async fn api_client(
    server: &str,
    authority_pem: &str,
    user_name: &str,
    credential: KubeconfigCredential<'_>,
) -> anyhow::Result<kube::Client> {
    let text = kubeconfig_yaml(
        server,
        authority_pem,
        "wasmkube",
        user_name,
        credential,
        "default",
    );
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// Asks the cluster to sign a new key's certificate, waits for it, and checks that it is
/// one this node can use.
async fn request_certificate(
    client: kube::Client,
    authority_pem: &str,
    wanted: &Wanted<'_>,
    signer_name: &str,
    usages: &[&str],
) -> anyhow::Result<TlsIdentity> {
    let request = CertificateRequest {
        name_prefix: "node-csr",
        subject: wanted.subject,
        dns_names: wanted.dns_names,
        addresses: wanted.addresses,
        signer_name,
        usages,
        expiration_seconds: None,
        approval: None,
        patience: SIGNING_TIMEOUT,
    };
    let (name, identity) = request.signed(client).await?;
    if !certificate_is_current(&identity.certificate_chain_pem, authority_pem, wanted)
        || !key_matches(&identity, authority_pem)
    {
        bail!(
            "the certificate signed for {name} is not one this node can use (wrong CA, subject or names)"
        );
    }
    Ok(identity)
}

fn write_identity(
    directory: &Path,
    certificate_file: &str,
    key_file: &str,
    identity: &TlsIdentity,
) -> anyhow::Result<()> {
    // The key first: a certificate without its key would be unusable.
    write_file_atomically(&directory.join(key_file), &identity.private_key_pem, true)?;
    write_file_atomically(
        &directory.join(certificate_file),
        &identity.certificate_chain_pem,
        false,
    )?;
    Ok(())
}

/// The node's credentials for the cluster at `server` (`https://host:port`): those kept
/// in `directory` while they are valid, otherwise new ones obtained with the join token
/// (the client certificate) and then with the client certificate (the serving one).
pub async fn obtain(
    server: &str,
    join_token: &JoinToken,
    node_name: &str,
    node_addresses: &[IpAddr],
    directory: &Path,
) -> anyhow::Result<NodeCredentials> {
    ServerAddress::parse(server)?;
    let node_user = format!("system:node:{node_name}");
    let subject = Subject::new(node_user.clone(), &["system:nodes"]);
    let authority_pem = match stored_authority(directory, join_token)? {
        Some(authority_pem) => authority_pem,
        None => {
            let authority_pem = learn_authority(server, join_token).await?;
            write_file_atomically(&directory.join(AUTHORITY_FILE), &authority_pem, false)?;
            authority_pem
        }
    };
    let client_wanted = Wanted {
        subject: &subject,
        dns_names: &[],
        addresses: &[],
    };
    let stored_client = stored_identity(
        directory,
        CLIENT_CERTIFICATE_FILE,
        CLIENT_KEY_FILE,
        &authority_pem,
        &client_wanted,
    )?;
    let client_identity = match stored_client {
        Some(identity) => identity,
        None => {
            let bootstrap_token = join_token.bootstrap_token();
            let bootstrap_user = format!("system:bootstrap:{}", join_token.token_id);
            let client = api_client(
                server,
                &authority_pem,
                &bootstrap_user,
                KubeconfigCredential::Token(&bootstrap_token),
            )
            .await?;
            let identity = request_certificate(
                client,
                &authority_pem,
                &client_wanted,
                KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
                &[USAGE_DIGITAL_SIGNATURE, USAGE_CLIENT_AUTH],
            )
            .await
            .context("cannot get the node's client certificate with the join token")?;
            write_identity(
                directory,
                CLIENT_CERTIFICATE_FILE,
                CLIENT_KEY_FILE,
                &identity,
            )?;
            identity
        }
    };
    let serving_names = [node_name.to_owned()];
    let serving_wanted = Wanted {
        subject: &subject,
        dns_names: &serving_names,
        addresses: node_addresses,
    };
    let stored_serving = stored_identity(
        directory,
        SERVING_CERTIFICATE_FILE,
        SERVING_KEY_FILE,
        &authority_pem,
        &serving_wanted,
    )?;
    let serving_identity = match stored_serving {
        Some(identity) => identity,
        None => {
            let client = api_client(
                server,
                &authority_pem,
                &node_user,
                KubeconfigCredential::ClientCertificate(&client_identity),
            )
            .await?;
            let identity = request_certificate(
                client,
                &authority_pem,
                &serving_wanted,
                KUBELET_SERVING_SIGNER,
                &[USAGE_DIGITAL_SIGNATURE, USAGE_SERVER_AUTH],
            )
            .await
            .context("cannot get the node's serving certificate")?;
            write_identity(
                directory,
                SERVING_CERTIFICATE_FILE,
                SERVING_KEY_FILE,
                &identity,
            )?;
            identity
        }
    };
    let kubeconfig_path = directory.join(KUBECONFIG_FILE);
    let kubeconfig = kubeconfig_yaml(
        server,
        &authority_pem,
        "wasmkube",
        &node_user,
        KubeconfigCredential::ClientCertificate(&client_identity),
        "default",
    );
    write_file_atomically(&kubeconfig_path, &kubeconfig, true)?;
    Ok(NodeCredentials {
        authority_pem,
        client_identity,
        serving_identity,
        kubeconfig_path,
    })
}
