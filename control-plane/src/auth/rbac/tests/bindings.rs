//! Who a binding grants to, where, and which rules: RoleBindings of Roles and of
//! ClusterRoles, ServiceAccount subjects, aggregated ClusterRoles, missing roles.

use serde_json::json;

use super::{alice, allowed, binding, cluster_role, granted_cluster_wide, request, role, user};
use crate::auth::rbac::index::{PolicyIndex, PolicyKind, aggregate_errors};
use crate::auth::{Decision, UserInfo};

#[test]
fn a_role_binding_grants_a_cluster_role_only_in_its_namespace() {
    let mut index = PolicyIndex::default();
    index.upsert(
        PolicyKind::ClusterRole,
        "",
        "pod-reader",
        &cluster_role(
            "pod-reader",
            json!([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]),
        ),
    );
    index.upsert(
        PolicyKind::RoleBinding,
        "team",
        "read-pods",
        &binding(
            "RoleBinding",
            "team",
            "read-pods",
            "ClusterRole",
            "pod-reader",
            user("alice"),
        ),
    );
    let alice = alice();
    assert!(allowed(
        &index,
        &request(&alice, "list", "", "pods", "team", "")
    ));
    assert!(!allowed(
        &index,
        &request(&alice, "list", "", "pods", "other", "")
    ));
    assert!(
        !allowed(&index, &request(&alice, "list", "", "pods", "", "")),
        "not across all namespaces"
    );
}

#[test]
fn a_role_binding_finds_its_role_in_its_own_namespace() {
    let mut index = PolicyIndex::default();
    let rules = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]);
    index.upsert(
        PolicyKind::Role,
        "team",
        "secret-reader",
        &role("team", "secret-reader", rules.clone()),
    );
    index.upsert(
        PolicyKind::Role,
        "other",
        "secret-reader",
        &role("other", "secret-reader", rules),
    );
    index.upsert(
        PolicyKind::RoleBinding,
        "team",
        "b",
        &binding(
            "RoleBinding",
            "team",
            "b",
            "Role",
            "secret-reader",
            json!([{"kind": "Group", "name": "developers"}]),
        ),
    );
    let alice = alice();
    assert!(allowed(
        &index,
        &request(&alice, "get", "", "secrets", "team", "s")
    ));
    assert!(!allowed(
        &index,
        &request(&alice, "get", "", "secrets", "other", "s")
    ));
    index.remove(PolicyKind::Role, "team", "secret-reader");
    assert_eq!(
        index.authorize(&request(&alice, "get", "", "secrets", "team", "s")),
        Decision::NoOpinion(
            "RBAC: role.rbac.authorization.k8s.io \"secret-reader\" not found".to_owned()
        )
    );
}

#[test]
fn service_account_subjects_default_to_the_binding_namespace() {
    let mut index = PolicyIndex::default();
    index.upsert(
        PolicyKind::ClusterRole,
        "",
        "view-cm",
        &cluster_role(
            "view-cm",
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]),
        ),
    );
    index.upsert(
        PolicyKind::RoleBinding,
        "team",
        "local-sa",
        &binding(
            "RoleBinding",
            "team",
            "local-sa",
            "ClusterRole",
            "view-cm",
            json!([{"kind": "ServiceAccount", "name": "builder"}]),
        ),
    );
    index.upsert(
        PolicyKind::ClusterRoleBinding,
        "",
        "no-namespace",
        &binding(
            "ClusterRoleBinding",
            "",
            "no-namespace",
            "ClusterRole",
            "view-cm",
            json!([{"kind": "ServiceAccount", "name": "deployer"}]),
        ),
    );
    index.upsert(
        PolicyKind::ClusterRoleBinding,
        "",
        "named-sa",
        &binding(
            "ClusterRoleBinding",
            "",
            "named-sa",
            "ClusterRole",
            "view-cm",
            json!([{"kind": "ServiceAccount", "name": "robot", "namespace": "ops"}]),
        ),
    );
    let service_account = |namespace: &str, name: &str| {
        UserInfo::authenticated(
            format!("system:serviceaccount:{namespace}:{name}"),
            &[
                "system:serviceaccounts",
                &format!("system:serviceaccounts:{namespace}"),
            ],
        )
    };
    let get =
        |user: &UserInfo, namespace: &str| request(user, "get", "", "configmaps", namespace, "c");
    assert!(allowed(
        &index,
        &get(&service_account("team", "builder"), "team")
    ));
    assert!(!allowed(
        &index,
        &get(&service_account("other", "builder"), "team")
    ));
    assert!(
        !allowed(&index, &get(&service_account("team", "deployer"), "team")),
        "a cluster binding needs the namespace"
    );
    assert!(allowed(
        &index,
        &get(&service_account("ops", "robot"), "anywhere")
    ));
    assert!(allowed(&index, &get(&service_account("ops", "robot"), "")));
}

#[test]
fn aggregated_cluster_roles_follow_the_roles_they_select() {
    let mut index = PolicyIndex::default();
    let aggregated = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate-to-monitoring": "true"}}]},
        "rules": [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}],
    });
    index.upsert(PolicyKind::ClusterRole, "", "monitoring", &aggregated);
    index.upsert(
        PolicyKind::ClusterRoleBinding,
        "",
        "monitoring",
        &binding(
            "ClusterRoleBinding",
            "",
            "monitoring",
            "ClusterRole",
            "monitoring",
            user("alice"),
        ),
    );
    let alice = alice();
    let get_endpoints = request(&alice, "get", "", "endpoints", "default", "e");
    assert!(!allowed(&index, &get_endpoints));
    assert!(
        !allowed(
            &index,
            &request(&alice, "delete", "", "pods", "default", "p")
        ),
        "an aggregated role's own rules are replaced by the aggregation"
    );
    let mut selected = cluster_role(
        "endpoints-reader",
        json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["endpoints"]}]),
    );
    selected["metadata"]["labels"] = json!({"aggregate-to-monitoring": "true"});
    index.upsert(PolicyKind::ClusterRole, "", "endpoints-reader", &selected);
    assert!(allowed(&index, &get_endpoints));
    selected["metadata"]["labels"] = json!({});
    index.upsert(PolicyKind::ClusterRole, "", "endpoints-reader", &selected);
    assert!(
        !allowed(&index, &get_endpoints),
        "a role that stops matching stops granting"
    );
}

#[test]
fn missing_roles_are_the_reason_and_rules_are_listed_per_namespace() {
    let mut index =
        granted_cluster_wide(json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]));
    index.upsert(
        PolicyKind::ClusterRoleBinding,
        "",
        "dangling",
        &binding(
            "ClusterRoleBinding",
            "",
            "dangling",
            "ClusterRole",
            "gone",
            user("alice"),
        ),
    );
    index.upsert(
        PolicyKind::RoleBinding,
        "team",
        "local",
        &binding(
            "RoleBinding",
            "team",
            "local",
            "ClusterRole",
            "granted",
            user("alice"),
        ),
    );
    let alice = alice();
    assert_eq!(
        index.authorize(&request(&alice, "delete", "", "pods", "default", "p")),
        Decision::NoOpinion(
            "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found".to_owned()
        )
    );
    assert_eq!(index.rules_for(&alice, "default").rules.len(), 1);
    let in_team = index.rules_for(&alice, "team");
    assert_eq!(in_team.rules.len(), 2);
    assert_eq!(
        in_team.errors,
        vec!["clusterrole.rbac.authorization.k8s.io \"gone\" not found".to_owned()]
    );
    assert_eq!(
        aggregate_errors(&["a".into(), "b".into(), "a".into()]),
        "[a, b]"
    );
}
