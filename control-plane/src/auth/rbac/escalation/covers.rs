//! Kubernetes' `Covers` (k8s.io/component-helpers/auth/rbac/validation), which decides
//! whether the rules a user holds grant everything other rules do, and the way
//! `ConfirmNoEscalation` lists what they do not: `CompactRules` and `CompactString`.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::auth::rbac::rules::url_covers;

/// The wildcard that stands for every verb, group, resource or URL.
const ALL: &str = "*";

/// How many missing permissions a refusal gathers at most. A rule's breakdown is the
/// product of its lists, so a small body can name billions of permissions; past this
/// many the answer is a refusal anyway, and listing more only costs memory.
pub const MAX_UNCOVERED: usize = 10_000;

/// `*` on every resource of every group and on every non-resource URL: what using an
/// aggregationRule needs.
pub fn full_authority() -> [PolicyRule; 2] {
    let all = || Some(vec![ALL.to_owned()]);
    [
        PolicyRule {
            verbs: vec![ALL.to_owned()],
            api_groups: all(),
            resources: all(),
            ..PolicyRule::default()
        },
        PolicyRule {
            verbs: vec![ALL.to_owned()],
            non_resource_urls: all(),
            ..PolicyRule::default()
        },
    ]
}

fn strings(list: Option<&Vec<String>>) -> &[String] {
    list.map_or(&[], Vec::as_slice)
}

/// One permission of a rule's breakdown: a verb on one resource of one group (and one
/// name, when the rule names some), or a verb on one non-resource URL.
#[derive(Clone, Copy)]
enum Permission<'a> {
    Resource {
        group: &'a str,
        resource: &'a str,
        verb: &'a str,
        name: Option<&'a str>,
    },
    Url {
        url: &'a str,
        verb: &'a str,
    },
}

/// Kubernetes' `BreakdownRule`, lazily: every group × resource × verb (× name), then
/// every URL × verb.
fn breakdown(rule: &PolicyRule) -> impl Iterator<Item = Permission<'_>> {
    let resources = strings(rule.resources.as_ref());
    let names = strings(rule.resource_names.as_ref());
    let verbs = rule.verbs.as_slice();
    let resource_permissions = strings(rule.api_groups.as_ref())
        .iter()
        .flat_map(move |group| {
            resources.iter().flat_map(move |resource| {
                verbs.iter().flat_map(move |verb| {
                    // A rule without names stands for every name: one permission.
                    let named = names.iter().map(|name| Some(name.as_str()));
                    let unnamed = names.is_empty().then_some(None);
                    named.chain(unnamed).map(move |name| Permission::Resource {
                        group: group.as_str(),
                        resource: resource.as_str(),
                        verb: verb.as_str(),
                        name,
                    })
                })
            })
        });
    let url_permissions = strings(rule.non_resource_urls.as_ref())
        .iter()
        .flat_map(move |url| {
            verbs.iter().map(move |verb| Permission::Url {
                url: url.as_str(),
                verb: verb.as_str(),
            })
        });
    resource_permissions.chain(url_permissions)
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == wanted)
}

/// Kubernetes' `resourceCoversAll` for one resource: `*`, the resource itself, or for a
/// subresource `*/<subresource>`.
fn resource_covered(owned: &[String], resource: &str) -> bool {
    has(owned, ALL)
        || has(owned, resource)
        || resource
            .split_once('/')
            .is_some_and(|(_, subresource)| has(owned, &format!("*/{subresource}")))
}

/// Kubernetes' `ruleCovers` for one permission of a breakdown.
fn permission_covered(owner: &PolicyRule, permission: Permission<'_>) -> bool {
    let owner_names = strings(owner.resource_names.as_ref());
    match permission {
        Permission::Resource {
            group,
            resource,
            verb,
            name,
        } => {
            let groups = strings(owner.api_groups.as_ref());
            (has(&owner.verbs, ALL) || has(&owner.verbs, verb))
                && (has(groups, ALL) || has(groups, group))
                && resource_covered(strings(owner.resources.as_ref()), resource)
                && match name {
                    None => owner_names.is_empty(),
                    Some(name) => owner_names.is_empty() || has(owner_names, name),
                }
        }
        Permission::Url { url, verb } => {
            (has(&owner.verbs, ALL) || has(&owner.verbs, verb))
                && owner_names.is_empty()
                && strings(owner.non_resource_urls.as_ref())
                    .iter()
                    .any(|owned| url_covers(owned, url))
        }
    }
}

