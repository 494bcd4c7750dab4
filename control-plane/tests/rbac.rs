//! RBAC against a real store: the authorizer starts from what is stored and follows
//! later writes (a binding added grants, a role deleted revokes, a role relabelled joins
//! an aggregated role), and the default policy is created and reconciled through a real
//! API server.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::auth::rbac::{RbacAuthorizer, ensure_bootstrap_policy};
use wasmkube_control_plane::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use wasmkube_control_plane::server::{ControlPlaneOptions, start};
use wasmkube_control_plane::store::{ObjectKey, RedbStore, SharedStorage, WriteRequest};

/// How long a change may take to reach the authorizer before the test fails. Changes
/// arrive in milliseconds; this only bounds a broken watch.
const PATIENCE: Duration = Duration::from_secs(10);

fn rbac_key(plural: &str, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(
        &format!("{plural}.rbac.authorization.k8s.io"),
        namespace,
        name,
    )
}

async fn create(storage: &SharedStorage, plural: &str, object: Value) {
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = object["metadata"]["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    storage
        .write(WriteRequest::Create {
            key: rbac_key(plural, &namespace, &name),
            object,
        })
        .await
        .expect("the object is written");
}

fn pod_reader_role(namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": namespace},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}],
    })
}

fn role_binding(namespace: &str, name: &str, role_kind: &str, role: &str, user: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })
}

fn get_pod(user: &UserInfo, namespace: &str) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: "get".to_owned(),
        scope: RequestScope::Resource {
            api_group: String::new(),
            api_version: "v1".to_owned(),
            resource: "pods".to_owned(),
            subresource: String::new(),
            namespace: namespace.to_owned(),
            name: "web".to_owned(),
        },
        field_selector: None,
    }
}

/// Waits until the authorizer decides `attributes` as `expected`.
async fn eventually_decides(
    authorizer: &RbacAuthorizer,
    attributes: &Attributes,
    expected: Decision,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let decided = authorizer.authorize(attributes);
        if decided == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {decided:?} instead of {expected:?} after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn open_store(directory: &tempfile::TempDir) -> SharedStorage {
    Arc::new(RedbStore::open(&directory.path().join("store.redb")).expect("the store opens"))
}

#[tokio::test]
async fn the_authorizer_starts_from_the_store_and_follows_later_changes() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let storage = open_store(&directory);
    create(&storage, "roles", pod_reader_role("team")).await;
    create(
        &storage,
        "rolebindings",
        role_binding("team", "alice-reads", "Role", "pod-reader", "alice"),
    )
    .await;

    let authorizer = RbacAuthorizer::start(&storage).expect("the policy loads");
    let alice = UserInfo::authenticated("alice", &[]);
    let bob = UserInfo::authenticated("bob", &[]);
    assert_eq!(
        authorizer.authorize(&get_pod(&alice, "team")),
        Decision::Allow,
        "what was stored before the start grants"
    );
    assert_eq!(
        authorizer.authorize(&get_pod(&bob, "team")),
        Decision::NoOpinion(String::new())
    );

    create(
        &storage,
        "rolebindings",
        role_binding("team", "bob-reads", "Role", "pod-reader", "bob"),
    )
    .await;
    eventually_decides(&authorizer, &get_pod(&bob, "team"), Decision::Allow).await;
    assert_eq!(
        authorizer.authorize(&get_pod(&bob, "elsewhere")),
        Decision::NoOpinion(String::new()),
        "a RoleBinding grants in its namespace only"
    );

    storage
        .write(WriteRequest::Delete {
            key: rbac_key("roles", "team", "pod-reader"),
            expected_revision: None,
        })
        .await
        .expect("the role is deleted");
    let revoked = Decision::NoOpinion(
        "RBAC: role.rbac.authorization.k8s.io \"pod-reader\" not found".to_owned(),
    );
    eventually_decides(&authorizer, &get_pod(&alice, "team"), revoked.clone()).await;
    eventually_decides(&authorizer, &get_pod(&bob, "team"), revoked).await;

    let rules = authorizer.rules_for(&alice, "team");
    assert!(rules.rules.is_empty());
    assert_eq!(
        rules.errors,
        vec!["role.rbac.authorization.k8s.io \"pod-reader\" not found".to_owned()]
    );
}

