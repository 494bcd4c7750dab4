//! RBAC's escalation prevention, as Kubernetes' policy-based storage of the four RBAC
//! kinds (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased,
//! pkg/registry/rbac/escalation_check.go and `validation.ConfirmNoEscalation`): a user may
//! write a Role or ClusterRole only with rules they already hold where it applies, or
//! with the `escalate` verb on it; and may bind a role only when they hold its rules
//! where the binding applies, or have the `bind` verb on it. system:masters (the API
//! server's own identity among them) is never checked.
//!
//! Authorization alone cannot do this: whether a write escalates depends on the rules in
//! the request body and on what the requester holds.

mod covers;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef};
use serde_json::Value;

use super::RbacAuthorizer;
use super::index::RBAC_GROUP;
use super::rules::Binding;
use crate::api::{ApiError, ApiResult};
use crate::auth::user::MASTERS_GROUP;
use crate::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use crate::resources::ResourceType;
use covers::{describe_missing, full_authority, go_quoted_list, uncovered_rules};

/// The API version Kubernetes names when it asks whether a user may escalate or bind:
/// every version, since the check is about the object, not its representation.
const ANY_VERSION: &str = "*";

/// The refusal of an aggregationRule to a user who does not hold everything
/// (clusterrole/policybased's wording).
const AGGREGATION_RULE_REFUSAL: &str =
    "must have cluster-admin privileges to use the aggregationRule";

/// Who writes, and what decides what they may do.
pub struct EscalationCheck<'a> {
    /// The whole authorizer chain, asked for `escalate` and `bind`.
    pub authorizer: &'a dyn Authorizer,
    /// RBAC's policy, for the rules the user holds and those a role reference grants.
    pub rbac: &'a RbacAuthorizer,
    pub user: &'a UserInfo,
}

