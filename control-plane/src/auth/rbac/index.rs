//! The policy as RBAC decides on it: every Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding, kept in memory so that a decision reads no storage, and the rule
//! walk of Kubernetes' `DefaultRuleResolver.VisitRulesFor`.
//!
//! Aggregated ClusterRoles are evaluated here rather than written by a controller: a
//! ClusterRole with an `aggregationRule` has the rules of every other ClusterRole its
//! selectors match (their own aggregated rules included), recomputed whenever any
//! ClusterRole changes. That is the state Kubernetes' clusterrole-aggregation
//! controller converges to, available without waiting for it.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::rules::{Binding, rule_allows};
use crate::auth::{Attributes, Decision, RequestScope, UserInfo};

/// The API group of the RBAC kinds.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The four kinds the index holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Role,
        PolicyKind::ClusterRole,
        PolicyKind::RoleBinding,
        PolicyKind::ClusterRoleBinding,
    ];

    pub fn plural(self) -> &'static str {
        match self {
            PolicyKind::Role => "roles",
            PolicyKind::ClusterRole => "clusterroles",
            PolicyKind::RoleBinding => "rolebindings",
            PolicyKind::ClusterRoleBinding => "clusterrolebindings",
        }
    }

    /// Where the store keeps the kind's objects: the resource's storage name
    /// (`roles.rbac.authorization.k8s.io`, as `ResourceType::storage_name` forms it),
    /// then namespace and name.
    pub fn key_prefix(self) -> String {
        crate::store::key_prefix(&format!("{}.{RBAC_GROUP}", self.plural()), None)
    }
}

struct ClusterRoleEntry {
    labels: BTreeMap<String, String>,
    rules: Vec<PolicyRule>,
    /// The `aggregationRule`'s selectors, for an aggregated ClusterRole.
    selectors: Option<Vec<LabelSelector>>,
}

/// Decodes a stored object without copying it.
fn decode<K: serde::de::DeserializeOwned>(object: &Value) -> Result<K, serde_json::Error> {
    K::deserialize(object)
}

#[derive(Default)]
pub struct PolicyIndex {
    /// Roles by namespace, then name.
    roles: HashMap<String, HashMap<String, Arc<[PolicyRule]>>>,
    cluster_roles: BTreeMap<String, ClusterRoleEntry>,
    /// Each ClusterRole's rules with aggregation applied.
    cluster_role_rules: HashMap<String, Arc<[PolicyRule]>>,
    /// ClusterRoleBindings by name, visited in name order.
    cluster_role_bindings: BTreeMap<String, Binding>,
    /// RoleBindings by namespace, then name.
    role_bindings: HashMap<String, BTreeMap<String, Binding>>,
}

/// The rules that apply to a user in a namespace, and the problems met on the way
/// (bindings whose role does not exist).
#[derive(Debug, Default)]
pub struct UserRules {
    pub rules: Vec<PolicyRule>,
    pub errors: Vec<String>,
}

impl PolicyIndex {
    /// Replaces everything of `kind` with `objects` (namespace, name, object): a list.
    pub fn replace_all<'a>(
        &mut self,
        kind: PolicyKind,
        objects: impl IntoIterator<Item = (&'a str, &'a str, &'a Value)>,
    ) {
        match kind {
            PolicyKind::Role => self.roles.clear(),
            PolicyKind::ClusterRole => self.cluster_roles.clear(),
            PolicyKind::RoleBinding => self.role_bindings.clear(),
            PolicyKind::ClusterRoleBinding => self.cluster_role_bindings.clear(),
        }
        for (namespace, name, object) in objects {
            self.insert(kind, namespace, name, object);
        }
        if kind == PolicyKind::ClusterRole {
            self.aggregate();
        }
    }

    /// Records an object that was created or changed.
    pub fn upsert(&mut self, kind: PolicyKind, namespace: &str, name: &str, object: &Value) {
        self.insert(kind, namespace, name, object);
        if kind == PolicyKind::ClusterRole {
            self.aggregate();
        }
    }

    /// Forgets an object that was deleted.
    pub fn remove(&mut self, kind: PolicyKind, namespace: &str, name: &str) {
        self.remove_entry(kind, namespace, name);
        if kind == PolicyKind::ClusterRole {
            self.aggregate();
        }
    }

