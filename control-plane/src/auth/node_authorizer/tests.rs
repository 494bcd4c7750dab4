//! The rules that need no pods: who is a node, Nodes, Leases, events, the pod network's
//! reads, certificate signing requests, and the reasons of refusals. The rules over
//! bound pods and their references are tested against a real store in
//! `control-plane/tests/node_authorizer.rs`.

use std::sync::Arc;

use super::NodeAuthorizer;
use crate::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use crate::store::RedbStore;

/// An authorizer over an empty store; the directory must outlive it.
fn authorizer() -> (NodeAuthorizer, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(&directory.path().join("store.redb")).expect("the store opens");
    let authorizer = NodeAuthorizer::start(Arc::new(store)).expect("the authorizer starts");
    (authorizer, directory)
}

/// A request of `user`; `resource` is `group/resource/subresource` with empty parts
/// allowed (`/pods/status`), `object` is `namespace/name`.
fn request(user: &UserInfo, verb: &str, resource: &str, object: &str) -> Attributes {
    let mut parts = resource.splitn(3, '/');
    let mut part = || parts.next().unwrap_or_default().to_owned();
    let (api_group, resource, subresource) = (part(), part(), part());
    let (namespace, name) = object.split_once('/').unwrap_or(("", object));
    Attributes {
        user: user.clone(),
        verb: verb.to_owned(),
        scope: RequestScope::Resource {
            api_group,
            api_version: "v1".to_owned(),
            resource,
            subresource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        field_selector: None,
    }
}

fn selecting(mut attributes: Attributes, selector: &str) -> Attributes {
    attributes.field_selector = Some(selector.to_owned());
    attributes
}

fn node() -> UserInfo {
    UserInfo::node("n1")
}

fn refused_because(decision: Decision) -> String {
    match decision {
        Decision::NoOpinion(reason) => reason,
        other => panic!("expected no opinion, got {other:?}"),
    }
}

#[tokio::test]
async fn users_that_are_not_nodes_get_no_opinion_and_no_reason() {
    let (authorizer, _directory) = authorizer();
    let not_in_nodes_group = UserInfo::authenticated("system:node:n1", &[]);
    for user in [
        UserInfo::api_server(),
        UserInfo::anonymous(),
        UserInfo::authenticated("alice", &["system:nodes"]),
        not_in_nodes_group,
    ] {
        let decision = authorizer.authorize(&request(&user, "get", "/nodes", "n1"));
        assert_eq!(decision, Decision::NoOpinion(String::new()), "{user:?}");
    }
}

#[tokio::test]
async fn a_node_reads_every_node_and_writes_only_its_own() {
    let (authorizer, _directory) = authorizer();
    let node = node();
    for verb in ["get", "list", "watch"] {
        let name = if verb == "get" { "n2" } else { "" };
        let decision = authorizer.authorize(&request(&node, verb, "/nodes", name));
        assert_eq!(decision, Decision::Allow, "{verb}");
    }
    // A create's name is in its body, checked by NodeRestriction at admission.
    assert_eq!(
        authorizer.authorize(&request(&node, "create", "/nodes", "")),
        Decision::Allow
    );
    for (verb, resource) in [
        ("update", "/nodes"),
        ("patch", "/nodes"),
        ("update", "/nodes/status"),
        ("patch", "/nodes/status"),
    ] {
        // Which Node is checked at admission, by `restriction::admit_modification`.
        for name in ["n1", "n2"] {
            let decision = authorizer.authorize(&request(&node, verb, resource, name));
            assert_eq!(decision, Decision::Allow, "{verb} {resource} {name}");
        }
    }
    for (verb, resource) in [
        ("delete", "/nodes"),
        ("get", "/nodes/proxy"),
        ("get", "/nodes/status"),
    ] {
        let reason = refused_because(authorizer.authorize(&request(&node, verb, resource, "n1")));
        assert!(reason.contains("can only read nodes"), "{reason}");
    }
}

#[tokio::test]
async fn a_node_keeps_only_its_own_lease() {
    let (authorizer, _directory) = authorizer();
    let node = node();
    let lease = "coordination.k8s.io/leases";
    for verb in ["get", "update", "patch", "create"] {
        let own = authorizer.authorize(&request(&node, verb, lease, "kube-node-lease/n1"));
        assert_eq!(own, Decision::Allow, "{verb}");
        let other = authorizer.authorize(&request(&node, verb, lease, "kube-node-lease/n2"));
        assert_eq!(
            refused_because(other),
            "can only access node lease with the same name as the requesting node"
        );
    }
    assert_eq!(
        authorizer.authorize(&request(&node, "create", lease, "kube-node-lease/")),
        Decision::Allow
    );
    assert_eq!(
        refused_because(authorizer.authorize(&request(&node, "get", lease, "default/n1"))),
        "can only access leases in the \"kube-node-lease\" system namespace"
    );
    for verb in ["list", "watch"] {
        let collection = request(&node, verb, lease, "kube-node-lease/");
        assert_eq!(
            authorizer.authorize(&selecting(collection.clone(), "metadata.name=n1")),
            Decision::Allow
        );
        assert!(matches!(
            authorizer.authorize(&selecting(collection.clone(), "metadata.name=n2")),
            Decision::NoOpinion(_)
        ));
        assert!(matches!(
            authorizer.authorize(&collection),
            Decision::NoOpinion(_)
        ));
    }
    assert!(matches!(
        authorizer.authorize(&request(&node, "delete", lease, "kube-node-lease/n1")),
        Decision::NoOpinion(_)
    ));
}

#[tokio::test]
async fn a_node_writes_events_and_reads_what_the_pod_network_needs() {
    let (authorizer, _directory) = authorizer();
    let node = node();
    for resource in ["/events", "events.k8s.io/events"] {
        for verb in ["create", "update", "patch"] {
            let decision = authorizer.authorize(&request(&node, verb, resource, "default/e"));
            assert_eq!(decision, Decision::Allow, "{verb} {resource}");
        }
        for verb in ["get", "list", "delete"] {
            let reason =
                refused_because(authorizer.authorize(&request(&node, verb, resource, "default/e")));
            assert_eq!(reason, "can only create, update or patch events");
        }
    }
    for resource in [
        "/services",
        "/endpoints",
        "discovery.k8s.io/endpointslices",
        "/namespaces",
    ] {
        for verb in ["get", "list", "watch"] {
            let decision = authorizer.authorize(&request(&node, verb, resource, ""));
            assert_eq!(decision, Decision::Allow, "{verb} {resource}");
        }
        for (verb, resource) in [
            ("create", resource.to_owned()),
            ("delete", resource.to_owned()),
            ("update", format!("{resource}/status")),
        ] {
            let decision = authorizer.authorize(&request(&node, verb, &resource, "x"));
            assert!(
                matches!(decision, Decision::NoOpinion(_)),
                "{verb} {resource}"
            );
        }
    }
    let settings = "kube-system/wasmkube-pod-network";
    assert_eq!(
        authorizer.authorize(&request(&node, "get", "/configmaps", settings)),
        Decision::Allow
    );
    for verb in ["list", "watch"] {
        let collection = request(&node, verb, "/configmaps", "kube-system/");
        assert_eq!(
            authorizer.authorize(&selecting(
                collection.clone(),
                "metadata.name=wasmkube-pod-network"
            )),
            Decision::Allow
        );
        assert!(matches!(
            authorizer.authorize(&collection),
            Decision::NoOpinion(_)
        ));
    }
    // Only the ConfigMap: the Secret of the same name is no pod's reference.
    for (verb, resource, object) in [
        ("get", "/configmaps", "default/wasmkube-pod-network"),
        ("update", "/configmaps", settings),
        ("get", "/secrets", settings),
    ] {
        let decision = authorizer.authorize(&request(&node, verb, resource, object));
        assert!(
            matches!(decision, Decision::NoOpinion(_)),
            "{verb} {resource} {object}"
        );
    }
}

#[tokio::test]
async fn a_node_requests_certificates() {
    let (authorizer, _directory) = authorizer();
    let node = node();
    let requests = "certificates.k8s.io/certificatesigningrequests";
    for verb in ["create", "get", "list", "watch"] {
        let decision = authorizer.authorize(&request(&node, verb, requests, ""));
        assert_eq!(decision, Decision::Allow, "{verb}");
    }
    let self_client = format!("{requests}/selfnodeclient");
    assert_eq!(
        authorizer.authorize(&request(&node, "create", &self_client, "")),
        Decision::Allow
    );
    for (verb, resource) in [
        ("delete", requests.to_owned()),
        ("update", format!("{requests}/approval")),
    ] {
        let reason = refused_because(authorizer.authorize(&request(&node, verb, &resource, "c")));
        assert_eq!(
            reason,
            "can only create, get, list or watch certificate signing requests"
        );
    }
}

#[tokio::test]
async fn everything_else_is_refused_with_a_reason() {
    let (authorizer, _directory) = authorizer();
    let node = node();
    let cases = [
        (
            "list",
            "/pods",
            "",
            "can only list/watch pods with spec.nodeName field selector",
        ),
        (
            "create",
            "/pods",
            "default/",
            "node 'n1' cannot create pods: mirror pods are not supported",
        ),
        (
            "update",
            "/pods",
            "default/p",
            "node 'n1' can only get, list, watch and delete pods bound to it and update their status, not update pods",
        ),
        (
            "get",
            "/pods/log",
            "default/p",
            "node 'n1' can only get, list, watch and delete pods bound to it and update their status, not get pods/log",
        ),
        ("get", "/pods", "default/", "No Object name found"),
        (
            "get",
            "/pods",
            "default/p",
            "no relationship found between node 'n1' and this object",
        ),
        (
            "delete",
            "/secrets",
            "default/s",
            "can only read resources of this type",
        ),
        ("get", "/secrets/x", "default/s", "cannot read subresource"),
        (
            "list",
            "/secrets",
            "",
            "can only read namespaced object of this type",
        ),
        (
            "list",
            "/secrets",
            "default/",
            "can only list/watch individual objects of this type with a metadata.name field selector",
        ),
        (
            "get",
            "/secrets",
            "default/s",
            "no relationship found between node 'n1' and this object",
        ),
        (
            "list",
            "/serviceaccounts",
            "default/",
            "can only get service accounts and create their tokens",
        ),
        (
            "get",
            "/serviceaccounts/token",
            "default/sa",
            "can only create tokens for individual service accounts",
        ),
        (
            "list",
            "apps/deployments",
            "",
            "no rule of the node authorizer lets node 'n1' list deployments in API group \"apps\"",
        ),
        (
            "create",
            "rbac.authorization.k8s.io/clusterrolebindings",
            "",
            "no rule of the node authorizer lets node 'n1' create clusterrolebindings in API group \"rbac.authorization.k8s.io\"",
        ),
    ];
    for (verb, resource, object, expected) in cases {
        let decision = authorizer.authorize(&request(&node, verb, resource, object));
        assert_eq!(
            refused_because(decision),
            expected,
            "{verb} {resource} {object}"
        );
    }
    let blobs = Attributes {
        user: node.clone(),
        verb: "get".to_owned(),
        scope: RequestScope::NonResource {
            path: "/wasmkube/v1/blobs/sha256:00".to_owned(),
        },
        field_selector: None,
    };
    assert_eq!(
        refused_because(authorizer.authorize(&blobs)),
        "the node authorizer grants node 'n1' no non-resource URLs such as /wasmkube/v1/blobs/sha256:00"
    );
}
