//! The API server's security set-up on start: the cluster CA (made on the first start),
//! the API server's serving certificate (made anew on every start, so it always names the
//! current addresses), its client certificate for calling node agents, the static token
//! file with the admin's token, and the admin's credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use wasmkube_pki::tls::{ClientCertificates, TlsIdentity};
use wasmkube_pki::{ClusterAuthority, PkiError, Subject, Usage};

use crate::auth::token_file::{ADMIN_USER, StaticTokens, TokenFileError};
use crate::auth::user::{API_SERVER_KUBELET_CLIENT_USER, MASTERS_GROUP};

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{0}")]
    Pki(#[from] PkiError),
    #[error("{0}")]
    TokenFile(#[from] TokenFileError),
}

/// The DNS names every API server certificate carries: the `kubernetes` Service's names,
/// as kube-apiserver's.
const API_SERVER_NAMES: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

pub struct ServerSecurity {
    pub authority: Arc<ClusterAuthority>,
    pub serving_tls: Arc<rustls::ServerConfig>,
    /// The API server's client identity towards node agents (kube-apiserver's
    /// `--kubelet-client-certificate`).
    pub node_client_identity: TlsIdentity,
    pub static_tokens: StaticTokens,
    pub admin_token: String,
}

/// The addresses of the host's network interfaces (none if they cannot be read: then
/// clients need a `--tls-san`).
fn host_addresses() -> Vec<IpAddr> {
    match sysinfo::Networks::new_with_refreshed_list() {
        Ok(networks) => networks
            .values()
            .flat_map(|interface| interface.ip_networks().iter().map(|network| network.addr))
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list the host's addresses for the API server's certificate");
            Vec::new()
        }
    }
}

impl ServerSecurity {
    pub fn prepare(
        data_dir: &Path,
        listen: SocketAddr,
        extra_names: &[String],
    ) -> Result<Self, SecurityError> {
        let tls_directory = wasmkube_pki::authority::tls_directory(data_dir);
        let authority = Arc::new(ClusterAuthority::load_or_create(&tls_directory)?);
        let mut dns_names: Vec<String> = API_SERVER_NAMES
            .iter()
            .map(|&name| name.to_owned())
            .collect();
        let mut addresses = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(crate::api::KUBERNETES_SERVICE_IP),
        ];
        if listen.ip().is_unspecified() {
            // Listening on every address: clients may come by any of the host's, as
            // k3s's certificate names them all.
            addresses.extend(host_addresses());
        } else {
            addresses.push(listen.ip());
        }
        if let Some(host) = sysinfo::System::host_name()
            .ok()
            .filter(|host| !host.is_empty())
        {
            dns_names.push(host.to_lowercase());
        }
        for name in extra_names {
            match name.parse::<IpAddr>() {
                Ok(address) => addresses.push(address),
                Err(_) => dns_names.push(name.clone()),
            }
        }
        dns_names.sort();
        dns_names.dedup();
        addresses.sort();
        addresses.dedup();
        let serving = authority.issue_identity(
            &Subject::new("kube-apiserver", &[]),
            Usage::Server,
            &dns_names,
            &addresses,
        )?;
        let serving_tls = wasmkube_pki::tls::server_config(
            &serving,
            authority.certificate_pem(),
            ClientCertificates::Optional,
            &[b"h2", b"http/1.1"],
        )?;
        let node_client_identity = authority.issue_identity(
            &Subject::new(API_SERVER_KUBELET_CLIENT_USER, &[MASTERS_GROUP]),
            Usage::Client,
            &[],
            &[],
        )?;
        let (static_tokens, admin_token) =
            StaticTokens::load_or_create(&data_dir.join("tokens.csv"))?;
        Ok(Self {
            node_client_identity,
            authority,
            serving_tls,
            static_tokens,
            admin_token,
        })
    }

    /// A new client certificate for the admin (group system:masters).
    pub fn admin_identity(&self) -> Result<TlsIdentity, PkiError> {
        self.authority.issue_identity(
            &Subject::new(ADMIN_USER, &[MASTERS_GROUP]),
            Usage::Client,
            &[],
            &[],
        )
    }
}