    fn remove_entry(&mut self, kind: PolicyKind, namespace: &str, name: &str) {
        match kind {
            PolicyKind::Role => {
                if let Some(roles) = self.roles.get_mut(namespace) {
                    roles.remove(name);
                    if roles.is_empty() {
                        self.roles.remove(namespace);
                    }
                }
            }
            PolicyKind::ClusterRole => {
                self.cluster_roles.remove(name);
            }
            PolicyKind::RoleBinding => {
                if let Some(bindings) = self.role_bindings.get_mut(namespace) {
                    bindings.remove(name);
                    if bindings.is_empty() {
                        self.role_bindings.remove(namespace);
                    }
                }
            }
            PolicyKind::ClusterRoleBinding => {
                self.cluster_role_bindings.remove(name);
            }
        }
    }

    fn insert(&mut self, kind: PolicyKind, namespace: &str, name: &str, object: &Value) {
        // The API server validated what it stored; an object that still does not decode
        // grants nothing rather than stopping the index.
        let inserted = match kind {
            PolicyKind::Role => decode::<Role>(object).map(|role| {
                self.roles
                    .entry(namespace.to_owned())
                    .or_default()
                    .insert(name.to_owned(), role.rules.unwrap_or_default().into());
            }),
            PolicyKind::ClusterRole => decode::<ClusterRole>(object).map(|role| {
                let entry = ClusterRoleEntry {
                    labels: role.metadata.labels.unwrap_or_default(),
                    rules: role.rules.unwrap_or_default(),
                    selectors: role
                        .aggregation_rule
                        .map(|rule| rule.cluster_role_selectors.unwrap_or_default()),
                };
                self.cluster_roles.insert(name.to_owned(), entry);
            }),
            PolicyKind::RoleBinding => decode::<RoleBinding>(object).map(|binding| {
                let binding = Binding {
                    namespace: namespace.to_owned(),
                    role_ref: binding.role_ref,
                    subjects: binding.subjects.unwrap_or_default(),
                };
                self.role_bindings
                    .entry(namespace.to_owned())
                    .or_default()
                    .insert(name.to_owned(), binding);
            }),
            PolicyKind::ClusterRoleBinding => decode::<ClusterRoleBinding>(object).map(|binding| {
                let binding = Binding {
                    namespace: String::new(),
                    role_ref: binding.role_ref,
                    subjects: binding.subjects.unwrap_or_default(),
                };
                self.cluster_role_bindings.insert(name.to_owned(), binding);
            }),
        };
        if let Err(error) = inserted {
            tracing::warn!(kind = kind.plural(), namespace, name, %error, "RBAC: ignoring an object that does not decode");
            self.remove_entry(kind, namespace, name);
        }
    }

    /// Recomputes every ClusterRole's rules with aggregation applied.
    fn aggregate(&mut self) {
        let mut computed: HashMap<String, Vec<PolicyRule>> = HashMap::new();
        for name in self.cluster_roles.keys() {
            self.aggregated_rules(name, &mut Vec::new(), &mut computed);
        }
        self.cluster_role_rules = computed
            .into_iter()
            .map(|(name, rules)| (name, rules.into()))
            .collect();
    }