impl EscalationCheck<'_> {
    /// Admits a create (`old` is `None`) or an update of any object: only the four RBAC
    /// kinds are checked. `namespace` and `url_name` are the request URL's, as
    /// Kubernetes' RequestInfo has them (the name is empty for a create).
    pub fn admit(
        &self,
        resource: &ResourceType,
        namespace: &str,
        url_name: &str,
        new: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if resource.group != RBAC_GROUP || self.user.in_group(MASTERS_GROUP) {
            return Ok(());
        }
        match resource.plural {
            "roles" | "clusterroles" => {
                if self.may("escalate", RBAC_GROUP, resource.plural, namespace, url_name) {
                    return Ok(());
                }
                if old.is_some_and(|old| only_mutates_garbage_collection_fields(new, old)) {
                    return Ok(());
                }
                self.admit_role(resource, namespace, new, old)
            }
            "rolebindings" | "clusterrolebindings" => {
                if old.is_some_and(|old| only_mutates_garbage_collection_fields(new, old)) {
                    return Ok(());
                }
                self.admit_binding(resource, namespace, new)
            }
            _ => Ok(()),
        }
    }

    /// Whether the authorizer chain allows `verb` on an RBAC resource, as Kubernetes'
    /// `RoleEscalationAuthorized` and `BindingAuthorized` ask.
    fn may(&self, verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> bool {
        let attributes = Attributes {
            user: self.user.clone(),
            verb: verb.to_owned(),
            scope: RequestScope::Resource {
                api_group: group.to_owned(),
                api_version: ANY_VERSION.to_owned(),
                resource: resource.to_owned(),
                subresource: String::new(),
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            field_selector: None,
        };
        self.authorizer.authorize(&attributes) == Decision::Allow
    }

    /// A Role's rules must be held in its namespace, a ClusterRole's cluster-wide. An
    /// aggregationRule, set or removed, needs everything: it can gather any rule.
    fn admit_role(
        &self,
        resource: &ResourceType,
        namespace: &str,
        new: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let name = object_name(new);
        let rules = decode_field::<Vec<PolicyRule>>(new, "rules")?.unwrap_or_default();
        self.confirm_no_escalation(resource, name, namespace, &rules)?;
        let aggregates = has_aggregation_rule(new) || old.is_some_and(has_aggregation_rule);
        if resource.plural == "clusterroles" && aggregates {
            let held = self.rbac.rules_for(self.user, namespace);
            if !uncovered_rules(&held.rules, &full_authority()).is_empty() {
                return Err(ApiError::forbidden(
                    resource,
                    name,
                    AGGREGATION_RULE_REFUSAL,
                ));
            }
        }
        Ok(())
    }

    /// A binding is allowed with `bind` on its role, or when the user holds every rule
    /// of the role where the binding applies. A role that does not exist can be bound
    /// only with `bind`: otherwise its absence is the answer (404).
    fn admit_binding(
        &self,
        resource: &ResourceType,
        namespace: &str,
        new: &Value,
    ) -> ApiResult<()> {
        let name = object_name(new);
        let role_ref = decode_field::<RoleRef>(new, "roleRef")?.unwrap_or_default();
        let role_resource = match role_ref.kind.as_str() {
            "Role" => "roles",
            "ClusterRole" => "clusterroles",
            other => {
                return Err(ApiError::internal(format!(
                    "unsupported role reference kind: {other:?}"
                )));
            }
        };
        let group = &role_ref.api_group;
        if self.may("bind", group, role_resource, namespace, &role_ref.name) {
            return Ok(());
        }
        let rules = self
            .rbac
            .role_reference_rules(&role_ref, namespace)
            .ok_or_else(|| role_not_found(role_resource, &role_ref.name))?;
        self.confirm_no_escalation(resource, name, namespace, &rules)
    }

    /// Kubernetes' `ConfirmNoEscalation`: the rules the user holds in `namespace` (the
    /// cluster-wide ones only, when it is empty) must cover `rules`.
    fn confirm_no_escalation(
        &self,
        resource: &ResourceType,
        name: &str,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> ApiResult<()> {
        let held = self.rbac.rules_for(self.user, namespace);
        let missing = uncovered_rules(&held.rules, rules);
        if missing.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            self.user.username,
            go_quoted_list(&self.user.groups),
            describe_missing(missing)
        );
        if !held.errors.is_empty() {
            message.push_str(&format!(
                "; resolution errors: [{}]",
                super::aggregate_errors(&held.errors)
            ));
        }
        Err(ApiError::forbidden(resource, name, &message))
    }
}

impl RbacAuthorizer {
    /// The rules a role reference grants in a binding of `namespace` (empty for a
    /// ClusterRoleBinding), with aggregation applied; `None` when the role is missing.
    fn role_reference_rules(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Option<Arc<[PolicyRule]>> {
        let binding = Binding {
            namespace: namespace.to_owned(),
            role_ref: role_ref.clone(),
            subjects: Vec::new(),
        };
        self.read_index().role_reference_rules(&binding).ok()
    }
}

fn object_name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A field of an object the API server has already decoded with its Kubernetes type;
/// `None` when it is absent or null.
fn decode_field<T: serde::de::DeserializeOwned>(
    object: &Value,
    field: &str,
) -> ApiResult<Option<T>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|error| ApiError::bad_request(format!("{field}: {error}"))),
    }
}

/// Kubernetes' `hasAggregationRule`: an aggregationRule with at least one selector.
fn has_aggregation_rule(cluster_role: &Value) -> bool {
    cluster_role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
        .is_some_and(|selectors| !selectors.is_empty())
}

fn role_not_found(role_resource: &str, name: &str) -> ApiError {
    match crate::resources::find_by_plural(RBAC_GROUP, "v1", role_resource) {
        Some(resource) => ApiError::not_found(resource, name),
        None => ApiError::internal(format!("{role_resource}.{RBAC_GROUP} is not served")),
    }
}

/// Kubernetes' `IsOnlyMutatingGCFields`: an update that changes nothing but the owner
/// references and finalizers, which the garbage collector writes, is never an
/// escalation. The resourceVersion and managedFields are left out of the comparison
/// too: the update path fills in the one and drops the other.
fn only_mutates_garbage_collection_fields(new: &Value, old: &Value) -> bool {
    fn without_garbage_collection_fields(object: &Value) -> Value {
        let mut object = object.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "ownerReferences",
                "finalizers",
                "selfLink",
                "resourceVersion",
                "managedFields",
            ] {
                metadata.remove(field);
            }
        }
        object
    }
    without_garbage_collection_fields(new) == without_garbage_collection_fields(old)
}
