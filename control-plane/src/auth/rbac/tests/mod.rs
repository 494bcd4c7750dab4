//! RBAC decisions over an index filled with objects as the store holds them: rule
//! forms (`rules.rs`), bindings, subjects and aggregation (`bindings.rs`), and the
//! default policy with its reconciliation (`default_policy.rs`).

mod bindings;
mod default_policy;
mod rules;

use serde_json::{Value, json};

use super::index::{PolicyIndex, PolicyKind};
use crate::auth::{Attributes, Decision, RequestScope, UserInfo};

pub fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

pub fn role(namespace: &str, name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules})
}

pub fn binding(
    kind: &str,
    namespace: &str,
    name: &str,
    role_kind: &str,
    role: &str,
    subjects: Value,
) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    })
}

pub fn user(name: &str) -> Value {
    json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}])
}

pub fn alice() -> UserInfo {
    UserInfo::authenticated("alice", &["developers"])
}

pub fn request(
    user: &UserInfo,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Attributes {
        user: user.clone(),
        verb: verb.to_owned(),
        scope: RequestScope::Resource {
            api_group: group.to_owned(),
            api_version: "v1".to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        field_selector: None,
    }
}

pub fn url_request(user: &UserInfo, verb: &str, path: &str) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: verb.to_owned(),
        scope: RequestScope::NonResource {
            path: path.to_owned(),
        },
        field_selector: None,
    }
}

/// An index where `subject` holds a ClusterRole with `rules` through a ClusterRoleBinding.
pub fn granted_cluster_wide(rules: Value) -> PolicyIndex {
    let mut index = PolicyIndex::default();
    index.upsert(
        PolicyKind::ClusterRole,
        "",
        "granted",
        &cluster_role("granted", rules),
    );
    index.upsert(
        PolicyKind::ClusterRoleBinding,
        "",
        "granted",
        &binding(
            "ClusterRoleBinding",
            "",
            "granted",
            "ClusterRole",
            "granted",
            user("alice"),
        ),
    );
    index
}

pub fn allowed(index: &PolicyIndex, attributes: &Attributes) -> bool {
    index.authorize(attributes) == Decision::Allow
}