    /// A ClusterRole's rules: its own, or for an aggregated one the union of the rules of
    /// the other ClusterRoles its selectors match, in selector order and then name order,
    /// without duplicates, as the aggregation controller writes them. `visiting` breaks
    /// cycles of roles that select each other.
    fn aggregated_rules(
        &self,
        name: &str,
        visiting: &mut Vec<String>,
        computed: &mut HashMap<String, Vec<PolicyRule>>,
    ) -> Vec<PolicyRule> {
        if let Some(rules) = computed.get(name) {
            return rules.clone();
        }
        let Some(entry) = self.cluster_roles.get(name) else {
            return Vec::new();
        };
        let Some(selectors) = &entry.selectors else {
            computed.insert(name.to_owned(), entry.rules.clone());
            return entry.rules.clone();
        };
        if visiting.iter().any(|visited| visited == name) {
            return entry.rules.clone();
        }
        visiting.push(name.to_owned());
        let mut rules: Vec<PolicyRule> = Vec::new();
        for selector in selectors {
            for (other, other_entry) in &self.cluster_roles {
                if other == name || !selector_matches(selector, &other_entry.labels) {
                    continue;
                }
                for rule in self.aggregated_rules(other, visiting, computed) {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
        }
        visiting.pop();
        computed.insert(name.to_owned(), rules.clone());
        rules
    }

    /// The rules a role reference grants, in the binding's namespace for a Role.
    pub(super) fn role_reference_rules(
        &self,
        binding: &Binding,
    ) -> Result<Arc<[PolicyRule]>, String> {
        let role_ref = &binding.role_ref;
        let found = match role_ref.kind.as_str() {
            "Role" => self
                .roles
                .get(&binding.namespace)
                .and_then(|roles| roles.get(&role_ref.name))
                .cloned()
                .ok_or("role"),
            "ClusterRole" => self
                .cluster_role_rules
                .get(&role_ref.name)
                .cloned()
                .ok_or("clusterrole"),
            other => return Err(format!("unsupported role reference kind: {other:?}")),
        };
        found.map_err(|resource| format!("{resource}.{RBAC_GROUP} {:?} not found", role_ref.name))
    }

    /// Walks every rule that applies to `user` in `namespace`: the ClusterRoleBindings',
    /// then (for a namespaced request) the namespace's RoleBindings', until `visitor`
    /// breaks. Answers the problems met: bindings whose role is missing.
    pub fn visit_rules_for(
        &self,
        user: &UserInfo,
        namespace: &str,
        visitor: &mut dyn FnMut(&PolicyRule) -> ControlFlow<()>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let namespace_bindings = (!namespace.is_empty())
            .then(|| self.role_bindings.get(namespace))
            .flatten();
        let bindings = self
            .cluster_role_bindings
            .values()
            .chain(namespace_bindings.into_iter().flat_map(BTreeMap::values));
        for binding in bindings {
            if !binding.applies_to(user) {
                continue;
            }
            match self.role_reference_rules(binding) {
                Ok(rules) => {
                    for rule in rules.iter() {
                        if visitor(rule).is_break() {
                            return errors;
                        }
                    }
                }
                Err(error) => errors.push(error),
            }
        }
        errors
    }

    /// Kubernetes' RBAC decision: allowed when any rule that applies allows; otherwise
    /// no opinion, with the problems met as the reason (empty when there were none).
    pub fn authorize(&self, attributes: &Attributes) -> Decision {
        let namespace = match &attributes.scope {
            RequestScope::Resource { namespace, .. } => namespace.as_str(),
            RequestScope::NonResource { .. } => "",
        };
        let mut allowed = false;
        let errors = self.visit_rules_for(&attributes.user, namespace, &mut |rule| {
            if rule_allows(attributes, rule) {
                allowed = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if allowed {
            Decision::Allow
        } else if errors.is_empty() {
            Decision::NoOpinion(String::new())
        } else {
            Decision::NoOpinion(format!("RBAC: {}", aggregate_errors(&errors)))
        }
    }

    /// Every rule that applies to `user` in `namespace`, as `SelfSubjectRulesReview`
    /// lists them.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        let mut rules = Vec::new();
        let errors = self.visit_rules_for(user, namespace, &mut |rule| {
            rules.push(rule.clone());
            ControlFlow::Continue(())
        });
        UserRules { rules, errors }
    }
}

/// Several errors as Kubernetes' `utilerrors.NewAggregate` words them: one alone, or
/// `[a, b]` with duplicates left out.
pub fn aggregate_errors(errors: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for error in errors {
        if !distinct.contains(&error.as_str()) {
            distinct.push(error);
        }
    }
    match distinct.as_slice() {
        [only] => (*only).to_owned(),
        _ => format!("[{}]", distinct.join(", ")),
    }
}

/// Whether a label selector selects labels, as `metav1.LabelSelectorAsSelector` does:
/// every `matchLabels` pair and every `matchExpressions` requirement must hold (an empty
/// selector selects everything). A selector with an unknown operator selects nothing,
/// as the aggregation controller fails on it.
fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|expression| {
                let value = labels.get(&expression.key);
                let values = expression.values.as_deref().unwrap_or_default();
                match expression.operator.as_str() {
                    "In" => value.is_some_and(|value| values.contains(value)),
                    "NotIn" => value.is_none_or(|value| !values.contains(value)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
}
