//! The default roles and bindings, and reconciling them with what is stored.

use serde_json::{Value, json};

use super::{allowed, binding, request, url_request, user};
use crate::auth::UserInfo;
use crate::auth::rbac::bootstrap_policy::{
    bootstrap_cluster_role_bindings, bootstrap_cluster_roles,
};
use crate::auth::rbac::index::{PolicyIndex, PolicyKind};
use crate::auth::rbac::reconcile::{
    BindingReconciliation, reconciled_cluster_role, reconciled_cluster_role_binding, uncovered,
};

#[test]
fn the_default_roles_aggregate_view_into_edit_into_admin() {
    let mut index = PolicyIndex::default();
    let roles: Vec<(String, Value)> = bootstrap_cluster_roles()
        .into_iter()
        .map(|role| {
            (
                role.metadata.name.clone().unwrap_or_default(),
                serde_json::to_value(role).expect("a role encodes"),
            )
        })
        .collect();
    index.replace_all(
        PolicyKind::ClusterRole,
        roles.iter().map(|(name, role)| ("", name.as_str(), role)),
    );
    for (role, name) in [
        ("view", "viewer"),
        ("edit", "editor"),
        ("admin", "administrator"),
    ] {
        index.upsert(
            PolicyKind::RoleBinding,
            "team",
            role,
            &binding("RoleBinding", "team", role, "ClusterRole", role, user(name)),
        );
    }
    let viewer = UserInfo::authenticated("viewer", &[]);
    let editor = UserInfo::authenticated("editor", &[]);
    let administrator = UserInfo::authenticated("administrator", &[]);
    for user in [&viewer, &editor, &administrator] {
        assert!(allowed(
            &index,
            &request(user, "list", "", "pods", "team", "")
        ));
        assert!(allowed(
            &index,
            &request(user, "get", "", "pods/log", "team", "p")
        ));
        assert!(allowed(
            &index,
            &request(user, "list", "metrics.k8s.io", "pods", "team", "")
        ));
        assert!(allowed(
            &index,
            &request(user, "get", "apps", "deployments/scale", "team", "d")
        ));
    }
    assert!(
        !allowed(&index, &request(&viewer, "get", "", "secrets", "team", "s")),
        "view reads no secrets"
    );
    assert!(!allowed(
        &index,
        &request(&viewer, "create", "", "pods", "team", "")
    ));
    assert!(allowed(
        &index,
        &request(&editor, "get", "", "secrets", "team", "s")
    ));
    assert!(allowed(
        &index,
        &request(&editor, "create", "apps", "deployments", "team", "")
    ));
    assert!(allowed(
        &index,
        &request(&editor, "create", "", "pods/portforward", "team", "p")
    ));
    assert!(!allowed(
        &index,
        &request(
            &editor,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            "team",
            ""
        )
    ));
    assert!(allowed(
        &index,
        &request(
            &administrator,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            "team",
            ""
        )
    ));
    assert!(allowed(
        &index,
        &request(
            &administrator,
            "create",
            "authorization.k8s.io",
            "localsubjectaccessreviews",
            "team",
            ""
        )
    ));
    assert!(!allowed(
        &index,
        &request(&administrator, "list", "", "pods", "other", "")
    ));
}

