//! An authenticated user, as Kubernetes' user.Info: a name, a uid, groups and extra
//! attributes.

use std::collections::BTreeMap;

/// Every authenticated user is in this group.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group of the anonymous user, who has no credentials.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The anonymous user's name.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// Members may do anything; RBAC is not consulted for them.
pub const MASTERS_GROUP: &str = "system:masters";
/// The group of every node's identity.
pub const NODES_GROUP: &str = "system:nodes";
/// A node's user name is this prefix and the node's name.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The group of every bootstrap token's identity.
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
/// A bootstrap token's user name is this prefix and the token's id.
pub const BOOTSTRAP_USER_PREFIX: &str = "system:bootstrap:";
/// A ServiceAccount's user name is `system:serviceaccount:<namespace>:<name>`.
pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";
/// Every ServiceAccount is in this group, and in `system:serviceaccounts:<namespace>`.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// The identity the API server's in-process clients (scheduler, controllers) act as.
pub const API_SERVER_USER: &str = "system:apiserver";
/// The user name in the certificate the API server presents to node agents.
pub const API_SERVER_KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with these groups, to which `system:authenticated` is added.
    pub fn authenticated(username: impl Into<String>, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|&group| group.to_owned()).collect();
        if !groups.iter().any(|group| group == AUTHENTICATED_GROUP) {
            groups.push(AUTHENTICATED_GROUP.to_owned());
        }
        Self {
            username: username.into(),
            groups,
            ..Self::default()
        }
    }

    pub fn anonymous() -> Self {
        Self {
            username: ANONYMOUS_USER.to_owned(),
            groups: vec![UNAUTHENTICATED_GROUP.to_owned()],
            ..Self::default()
        }
    }

    /// The API server itself, which may do anything (its in-process clients).
    pub fn api_server() -> Self {
        Self::authenticated(API_SERVER_USER, &[MASTERS_GROUP])
    }

    /// The identity of a node agent, as its client certificate names it.
    pub fn node(node_name: &str) -> Self {
        Self::authenticated(format!("{NODE_USER_PREFIX}{node_name}"), &[NODES_GROUP])
    }

    pub fn is_anonymous(&self) -> bool {
        self.username == ANONYMOUS_USER
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|member| member == group)
    }

    /// The node's name when this is a node's identity (`system:node:<name>` in
    /// `system:nodes`), as Kubernetes' node identifier decides it.
    pub fn node_name(&self) -> Option<&str> {
        let name = self.username.strip_prefix(NODE_USER_PREFIX)?;
        (self.in_group(NODES_GROUP) && !name.is_empty()).then_some(name)
    }

    /// The namespace and name when this is a ServiceAccount.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        let rest = self.username.strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?;
        let (namespace, name) = rest.split_once(':')?;
        (!namespace.is_empty() && !name.is_empty() && !name.contains(':'))
            .then_some((namespace, name))
    }
}
