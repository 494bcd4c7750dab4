//! Whether one policy rule covers a request, and whether one binding subject is the
//! requesting user: Kubernetes' `rbac/v1` evaluation helpers and `RuleAllows`
//! (pkg/apis/rbac/v1/evaluation_helpers.go, plugin/pkg/auth/authorizer/rbac/rbac.go),
//! and `appliesToUser` (pkg/registry/rbac/validation/rule.go).

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use crate::auth::{Attributes, RequestScope, UserInfo};

/// The wildcard that stands for every verb, group, resource or URL.
const ALL: &str = "*";

fn strings(list: Option<&Vec<String>>) -> &[String] {
    list.map_or(&[], Vec::as_slice)
}

pub fn verb_matches(rule: &PolicyRule, requested_verb: &str) -> bool {
    rule.verbs
        .iter()
        .any(|verb| verb == ALL || verb == requested_verb)
}

pub fn api_group_matches(rule: &PolicyRule, requested_group: &str) -> bool {
    strings(rule.api_groups.as_ref())
        .iter()
        .any(|group| group == ALL || group == requested_group)
}

/// `combined_resource` is `resource` or `resource/subresource`. A rule names a resource
/// exactly, or all of them (`*`), or one subresource of every resource (`*/scale`);
/// `pods/*` is not a wildcard in Kubernetes and matches only a subresource named `*`.
pub fn resource_matches(
    rule: &PolicyRule,
    combined_resource: &str,
    requested_subresource: &str,
) -> bool {
    strings(rule.resources.as_ref()).iter().any(|resource| {
        resource == ALL
            || resource == combined_resource
            || (!requested_subresource.is_empty()
                && resource
                    .strip_prefix("*/")
                    .is_some_and(|subresource| subresource == requested_subresource))
    })
}

/// A rule without resourceNames covers every name; one with them covers only requests
/// that name one of them, so never a list, a watch, a create or a deletecollection.
pub fn resource_name_matches(rule: &PolicyRule, requested_name: &str) -> bool {
    let names = strings(rule.resource_names.as_ref());
    names.is_empty() || names.iter().any(|name| name == requested_name)
}

/// Exact URLs, or a prefix when the rule's URL ends with `*` (`*` alone: every URL).
pub fn non_resource_url_matches(rule: &PolicyRule, requested_url: &str) -> bool {
    strings(rule.non_resource_urls.as_ref())
        .iter()
        .any(|url| url_covers(url, requested_url))
}

/// Whether the rule URL `owner` covers `requested`: equal, or a `*`-suffixed prefix of it.
pub fn url_covers(owner: &str, requested: &str) -> bool {
    owner == ALL
        || owner == requested
        || (owner.ends_with('*') && requested.starts_with(owner.trim_end_matches('*')))
}

/// Kubernetes' `RuleAllows`.
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if !verb_matches(rule, &attributes.verb) {
        return false;
    }
    match &attributes.scope {
        RequestScope::Resource {
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            api_group_matches(rule, api_group)
                && resource_matches(rule, &combined, subresource)
                && resource_name_matches(rule, name)
        }
        RequestScope::NonResource { path } => non_resource_url_matches(rule, path),
    }
}

/// Whether `subject` is `user`. `binding_namespace` is the namespace of a RoleBinding
/// (empty for a ClusterRoleBinding): a ServiceAccount subject without a namespace means
/// the ServiceAccount of that name in the binding's namespace.
pub fn subject_is_user(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.username == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|namespace| !namespace.is_empty())
                .unwrap_or(binding_namespace);
            !namespace.is_empty()
                && user.username
                    == format!(
                        "{}{namespace}:{}",
                        crate::auth::user::SERVICE_ACCOUNT_USER_PREFIX,
                        subject.name
                    )
        }
        _ => false,
    }
}

/// A RoleBinding or ClusterRoleBinding, as the index keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Empty for a ClusterRoleBinding.
    pub namespace: String,
    pub role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

impl Binding {
    /// Whether any subject of the binding is `user`.
    pub fn applies_to(&self, user: &UserInfo) -> bool {
        self.subjects
            .iter()
            .any(|subject| subject_is_user(subject, user, &self.namespace))
    }
}
