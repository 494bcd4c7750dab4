//! Each form a rule can take: verbs, groups, resources and subresources, resource
//! names, non-resource URLs.

use serde_json::json;

use super::{alice, allowed, granted_cluster_wide, request, url_request};
use crate::auth::UserInfo;

#[test]
fn verbs_and_groups_match_exactly_or_by_wildcard() {
    let index = granted_cluster_wide(json!([
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"]},
        {"verbs": ["watch"], "apiGroups": ["*"], "resources": ["leases"]},
    ]));
    let alice = alice();
    assert!(allowed(
        &index,
        &request(&alice, "get", "", "pods", "default", "p")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "list", "", "pods", "", "")
    ));
    assert!(!allowed(
        &index,
        &request(&alice, "delete", "", "pods", "default", "p")
    ));
    assert!(!allowed(
        &index,
        &request(&alice, "get", "apps", "pods", "default", "p")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "deletecollection", "apps", "deployments", "x", "")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "watch", "coordination.k8s.io", "leases", "", "")
    ));
    assert!(!allowed(
        &index,
        &request(
            &UserInfo::authenticated("bob", &[]),
            "get",
            "",
            "pods",
            "default",
            "p"
        )
    ));
}

#[test]
fn resources_match_exactly_all_or_one_subresource_of_all() {
    let index = granted_cluster_wide(json!([
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
        {"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]},
        {"verbs": ["list"], "apiGroups": ["batch"], "resources": ["*"]},
        {"verbs": ["patch"], "apiGroups": [""], "resources": ["nodes/*"]},
    ]));
    let alice = alice();
    assert!(allowed(
        &index,
        &request(&alice, "get", "", "pods/log", "default", "p")
    ));
    assert!(
        !allowed(&index, &request(&alice, "get", "", "pods", "default", "p")),
        "pods/log is not pods"
    );
    assert!(!allowed(
        &index,
        &request(&alice, "get", "", "pods/status", "default", "p")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "update", "apps", "deployments/scale", "d", "web")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "update", "apps", "statefulsets/scale", "d", "db")
    ));
    assert!(
        !allowed(
            &index,
            &request(&alice, "update", "apps", "deployments", "d", "web")
        ),
        "*/scale is no resource"
    );
    assert!(allowed(
        &index,
        &request(&alice, "list", "batch", "jobs", "", "")
    ));
    assert!(
        allowed(
            &index,
            &request(&alice, "list", "batch", "jobs/status", "", "")
        ),
        "* covers subresources"
    );
    // Kubernetes has no `resource/*` wildcard: it names a subresource called "*".
    assert!(!allowed(
        &index,
        &request(&alice, "patch", "", "nodes/status", "", "n1")
    ));
}

#[test]
fn resource_names_restrict_only_requests_that_name_an_object() {
    let index = granted_cluster_wide(json!([
        {"verbs": ["get", "list", "create", "update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"]},
    ]));
    let alice = alice();
    assert!(allowed(
        &index,
        &request(&alice, "get", "", "configmaps", "default", "settings")
    ));
    assert!(allowed(
        &index,
        &request(&alice, "update", "", "configmaps", "default", "settings")
    ));
    assert!(!allowed(
        &index,
        &request(&alice, "get", "", "configmaps", "default", "other")
    ));
    assert!(
        !allowed(
            &index,
            &request(&alice, "list", "", "configmaps", "default", "")
        ),
        "a list names nothing"
    );
    assert!(
        !allowed(
            &index,
            &request(&alice, "create", "", "configmaps", "default", "")
        ),
        "a create names nothing"
    );
}

#[test]
fn non_resource_urls_match_exactly_by_prefix_or_all() {
    let index = granted_cluster_wide(json!([
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*", "/version/"]},
        {"verbs": ["put"], "nonResourceURLs": ["*"]},
    ]));
    let alice = alice();
    assert!(allowed(&index, &url_request(&alice, "get", "/healthz")));
    assert!(
        !allowed(&index, &url_request(&alice, "get", "/healthz/ping")),
        "exact without *"
    );
    assert!(allowed(
        &index,
        &url_request(&alice, "get", "/apis/apps/v1")
    ));
    assert!(allowed(&index, &url_request(&alice, "get", "/apis/")));
    assert!(
        !allowed(&index, &url_request(&alice, "get", "/apis")),
        "the prefix is /apis/"
    );
    assert!(!allowed(&index, &url_request(&alice, "get", "/version")));
    assert!(allowed(
        &index,
        &url_request(&alice, "put", "/wasmkube/v1/blobs/sha256:00")
    ));
    assert!(
        !allowed(&index, &request(&alice, "get", "", "pods", "", "")),
        "URL rules grant no resources"
    );
}
