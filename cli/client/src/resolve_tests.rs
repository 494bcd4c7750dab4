use super::*;
use crate::test_fixtures::sample_catalog;

fn resolved(type_name: &str) -> String {
    match sample_catalog().resolve_type_name(type_name) {
        Ok(resource) => format!(
            "{}/{} {}",
            resource.api_version(),
            resource.plural,
            resource.kind
        ),
        Err(error) => error.to_string(),
    }
}

#[test]
fn plural_singular_short_and_kind_names_all_resolve() {
    for name in ["pods", "pod", "po", "Pod", "PODS"] {
        assert_eq!(resolved(name), "v1/pods Pod", "{name}");
    }
    assert_eq!(resolved("deploy"), "apps/v1/deployments Deployment");
    assert_eq!(resolved("svc"), "v1/services Service");
    assert_eq!(resolved("ns"), "v1/namespaces Namespace");
    assert_eq!(resolved("cm"), "v1/configmaps ConfigMap");
    assert_eq!(resolved("quota"), "v1/resourcequotas ResourceQuota");
    assert_eq!(resolved("rs"), "apps/v1/replicasets ReplicaSet");
}

#[test]
fn a_missing_singular_name_falls_back_to_the_lower_case_kind() {
    assert_eq!(resolved("cronjob"), "batch/v1/cronjobs CronJob");
    assert_eq!(resolved("cj"), "batch/v1/cronjobs CronJob");
}

#[test]
fn the_core_group_wins_and_qualified_names_pick_a_group_or_version() {
    assert_eq!(resolved("events"), "v1/events Event");
    assert_eq!(
        resolved("events.events.k8s.io"),
        "events.k8s.io/v1/events Event"
    );
    assert_eq!(
        resolved("deployments.apps"),
        "apps/v1/deployments Deployment"
    );
    assert_eq!(
        resolved("deployment.v1beta1.apps"),
        "apps/v1beta1/deployments Deployment"
    );
}

#[test]
fn subresources_and_unknown_names_do_not_resolve() {
    assert_eq!(
        resolved("pods/log"),
        "the server doesn't have a resource type \"pods/log\""
    );
    assert_eq!(
        resolved("foo"),
        "the server doesn't have a resource type \"foo\""
    );
    assert_eq!(
        resolved("pods.nope"),
        "the server doesn't have a resource type \"pods.nope\""
    );
}

#[test]
fn kinds_resolve_by_exact_group_version() {
    let catalog = sample_catalog();
    let deployment = catalog
        .resolve_kind("apps/v1", "Deployment")
        .map(DiscoveredResource::qualified_kind);
    assert_eq!(deployment.as_deref(), Some("deployment.apps"));
    assert_eq!(
        catalog
            .resolve_kind("v1", "Pod")
            .map(DiscoveredResource::qualified_kind)
            .as_deref(),
        Some("pod")
    );
    assert!(catalog.resolve_kind("v9", "Foo").is_none());
    assert!(catalog.resolve_kind("v1", "Deployment").is_none());
}

#[test]
fn collection_paths_follow_the_api_layout() {
    let catalog = sample_catalog();
    let paths: Vec<String> = [
        ("deploy", Some("team")),
        ("po", None),
        ("ns", Some("ignored")),
    ]
    .iter()
    .filter_map(|(name, namespace)| {
        catalog
            .resolve_type_name(name)
            .ok()
            .map(|r| r.collection_path(*namespace))
    })
    .collect();
    assert_eq!(
        paths,
        vec![
            "/apis/apps/v1/namespaces/team/deployments",
            "/api/v1/pods",
            "/api/v1/namespaces"
        ]
    );
}