/// Kubernetes' `Covers`, answering what is not covered: each permission of each of
/// `requested`'s rules must be granted by one of `owned`'s, and those that are not come
/// back as one-permission rules (at most `MAX_UNCOVERED` of them). Empty means covered.
pub fn uncovered_rules(owned: &[PolicyRule], requested: &[PolicyRule]) -> Vec<PolicyRule> {
    let single = |value: &str| Some(vec![value.to_owned()]);
    requested
        .iter()
        .flat_map(breakdown)
        .filter(|permission| {
            !owned
                .iter()
                .any(|owner| permission_covered(owner, *permission))
        })
        .take(MAX_UNCOVERED)
        .map(|permission| match permission {
            Permission::Resource {
                group,
                resource,
                verb,
                name,
            } => PolicyRule {
                verbs: vec![verb.to_owned()],
                api_groups: single(group),
                resources: single(resource),
                resource_names: name.and_then(single),
                non_resource_urls: None,
            },
            Permission::Url { url, verb } => PolicyRule {
                verbs: vec![verb.to_owned()],
                non_resource_urls: single(url),
                ..PolicyRule::default()
            },
        })
        .collect()
}

/// Kubernetes' `CompactRules`: rules of one group and one resource, without names or
/// URLs, that differ only by verb become one rule with all their verbs.
fn compact_rules(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut compacted = Vec::new();
    let mut simple: HashMap<(String, String), PolicyRule> = HashMap::new();
    for rule in rules {
        match simple_resource(&rule) {
            Some(key) => match simple.get_mut(&key) {
                Some(existing) => existing.verbs.extend(rule.verbs),
                None => {
                    simple.insert(key, rule);
                }
            },
            None => compacted.push(rule),
        }
    }
    compacted.extend(simple.into_values());
    compacted
}

/// The group and resource of a rule that has exactly one of each, verbs, and nothing
/// else (`isSimpleResourceRule`).
fn simple_resource(rule: &PolicyRule) -> Option<(String, String)> {
    if !strings(rule.resource_names.as_ref()).is_empty()
        || !strings(rule.non_resource_urls.as_ref()).is_empty()
    {
        return None;
    }
    match (
        strings(rule.api_groups.as_ref()),
        strings(rule.resources.as_ref()),
    ) {
        ([group], [resource]) => Some((group.clone(), resource.clone())),
        _ => None,
    }
}

/// The missing permissions as ConfirmNoEscalation lists them: compacted, each in
/// `CompactString` form, sorted, without repeats, one a line.
pub fn describe_missing(missing: Vec<PolicyRule>) -> String {
    let descriptions: BTreeSet<String> =
        compact_rules(missing).iter().map(compact_string).collect();
    descriptions.into_iter().collect::<Vec<_>>().join("\n")
}

/// Kubernetes' `CompactString`: `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`,
/// the empty lists left out.
pub fn compact_string(rule: &PolicyRule) -> String {
    let fields = [
        ("APIGroups", strings(rule.api_groups.as_ref())),
        ("Resources", strings(rule.resources.as_ref())),
        ("NonResourceURLs", strings(rule.non_resource_urls.as_ref())),
        ("ResourceNames", strings(rule.resource_names.as_ref())),
        ("Verbs", rule.verbs.as_slice()),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(label, values)| format!("{label}:{}", go_quoted_list(values)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// A list of strings as Go's `%q` prints a `[]string`: `["a" "b"]`.
pub fn go_quoted_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| format!("{value:?}")).collect();
    format!("[{}]", quoted.join(" "))
}
