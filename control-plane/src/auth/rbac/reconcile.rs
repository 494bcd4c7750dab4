//! Creating the default policy and reconciling it with what is stored, as
//! kube-apiserver's RBAC post-start hook does (pkg/registry/rbac/reconciliation, in its
//! "union" mode): labels and annotations the default has are added, rules the stored
//! role does not cover are appended, missing aggregation selectors and subjects are
//! added. Nothing is removed, and an object annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

use super::bootstrap_policy::{bootstrap_cluster_role_bindings, bootstrap_cluster_roles};
use super::rules::url_covers;

/// The annotation that lets an administrator keep a default object as they changed it.
pub const AUTO_UPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

fn strings(list: Option<&Vec<String>>) -> &[String] {
    list.map_or(&[], Vec::as_slice)
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|member| member == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|item| has(set, item))
}

fn one(item: &str) -> Option<Vec<String>> {
    Some(vec![item.to_owned()])
}

/// Kubernetes' `BreakdownRule`: one rule per (group, resource, verb[, name]) and per
/// (URL, verb), so that each piece is either wholly covered by one rule or not at all.
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut pieces = Vec::new();
    for group in strings(rule.api_groups.as_ref()) {
        for resource in strings(rule.resources.as_ref()) {
            for verb in &rule.verbs {
                let piece = |resource_names| PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    resource_names,
                    non_resource_urls: None,
                };
                let names = strings(rule.resource_names.as_ref());
                if names.is_empty() {
                    pieces.push(piece(None));
                } else {
                    pieces.extend(names.iter().map(|name| piece(one(name))));
                }
            }
        }
    }
    for url in strings(rule.non_resource_urls.as_ref()) {
        for verb in &rule.verbs {
            pieces.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            });
        }
    }
    pieces
}

/// Kubernetes' `resourceCoversAll`: `*`, an exact name, or `*/sub` for `res/sub`.
fn resources_cover(owned: &[String], requested: &[String]) -> bool {
    if has(owned, "*") || has_all(owned, requested) {
        return true;
    }
    requested.iter().all(|path| {
        has(owned, path)
            || path
                .split_once('/')
                .is_some_and(|(_, subresource)| has(owned, &format!("*/{subresource}")))
    })
}

/// Kubernetes' `ruleCovers`: whether `owner` grants everything `piece` does.
fn rule_covers(owner: &PolicyRule, piece: &PolicyRule) -> bool {
    let owner_groups = strings(owner.api_groups.as_ref());
    let owner_names = strings(owner.resource_names.as_ref());
    let piece_names = strings(piece.resource_names.as_ref());
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &piece.verbs);
    let groups =
        has(owner_groups, "*") || has_all(owner_groups, strings(piece.api_groups.as_ref()));
    let resources = resources_cover(
        strings(owner.resources.as_ref()),
        strings(piece.resources.as_ref()),
    );
    let urls = strings(piece.non_resource_urls.as_ref()).iter().all(|url| {
        strings(owner.non_resource_urls.as_ref())
            .iter()
            .any(|owned| url_covers(owned, url))
    });
    let names = if piece_names.is_empty() {
        owner_names.is_empty()
    } else {
        owner_names.is_empty() || has_all(owner_names, piece_names)
    };
    verbs && groups && resources && urls && names
}

/// Kubernetes' `Covers`: the pieces of `requested` that no rule of `owned` covers.
pub fn uncovered(owned: &[PolicyRule], requested: &[PolicyRule]) -> Vec<PolicyRule> {
    requested
        .iter()
        .flat_map(breakdown)
        .filter(|piece| !owned.iter().any(|owner| rule_covers(owner, piece)))
        .collect()
}

/// `expected`'s entries added to `existing` where it lacks the key; answers whether
/// anything changed. The stored values win, as Kubernetes' merge does.
fn merge_into(
    existing: &mut Option<BTreeMap<String, String>>,
    expected: Option<&BTreeMap<String, String>>,
) -> bool {
    let mut changed = false;
    for (key, value) in expected.into_iter().flatten() {
        let map = existing.get_or_insert_with(BTreeMap::new);
        if !map.contains_key(key) {
            map.insert(key.clone(), value.clone());
            changed = true;
        }
    }
    changed
}

fn protected(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations
        .and_then(|annotations| annotations.get(AUTO_UPDATE_ANNOTATION))
        .is_some_and(|value| value == "false")
}