#[test]
fn the_default_bindings_serve_masters_discovery_bootstrappers_and_nodes() {
    let mut index = PolicyIndex::default();
    let roles: Vec<(String, Value)> = bootstrap_cluster_roles()
        .into_iter()
        .map(|role| {
            (
                role.metadata.name.clone().unwrap_or_default(),
                serde_json::to_value(role).expect("a role encodes"),
            )
        })
        .collect();
    index.replace_all(
        PolicyKind::ClusterRole,
        roles.iter().map(|(name, role)| ("", name.as_str(), role)),
    );
    let bindings: Vec<(String, Value)> = bootstrap_cluster_role_bindings()
        .into_iter()
        .map(|binding| {
            (
                binding.metadata.name.clone().unwrap_or_default(),
                serde_json::to_value(binding).expect("a binding encodes"),
            )
        })
        .collect();
    index.replace_all(
        PolicyKind::ClusterRoleBinding,
        bindings
            .iter()
            .map(|(name, binding)| ("", name.as_str(), binding)),
    );

    let master = UserInfo::authenticated("root", &["system:masters"]);
    assert!(allowed(
        &index,
        &request(&master, "delete", "apps", "deployments", "x", "d")
    ));
    assert!(allowed(
        &index,
        &url_request(&master, "post", "/wasmkube/v1/images")
    ));
    let someone = UserInfo::authenticated("someone", &[]);
    assert!(allowed(
        &index,
        &url_request(&someone, "get", "/apis/apps/v1")
    ));
    assert!(allowed(
        &index,
        &request(
            &someone,
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "",
            ""
        )
    ));
    assert!(allowed(
        &index,
        &request(
            &someone,
            "create",
            "authentication.k8s.io",
            "selfsubjectreviews",
            "",
            ""
        )
    ));
    assert!(!allowed(
        &index,
        &request(&someone, "list", "", "pods", "default", "")
    ));
    assert!(!allowed(
        &index,
        &url_request(&someone, "get", "/wasmkube/v1/blobs/sha256:00")
    ));
    let anonymous = UserInfo::anonymous();
    assert!(allowed(&index, &url_request(&anonymous, "get", "/version")));
    assert!(!allowed(&index, &url_request(&anonymous, "get", "/api")));
    let bootstrap = UserInfo::authenticated("system:bootstrap:abcdef", &["system:bootstrappers"]);
    assert!(allowed(
        &index,
        &request(
            &bootstrap,
            "create",
            "certificates.k8s.io",
            "certificatesigningrequests",
            "",
            ""
        )
    ));
    assert!(allowed(
        &index,
        &request(
            &bootstrap,
            "create",
            "certificates.k8s.io",
            "certificatesigningrequests/nodeclient",
            "",
            ""
        )
    ));
    let node = UserInfo::node("n1");
    assert!(allowed(
        &index,
        &url_request(&node, "get", "/wasmkube/v1/blobs/sha256:00")
    ));
    assert!(!allowed(
        &index,
        &url_request(&node, "put", "/wasmkube/v1/blobs/sha256:00")
    ));
}

#[test]
fn reconciliation_adds_what_the_default_has_and_keeps_the_rest() {
    let defaults = bootstrap_cluster_roles();
    let expected = defaults
        .iter()
        .find(|role| role.metadata.name.as_deref() == Some("system:basic-user"))
        .expect("system:basic-user is a default");
    let mut existing = expected.clone();
    existing.rules = Some(vec![serde_json::from_value(json!({"verbs": ["create", "get"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "extra"]})).expect("a rule")]);
    existing.metadata.labels = Some([("mine".to_owned(), "yes".to_owned())].into());
    let reconciled = reconciled_cluster_role(&existing, expected).expect("rules are missing");
    let rules = reconciled.rules.clone().unwrap_or_default();
    assert_eq!(
        rules[0],
        existing.rules.as_ref().expect("rules")[0],
        "what was there stays"
    );
    assert!(uncovered(&rules, expected.rules.as_deref().unwrap_or_default()).is_empty());
    let labels = reconciled.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("mine").map(String::as_str), Some("yes"));
    assert_eq!(
        labels
            .get("kubernetes.io/bootstrapping")
            .map(String::as_str),
        Some("rbac-defaults")
    );
    assert_eq!(
        reconciled_cluster_role(&reconciled, expected),
        None,
        "a second pass changes nothing"
    );

    let mut protected = existing.clone();
    protected.metadata.annotations = Some(
        [(
            "rbac.authorization.kubernetes.io/autoupdate".to_owned(),
            "false".to_owned(),
        )]
        .into(),
    );
    assert_eq!(reconciled_cluster_role(&protected, expected), None);

    let bindings = bootstrap_cluster_role_bindings();
    let expected_binding = &bindings[0];
    let mut existing_binding = expected_binding.clone();
    existing_binding.subjects = Some(Vec::new());
    match reconciled_cluster_role_binding(&existing_binding, expected_binding) {
        BindingReconciliation::Update(updated) => {
            assert_eq!(updated.subjects, expected_binding.subjects)
        }
        other => panic!("expected an update, got {other:?}"),
    }
    existing_binding.role_ref.name = "view".to_owned();
    assert_eq!(
        reconciled_cluster_role_binding(&existing_binding, expected_binding),
        BindingReconciliation::Recreate
    );
}
