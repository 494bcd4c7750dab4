//! The node's TLS material, all rooted in the cluster CA: the serving identity of its two
//! listeners (the node endpoint and the pod network's tunnel) and the client identity it
//! dials other nodes' tunnels with, and the rustls settings made from them.

use std::net::IpAddr;
use std::sync::Arc;

use wasmkube_pki::tls::{ClientCertificates, TlsIdentity, client_config, server_config};
use wasmkube_pki::{ClusterAuthority, PkiError};

/// What the node proves itself with and trusts others by.
#[derive(Clone)]
pub struct NodeTls {
    /// The cluster CA's certificate (PEM): the only authority the node trusts, for its
    /// callers (the API server, other nodes) and for the tunnels it dials.
    pub authority_pem: String,
    /// `system:node:<name>` in `system:nodes`, for server authentication, naming the
    /// node's address (which the API server and the other nodes check) and its name.
    pub serving: TlsIdentity,
    /// `system:node:<name>` in `system:nodes`, for client authentication: what the node
    /// presents to other nodes' tunnels.
    pub client: TlsIdentity,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("NodeTls").finish_non_exhaustive()
    }
}

impl NodeTls {
    /// Both identities issued by `authority` for a node reached at `addresses`: what a
    /// node beside the control plane (`wasmkube up`, tests, benchmarks) uses.
    pub fn issue(
        authority: &ClusterAuthority,
        node_name: &str,
        addresses: &[IpAddr],
    ) -> Result<NodeTls, PkiError> {
        let (client, serving) = authority.issue_node_identities(node_name, addresses)?;
        Ok(NodeTls {
            authority_pem: authority.certificate_pem().to_owned(),
            serving,
            client,
        })
    }

    /// The settings of the node endpoint: HTTP/1.1 (port-forward tunnels are its
    /// upgrades), and a client certificate from the cluster CA required of every caller.
    pub(crate) fn endpoint_server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        server_config(
            &self.serving,
            &self.authority_pem,
            ClientCertificates::Required,
            &[b"http/1.1"],
        )
    }

    /// The settings of the tunnel's listener: the node's serving identity, a client
    /// certificate required of every peer, and only the tunnel's own protocol offered, so
    /// that nothing meant for another port is taken for a tunnel connection.
    pub(crate) fn tunnel_server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        server_config(
            &self.serving,
            &self.authority_pem,
            ClientCertificates::Required,
            &[crate::network::tunnel::ALPN_PROTOCOL],
        )
    }

    /// The settings the node dials other nodes' tunnels with: their serving certificates
    /// checked against the cluster CA, and the node's client identity presented.
    pub(crate) fn tunnel_client_config(&self) -> Result<Arc<rustls::ClientConfig>, PkiError> {
        client_config(
            &self.authority_pem,
            Some(&self.client),
            &[crate::network::tunnel::ALPN_PROTOCOL],
        )
    }
}