/// The stored role with what the default adds, or None when nothing needs writing.
pub fn reconciled_cluster_role(
    existing: &ClusterRole,
    expected: &ClusterRole,
) -> Option<ClusterRole> {
    if protected(existing.metadata.annotations.as_ref()) {
        return None;
    }
    let mut role = existing.clone();
    let mut changed = merge_into(
        &mut role.metadata.annotations,
        expected.metadata.annotations.as_ref(),
    );
    changed |= merge_into(&mut role.metadata.labels, expected.metadata.labels.as_ref());
    let missing_rules = uncovered(
        existing.rules.as_deref().unwrap_or_default(),
        expected.rules.as_deref().unwrap_or_default(),
    );
    if !missing_rules.is_empty() {
        role.rules
            .get_or_insert_with(Vec::new)
            .extend(missing_rules);
        changed = true;
    }
    let existing_selectors = existing
        .aggregation_rule
        .as_ref()
        .and_then(|rule| rule.cluster_role_selectors.as_deref())
        .unwrap_or_default();
    let missing_selectors: Vec<_> = expected
        .aggregation_rule
        .as_ref()
        .and_then(|rule| rule.cluster_role_selectors.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|selector| !existing_selectors.contains(selector))
        .cloned()
        .collect();
    if expected.aggregation_rule.is_none() && existing.aggregation_rule.is_some() {
        // The default is not aggregated: a stored aggregation would replace its rules.
        role.aggregation_rule = None;
        changed = true;
    } else if !missing_selectors.is_empty() {
        role.aggregation_rule
            .get_or_insert_with(AggregationRule::default)
            .cluster_role_selectors
            .get_or_insert_with(Vec::new)
            .extend(missing_selectors);
        changed = true;
    }
    changed.then_some(role)
}

/// What reconciling a default binding does.
#[derive(Debug, PartialEq)]
pub enum BindingReconciliation {
    Unchanged,
    Update(Box<ClusterRoleBinding>),
    /// The stored binding names another role, which cannot change in place: it is
    /// deleted and the default created.
    Recreate,
}

pub fn reconciled_cluster_role_binding(
    existing: &ClusterRoleBinding,
    expected: &ClusterRoleBinding,
) -> BindingReconciliation {
    if protected(existing.metadata.annotations.as_ref()) {
        return BindingReconciliation::Unchanged;
    }
    if existing.role_ref != expected.role_ref {
        return BindingReconciliation::Recreate;
    }
    let mut binding = existing.clone();
    let mut changed = merge_into(
        &mut binding.metadata.annotations,
        expected.metadata.annotations.as_ref(),
    );
    changed |= merge_into(
        &mut binding.metadata.labels,
        expected.metadata.labels.as_ref(),
    );
    let existing_subjects = existing.subjects.as_deref().unwrap_or_default();
    let missing: Vec<_> = expected
        .subjects
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|subject| !existing_subjects.contains(subject))
        .cloned()
        .collect();
    if !missing.is_empty() {
        binding
            .subjects
            .get_or_insert_with(Vec::new)
            .extend(missing);
        changed = true;
    }
    if changed {
        BindingReconciliation::Update(Box::new(binding))
    } else {
        BindingReconciliation::Unchanged
    }
}

/// How often a default object is read again and rewritten when another writer changed it
/// between the read and the write.
const CONFLICT_RETRIES: usize = 5;

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict() || status.is_already_exists())
}

/// Creates the default ClusterRoles and ClusterRoleBindings that are missing and
/// reconciles those that exist (kube-apiserver's `rbac/bootstrap-roles` post-start hook):
/// missing rules, labels, annotations, aggregation selectors and subjects are added,
/// nothing is taken away, and objects annotated `autoupdate: "false"` are left alone.
pub async fn ensure_bootstrap_policy(client: &kube::Client) -> Result<(), kube::Error> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    for expected in bootstrap_cluster_roles() {
        retry_conflicts(|| ensure_cluster_role(&roles, &expected)).await?;
    }
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    for expected in bootstrap_cluster_role_bindings() {
        retry_conflicts(|| ensure_cluster_role_binding(&bindings, &expected)).await?;
    }
    Ok(())
}

async fn retry_conflicts<F, Fut>(mut attempt: F) -> Result<(), kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if is_conflict(&error) && tries < CONFLICT_RETRIES => tries += 1,
            result => return result,
        }
    }
}

async fn ensure_cluster_role(
    api: &Api<ClusterRole>,
    expected: &ClusterRole,
) -> Result<(), kube::Error> {
    let name = expected.metadata.name.as_deref().unwrap_or_default();
    match api.get_opt(name).await? {
        None => {
            api.create(&PostParams::default(), expected).await?;
        }
        Some(existing) => {
            if let Some(reconciled) = reconciled_cluster_role(&existing, expected) {
                api.replace(name, &PostParams::default(), &reconciled)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn ensure_cluster_role_binding(
    api: &Api<ClusterRoleBinding>,
    expected: &ClusterRoleBinding,
) -> Result<(), kube::Error> {
    let name = expected.metadata.name.as_deref().unwrap_or_default();
    let Some(existing) = api.get_opt(name).await? else {
        api.create(&PostParams::default(), expected).await?;
        return Ok(());
    };
    match reconciled_cluster_role_binding(&existing, expected) {
        BindingReconciliation::Unchanged => {}
        BindingReconciliation::Update(reconciled) => {
            api.replace(name, &PostParams::default(), &reconciled)
                .await?;
        }
        BindingReconciliation::Recreate => {
            api.delete(name, &DeleteParams::default()).await?;
            api.create(&PostParams::default(), expected).await?;
        }
    }
    Ok(())
}
