//! Kubernetes' `Covers` (policy_comparator_test.go's cases among them), the compacted
//! description of what is missing, and the garbage collector's exemption.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

use super::covers::{
    MAX_UNCOVERED, compact_string, describe_missing, full_authority, go_quoted_list,
    uncovered_rules,
};
use super::only_mutates_garbage_collection_fields;

fn rules(rules: Value) -> Vec<PolicyRule> {
    serde_json::from_value(rules).expect("policy rules")
}

fn descriptions(owned: Value, requested: Value) -> Vec<String> {
    uncovered_rules(&rules(owned), &rules(requested))
        .iter()
        .map(compact_string)
        .collect()
}

#[test]
fn exact_and_wildcard_verbs_groups_and_resources_cover() {
    let owned = json!([
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "services"]},
        {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["watch"], "apiGroups": ["*"], "resources": ["*"]},
    ]);
    let requested = json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["list", "get"], "apiGroups": [""], "resources": ["services", "pods"]},
        {"verbs": ["create", "*"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["watch"], "apiGroups": ["batch", "*"], "resources": ["jobs", "*"]},
    ]);
    assert_eq!(descriptions(owned, requested), Vec::<String>::new());
}

#[test]
fn each_missing_permission_is_reported_on_its_own() {
    let owned = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "secrets"]}]);
    let requested = json!([
        {"verbs": ["get", "delete"], "apiGroups": ["", "apps"], "resources": ["pods"]},
    ]);
    assert_eq!(
        descriptions(owned, requested),
        [
            r#"{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#,
            r#"{APIGroups:["apps"], Resources:["pods"], Verbs:["get"]}"#,
            r#"{APIGroups:["apps"], Resources:["pods"], Verbs:["delete"]}"#,
        ]
    );
}

#[test]
fn a_wildcard_is_covered_only_by_a_wildcard() {
    let owned = json!([
        {"verbs": ["get", "list", "watch", "create"], "apiGroups": [""], "resources": ["pods"]},
    ]);
    let requested = json!([{"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}]);
    assert_eq!(
        descriptions(owned, requested),
        [r#"{APIGroups:[""], Resources:["pods"], Verbs:["*"]}"#]
    );
}

#[test]
fn subresources_are_covered_by_name_or_by_star_slash_subresource() {
    let owned = json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
        {"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]},
    ]);
    let requested = json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
        {"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments/scale", "*/scale"]},
        {"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/exec"]},
    ]);
    assert_eq!(
        descriptions(owned, requested),
        [
            r#"{APIGroups:["apps"], Resources:["deployments"], Verbs:["update"]}"#,
            r#"{APIGroups:[""], Resources:["pods/exec"], Verbs:["get"]}"#,
        ]
    );
}

#[test]
fn resource_names_narrow_what_is_held_and_what_is_granted() {
    let owned = json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a", "b"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]},
    ]);
    let requested = json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["any"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["b", "c"]},
        // A rule without names grants every name, which a rule with names does not hold.
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]},
    ]);
    assert_eq!(
        descriptions(owned, requested),
        [
            r#"{APIGroups:[""], Resources:["configmaps"], ResourceNames:["c"], Verbs:["get"]}"#,
            r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["get"]}"#,
        ]
    );
}

#[test]
fn non_resource_urls_are_covered_exactly_or_by_a_star_suffix() {
    let owned = json!([
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]},
        {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]},
    ]);
    let requested = json!([
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/apps", "/apis/*"]},
        {"verbs": ["get"], "nonResourceURLs": ["/metrics", "*"]},
        {"verbs": ["post"], "nonResourceURLs": ["/healthz"]},
    ]);
    assert_eq!(
        descriptions(owned, requested),
        [
            r#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#,
            r#"{NonResourceURLs:["*"], Verbs:["get"]}"#,
            r#"{NonResourceURLs:["/healthz"], Verbs:["post"]}"#,
        ]
    );
}

#[test]
fn a_rule_with_resource_names_covers_no_url() {
    let owned = json!([
        {"verbs": ["get"], "nonResourceURLs": ["*"], "resourceNames": ["x"]},
    ]);
    let requested = json!([{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]);
    assert_eq!(descriptions(owned, requested).len(), 1);
}

#[test]
fn full_authority_is_covered_only_by_everything() {
    let cluster_admin = json!([
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ]);
    assert!(uncovered_rules(&rules(cluster_admin), &full_authority()).is_empty());
    let almost = json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]);
    assert_eq!(
        uncovered_rules(&rules(almost), &full_authority())
            .iter()
            .map(compact_string)
            .collect::<Vec<_>>(),
        [r#"{NonResourceURLs:["*"], Verbs:["*"]}"#]
    );
}

#[test]
fn missing_permissions_are_compacted_by_resource_sorted_and_unique() {
    let requested = json!([
        {"verbs": ["list", "get"], "apiGroups": [""], "resources": ["secrets", "configmaps"]},
        {"verbs": ["create"], "apiGroups": [""], "resources": ["resourcequotas"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]},
    ]);
    let missing = uncovered_rules(&[], &rules(requested));
    assert_eq!(
        describe_missing(missing),
        [
            r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["list" "get"]}"#,
            r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["p"], Verbs:["get"]}"#,
            r#"{APIGroups:[""], Resources:["resourcequotas"], Verbs:["create"]}"#,
            r#"{APIGroups:[""], Resources:["secrets"], Verbs:["list" "get"]}"#,
        ]
        .join("\n")
    );
}

#[test]
fn a_huge_breakdown_reports_a_bounded_number_of_permissions() {
    let many = |prefix: &str| -> Vec<String> { (0..100).map(|i| format!("{prefix}{i}")).collect() };
    let requested = vec![PolicyRule {
        verbs: many("verb"),
        api_groups: Some(many("group")),
        resources: Some(many("resource")),
        ..PolicyRule::default()
    }];
    assert_eq!(uncovered_rules(&[], &requested).len(), MAX_UNCOVERED);
}

#[test]
fn lists_are_quoted_as_go_prints_them() {
    assert_eq!(
        go_quoted_list(&["dev".to_owned(), "system:authenticated".to_owned()]),
        r#"["dev" "system:authenticated"]"#
    );
    assert_eq!(go_quoted_list(&[]), "[]");
    assert_eq!(go_quoted_list(&["a\"b".to_owned()]), r#"["a\"b"]"#);
}

#[test]
fn only_owner_references_and_finalizers_changing_is_exempt() {
    let old = json!({
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "ns", "resourceVersion": "5", "finalizers": ["x"]},
        "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
    });
    let mut released = old.clone();
    released["metadata"]["finalizers"] = json!([]);
    released["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"}]);
    released["metadata"]["resourceVersion"] = json!("6");
    assert!(only_mutates_garbage_collection_fields(&released, &old));
    let mut widened = released.clone();
    widened["rules"][0]["verbs"] = json!(["*"]);
    assert!(!only_mutates_garbage_collection_fields(&widened, &old));
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] =
        json!({"rbac.authorization.k8s.io/aggregate-to-admin": "true"});
    assert!(!only_mutates_garbage_collection_fields(&relabelled, &old));
}