#[tokio::test]
async fn a_cluster_role_relabelled_later_joins_an_aggregated_role() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let storage = open_store(&directory);
    create(
        &storage,
        "clusterroles",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "readers"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "example.com/readers", "operator": "Exists"}]}]},
        }),
    )
    .await;
    create(
        &storage,
        "clusterrolebindings",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "readers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "readers"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"}],
        }),
    )
    .await;
    let authorizer = RbacAuthorizer::start(&storage).expect("the policy loads");
    let auditor = UserInfo::authenticated("carol", &["auditors"]);
    let attributes = get_pod(&auditor, "anywhere");
    assert_eq!(
        authorizer.authorize(&attributes),
        Decision::NoOpinion(String::new())
    );

    let mut pods = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    });
    create(&storage, "clusterroles", pods.clone()).await;
    pods["metadata"]["labels"] = json!({"example.com/readers": "yes"});
    storage
        .write(WriteRequest::Update {
            key: rbac_key("clusterroles", "", "pod-reader"),
            object: pods,
            expected_revision: None,
        })
        .await
        .expect("the role is relabelled");
    eventually_decides(&authorizer, &attributes, Decision::Allow).await;
}

#[tokio::test]
async fn the_default_policy_is_created_and_reconciled_on_start() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let plane = start(ControlPlaneOptions {
        data_dir: directory.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        api: ApiOptions::default(),
        compaction_interval: Duration::from_secs(24 * 60 * 60),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    ensure_bootstrap_policy(&plane.client)
        .await
        .expect("the default policy is written");

    let roles: Api<ClusterRole> = Api::all(plane.client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(plane.client.clone());
    let basic_user = roles
        .get("system:basic-user")
        .await
        .expect("system:basic-user exists");
    assert_eq!(
        basic_user
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get("rbac.authorization.kubernetes.io/autoupdate"))
            .map(String::as_str),
        Some("true")
    );
    let masters = bindings
        .get("cluster-admin")
        .await
        .expect("the cluster-admin binding exists");
    assert_eq!(
        masters.subjects.unwrap_or_default()[0].name,
        "system:masters"
    );

    // An administrator trims a default role and keeps another one as it is.
    let mut trimmed = basic_user.clone();
    trimmed.rules = Some(Vec::new());
    trimmed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("mine".to_owned(), "kept".to_owned());
    roles
        .replace("system:basic-user", &PostParams::default(), &trimmed)
        .await
        .expect("the role is trimmed");
    let mut frozen = roles
        .get("system:discovery")
        .await
        .expect("system:discovery exists");
    frozen.rules = Some(Vec::new());
    frozen.metadata.annotations.get_or_insert_default().insert(
        "rbac.authorization.kubernetes.io/autoupdate".to_owned(),
        "false".to_owned(),
    );
    roles
        .replace("system:discovery", &PostParams::default(), &frozen)
        .await
        .expect("the role is frozen");

    ensure_bootstrap_policy(&plane.client)
        .await
        .expect("the default policy is reconciled");
    let restored = roles
        .get("system:basic-user")
        .await
        .expect("system:basic-user exists");
    assert_eq!(
        restored.rules.as_ref().map(Vec::len),
        Some(3),
        "the missing rules are back, one per resource"
    );
    assert_eq!(
        restored
            .metadata
            .labels
            .unwrap_or_default()
            .get("mine")
            .map(String::as_str),
        Some("kept")
    );
    let still_frozen = roles
        .get("system:discovery")
        .await
        .expect("system:discovery exists");
    assert_eq!(
        still_frozen.rules,
        Some(Vec::new()),
        "autoupdate=false keeps the role as it is"
    );

    // The authorizer reads the default policy from the store.
    let authorizer = RbacAuthorizer::start(&plane.storage).expect("the policy loads");
    let someone = UserInfo::authenticated("someone", &[]);
    let can_i = Attributes {
        user: someone.clone(),
        verb: "create".to_owned(),
        scope: RequestScope::Resource {
            api_group: "authorization.k8s.io".to_owned(),
            api_version: "v1".to_owned(),
            resource: "selfsubjectaccessreviews".to_owned(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        },
        field_selector: None,
    };
    assert_eq!(authorizer.authorize(&can_i), Decision::Allow);
    assert_eq!(
        authorizer.authorize(&get_pod(&someone, "default")),
        Decision::NoOpinion(String::new())
    );
}
