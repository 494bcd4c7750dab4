//! What a request does, in the terms authorizers decide on (Kubernetes'
//! authorizer.Attributes): a verb on a resource, or on a non-resource URL.

use super::UserInfo;

/// What a request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestScope {
    /// A resource request, as `/api/v1/namespaces/ns/pods/name/log` is (verb, "",
    /// "v1", "pods", "log", "ns", "name").
    Resource {
        api_group: String,
        api_version: String,
        resource: String,
        /// Empty for the resource itself.
        subresource: String,
        /// Empty for cluster-scoped resources and for lists over all namespaces.
        namespace: String,
        /// Empty for collections (list, watch, create, deletecollection).
        name: String,
    },
    /// Any other path (`/healthz`, `/version`, `/api`, `/openapi/v2`, the image store).
    NonResource { path: String },
}

/// A request's attributes. Verbs are Kubernetes' request verbs: get, list, watch,
/// create, update, patch, delete, deletecollection for resources; get, post, put, patch,
/// delete (the lowercased HTTP method) for non-resource URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    pub scope: RequestScope,
    /// The request's fieldSelector, raw (`spec.nodeName=n1`), for the node authorizer,
    /// which lets a node list and watch only its own pods.
    pub field_selector: Option<String>,
}

impl Attributes {
    pub fn is_resource_request(&self) -> bool {
        matches!(self.scope, RequestScope::Resource { .. })
    }

    /// Kubernetes' wording of a refusal, as in
    /// `pods "p" is forbidden: User "alice" cannot get resource "pods" in API group ""
    /// in the namespace "default"`.
    pub fn forbidden_message(&self, reason: &str) -> String {
        let user = &self.user.username;
        let verb = &self.verb;
        let mut message = match &self.scope {
            RequestScope::Resource {
                api_group,
                resource,
                subresource,
                namespace,
                name,
                ..
            } => {
                let what = if name.is_empty() {
                    format!("{resource} is forbidden")
                } else {
                    format!("{resource} \"{name}\" is forbidden")
                };
                let resource_text = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                let place = if namespace.is_empty() {
                    "at the cluster scope".to_owned()
                } else {
                    format!("in the namespace \"{namespace}\"")
                };
                format!(
                    "{what}: User \"{user}\" cannot {verb} resource \"{resource_text}\" in API group \"{api_group}\" {place}"
                )
            }
            RequestScope::NonResource { path } => {
                format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"")
            }
        };
        if !reason.is_empty() {
            message.push_str(": ");
            message.push_str(reason);
        }
        message
    }
}

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused outright: no later authorizer is asked.
    Deny(String),
    /// Neither: the next authorizer decides. The text says why, for the final refusal.
    NoOpinion(String),
}
