//! The node authorizer (Kubernetes' plugin/pkg/auth/authorizer/node, with 1.32's
//! AuthorizeNodeWithSelectors): what a node agent, authenticated as
//! `system:node:<name>` in `system:nodes`, may do. It reads and reports on the pods bound
//! to it, reads the secrets, configmaps, claims and service accounts those pods
//! reference, keeps its own Node and Lease, writes events, and reads what the pod
//! network needs. Relationships come from an in-memory index of pods kept current by the
//! store's watch (`graph.rs`, `feed.rs`); no request reads the store, except that a
//! refusal first catches the index up with the store's latest changes.
//!
//! What the authorizer cannot see — the name of an object being created — is checked by
//! `restriction::admit_create`, the matching part of the NodeRestriction admission
//! plugin, which the write path must call.

mod feed;
mod graph;
mod references;
pub mod restriction;
mod rules;
mod selectors;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use feed::SharedGraph;
use rules::NodeRequest;

use super::{Attributes, Authorizer, Decision, RequestScope};
use crate::store::{SharedStorage, StoreError};

/// The namespace of the nodes' heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

#[derive(Debug, thiserror::Error)]
pub enum NodeAuthorizerError {
    #[error("the node authorizer cannot list pods: {0}")]
    ListPods(#[from] StoreError),
}

/// Decides node agents' requests; every other user gets no opinion.
pub struct NodeAuthorizer {
    graph: Arc<SharedGraph>,
    follower: tokio::task::AbortHandle,
}

impl NodeAuthorizer {
    /// Lists every pod of `storage` now, then follows its changes on a task of the
    /// current tokio runtime (it must be called within one) until the authorizer is
    /// dropped or the store shuts down.
    pub fn start(storage: SharedStorage) -> Result<Self, NodeAuthorizerError> {
        let graph = Arc::new(SharedGraph::load(storage)?);
        let follower = tokio::spawn(feed::follow(Arc::clone(&graph))).abort_handle();
        Ok(Self { graph, follower })
    }
}

impl Drop for NodeAuthorizer {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl Authorizer for NodeAuthorizer {
    fn authorize(&self, attributes: &Attributes) -> Decision {
        let Some(node) = attributes.user.node_name() else {
            return Decision::NoOpinion(String::new());
        };
        match &attributes.scope {
            RequestScope::Resource {
                api_group,
                resource,
                subresource,
                namespace,
                name,
                ..
            } => rules::decide(
                &NodeRequest {
                    node,
                    verb: &attributes.verb,
                    api_group,
                    resource,
                    subresource,
                    namespace,
                    name,
                    field_selector: attributes.field_selector.as_deref(),
                },
                &self.graph,
            ),
            RequestScope::NonResource { path } => Decision::NoOpinion(format!(
                "the node authorizer grants node '{node}' no non-resource URLs such as {path}"
            )),
        }
    }
}
