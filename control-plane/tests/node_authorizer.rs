//! The node authorizer against a real store: pods bound to two nodes reference secrets,
//! configmaps, a claim and a service account; each node may read and report on only
//! its own pods and what they reference, and access follows pods as they are bound,
//! recreated on another node and deleted.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wasmkube_control_plane::auth::node_authorizer::NodeAuthorizer;
use wasmkube_control_plane::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use wasmkube_control_plane::store::{
    ObjectKey, RedbStore, SharedStorage, StoreError, WriteRequest,
};

const NO_RELATIONSHIP_N1: &str = "no relationship found between node 'n1' and this object";

struct Cluster {
    storage: SharedStorage,
    _directory: tempfile::TempDir,
}

impl Cluster {
    fn open() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let store = RedbStore::open(&directory.path().join("store.redb")).expect("the store opens");
        Self {
            storage: Arc::new(store),
            _directory: directory,
        }
    }

    async fn write(&self, request: WriteRequest) {
        self.storage
            .write(request)
            .await
            .expect("the write succeeds");
    }

    async fn create_pod(&self, pod: Value) {
        let key = pod_key(&pod);
        self.write(WriteRequest::Create { key, object: pod }).await;
    }

    async fn update_pod(&self, pod: Value) {
        let key = pod_key(&pod);
        self.write(WriteRequest::Update {
            key,
            object: pod,
            expected_revision: None,
        })
        .await;
    }

    async fn delete_pod(&self, name: &str) {
        self.write(WriteRequest::Delete {
            key: ObjectKey::new("pods", "default", name),
            expected_revision: None,
        })
        .await;
    }
}

fn pod_key(pod: &Value) -> ObjectKey {
    ObjectKey::new(
        "pods",
        pod["metadata"]["namespace"].as_str().unwrap_or("default"),
        pod["metadata"]["name"].as_str().expect("a pod name"),
    )
}

/// A pod in `default`, bound to `node` when given, whose container reads `secret`.
fn pod(name: &str, uid: &str, node: Option<&str>, secret: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "spec": {
            "nodeName": node,
            "serviceAccountName": "default",
            "containers": [{"name": "app", "image": "hello", "envFrom": [{"secretRef": {"name": secret}}]}],
        },
    })
}

/// The web pod on n1, referencing something of every kind in every way.
fn web_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
        "spec": {
            "nodeName": "n1",
            "serviceAccountName": "web-sa",
            "imagePullSecrets": [{"name": "pull-secret"}],
            "initContainers": [{"name": "init", "image": "hello", "env": [
                {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "init-config", "key": "a"}}},
            ]}],
            "containers": [{"name": "app", "image": "hello", "env": [
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "b"}}},
            ]}],
            "volumes": [
                {"name": "tls", "secret": {"secretName": "web-secret"}},
                {"name": "settings", "configMap": {"name": "web-config"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                {"name": "bundle", "projected": {"sources": [
                    {"configMap": {"name": "projected-config"}},
                    {"serviceAccountToken": {"path": "token"}},
                ]}},
            ],
        },
    })
}

/// `user`'s request: `resource` is `group/resource/subresource` (empty parts allowed),
/// `object` is `namespace/name`.
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

fn allowed(authorizer: &NodeAuthorizer, attributes: &Attributes) -> bool {
    authorizer.authorize(attributes) == Decision::Allow
}

fn reason(authorizer: &NodeAuthorizer, attributes: &Attributes) -> String {
    match authorizer.authorize(attributes) {
        Decision::NoOpinion(reason) => reason,
        other => panic!("expected no opinion for {attributes:?}, got {other:?}"),
    }
}

/// Waits until `condition` holds: the index follows the store on a task of its own.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A store with the web pod on n1 written before the authorizer starts (found by its
/// list) and a db pod on n2 and an unbound pod written after (found by its watch).
async fn two_nodes() -> anyhow::Result<(Cluster, NodeAuthorizer)> {
    let cluster = Cluster::open();
    cluster.create_pod(web_pod()).await;
    let authorizer = NodeAuthorizer::start(Arc::clone(&cluster.storage))?;
    cluster
        .create_pod(pod("db", "uid-db", Some("n2"), "db-secret"))
        .await;
    cluster
        .create_pod(pod("pending", "uid-pending", None, "pending-secret"))
        .await;
    Ok((cluster, authorizer))
}

#[tokio::test]
async fn a_node_reads_lists_and_reports_on_only_its_own_pods() -> anyhow::Result<()> {
    let (_cluster, authorizer) = two_nodes().await?;
    let (n1, n2) = (UserInfo::node("n1"), UserInfo::node("n2"));
    for (verb, resource) in [
        ("get", "/pods"),
        ("delete", "/pods"),
        ("update", "/pods/status"),
        ("patch", "/pods/status"),
    ] {
        let web = request(&n1, verb, resource, "default/web");
        assert!(allowed(&authorizer, &web), "{verb} {resource} web");
        for other in ["default/db", "default/pending", "other/web"] {
            let refused = request(&n1, verb, resource, other);
            assert_eq!(reason(&authorizer, &refused), NO_RELATIONSHIP_N1);
        }
        let db = request(&n2, verb, resource, "default/db");
        assert!(allowed(&authorizer, &db), "{verb} {resource} db");
        assert!(!allowed(
            &authorizer,
            &request(&n2, verb, resource, "default/web")
        ));
    }
    for verb in ["list", "watch"] {
        for namespace in ["", "default/"] {
            let collection = request(&n1, verb, "/pods", namespace);
            let own = selecting(collection.clone(), "spec.nodeName=n1");
            assert!(allowed(&authorizer, &own), "{verb} {namespace}");
            let narrowed = selecting(collection.clone(), "spec.nodeName=n1,status.phase!=Failed");
            assert!(allowed(&authorizer, &narrowed));
            for refused in [
                collection.clone(),
                selecting(collection.clone(), "spec.nodeName=n2"),
                selecting(collection.clone(), "spec.nodeName!=n2"),
                selecting(collection.clone(), "metadata.name=web"),
            ] {
                assert_eq!(
                    reason(&authorizer, &refused),
                    "can only list/watch pods with spec.nodeName field selector"
                );
            }
        }
    }
    assert_eq!(
        reason(&authorizer, &request(&n1, "create", "/pods", "default/")),
        "node 'n1' cannot create pods: mirror pods are not supported"
    );
    for (verb, resource) in [
        ("update", "/pods"),
        ("patch", "/pods"),
        ("get", "/pods/log"),
        ("create", "/pods/eviction"),
        ("create", "/pods/binding"),
        ("deletecollection", "/pods"),
    ] {
        assert!(!allowed(
            &authorizer,
            &request(&n1, verb, resource, "default/web")
        ));
    }
    Ok(())
}

#[tokio::test]
async fn a_node_reads_only_what_its_pods_reference() -> anyhow::Result<()> {
    let (_cluster, authorizer) = two_nodes().await?;
    let (n1, n2) = (UserInfo::node("n1"), UserInfo::node("n2"));
    let referenced_by_web = [
        ("/secrets", "web-secret"),
        ("/secrets", "env-secret"),
        ("/secrets", "pull-secret"),
        ("/configmaps", "web-config"),
        ("/configmaps", "init-config"),
        ("/configmaps", "projected-config"),
        ("/persistentvolumeclaims", "web-data"),
    ];
    for (resource, name) in referenced_by_web {
        let object = format!("default/{name}");
        assert!(
            allowed(&authorizer, &request(&n1, "get", resource, &object)),
            "{resource} {name}"
        );
        for verb in ["list", "watch"] {
            let one = selecting(
                request(&n1, verb, resource, "default/"),
                &format!("metadata.name={name}"),
            );
            assert!(allowed(&authorizer, &one), "{verb} {resource} {name}");
            let elsewhere = selecting(
                request(&n1, verb, resource, "other/"),
                &format!("metadata.name={name}"),
            );
            assert_eq!(reason(&authorizer, &elsewhere), NO_RELATIONSHIP_N1);
            let everything = request(&n1, verb, resource, "default/");
            assert!(
                !allowed(&authorizer, &everything),
                "{verb} {resource} unselected"
            );
            let everywhere = selecting(
                request(&n1, verb, resource, ""),
                &format!("metadata.name={name}"),
            );
            assert!(
                !allowed(&authorizer, &everywhere),
                "{verb} {resource} all namespaces"
            );
        }
        // n2 runs no pod that needs it; nor may anyone write it.
        assert!(!allowed(
            &authorizer,
            &request(&n2, "get", resource, &object)
        ));
        for verb in ["update", "patch", "delete"] {
            assert!(!allowed(
                &authorizer,
                &request(&n1, verb, resource, &object)
            ));
        }
    }
    for refused in ["db-secret", "pending-secret", "unreferenced"] {
        let secret = request(&n1, "get", "/secrets", &format!("default/{refused}"));
        assert_eq!(
            reason(&authorizer, &secret),
            NO_RELATIONSHIP_N1,
            "{refused}"
        );
    }
    assert!(allowed(
        &authorizer,
        &request(&n2, "get", "/secrets", "default/db-secret")
    ));
    assert!(!allowed(
        &authorizer,
        &request(&n2, "get", "/secrets", "default/pending-secret")
    ));

    // The service account: read it and ask for its tokens, for a pod of the node only.
    assert!(allowed(
        &authorizer,
        &request(&n1, "get", "/serviceaccounts", "default/web-sa")
    ));
    let token = request(&n1, "create", "/serviceaccounts/token", "default/web-sa");
    assert!(allowed(&authorizer, &token));
    let db_token = request(&n1, "create", "/serviceaccounts/token", "default/default");
    assert_eq!(reason(&authorizer, &db_token), NO_RELATIONSHIP_N1);
    assert!(allowed(
        &authorizer,
        &request(&n2, "create", "/serviceaccounts/token", "default/default")
    ));
    assert!(!allowed(
        &authorizer,
        &request(&n2, "create", "/serviceaccounts/token", "default/web-sa")
    ));
    assert!(!allowed(
        &authorizer,
        &request(&n1, "list", "/serviceaccounts", "default/")
    ));

    // Every node reads the pod network's settings ConfigMap, as its reflector does.
    for node in [&n1, &n2] {
        let settings = selecting(
            request(node, "watch", "/configmaps", "kube-system/"),
            "metadata.name=wasmkube-pod-network",
        );
        assert!(allowed(&authorizer, &settings));
    }
    Ok(())
}

#[tokio::test]
async fn the_rules_that_need_no_pods_hold_against_a_real_store() -> anyhow::Result<()> {
    let (_cluster, authorizer) = two_nodes().await?;
    let n1 = UserInfo::node("n1");
    let lease = "coordination.k8s.io/leases";
    let csr = "certificates.k8s.io/certificatesigningrequests";
    let allowed_requests = [
        request(&n1, "get", "/nodes", "n2"),
        request(&n1, "list", "/nodes", ""),
        request(&n1, "watch", "/nodes", ""),
        request(&n1, "create", "/nodes", ""),
        request(&n1, "patch", "/nodes", "n1"),
        request(&n1, "update", "/nodes", "n1"),
        request(&n1, "patch", "/nodes/status", "n1"),
        request(&n1, "update", "/nodes/status", "n1"),
        // Which Node a node modifies is NodeRestriction's check, at admission.
        request(&n1, "patch", "/nodes", "n2"),
        request(&n1, "patch", "/nodes/status", "n2"),
        request(&n1, "get", lease, "kube-node-lease/n1"),
        request(&n1, "create", lease, "kube-node-lease/"),
        request(&n1, "update", lease, "kube-node-lease/n1"),
        request(&n1, "patch", lease, "kube-node-lease/n1"),
        selecting(
            request(&n1, "watch", lease, "kube-node-lease/"),
            "metadata.name=n1",
        ),
        request(&n1, "create", "/events", "default/"),
        request(&n1, "patch", "/events", "default/web.1"),
        request(&n1, "update", "events.k8s.io/events", "default/web.1"),
        request(&n1, "watch", "/services", ""),
        request(&n1, "list", "/endpoints", ""),
        request(&n1, "watch", "discovery.k8s.io/endpointslices", ""),
        request(&n1, "get", "/namespaces", "default"),
        request(&n1, "create", csr, ""),
        request(&n1, "watch", csr, ""),
        request(&n1, "create", &format!("{csr}/selfnodeclient"), ""),
    ];
    for attributes in &allowed_requests {
        assert!(allowed(&authorizer, attributes), "{attributes:?}");
    }
    let refused_requests = [
        request(&n1, "delete", "/nodes", "n1"),
        request(&n1, "get", "/nodes/proxy", "n2"),
        request(&n1, "patch", lease, "kube-node-lease/n2"),
        request(&n1, "get", lease, "default/n1"),
        request(&n1, "list", lease, "kube-node-lease/"),
        request(&n1, "delete", lease, "kube-node-lease/n1"),
        request(&n1, "get", "/events", "default/web.1"),
        request(&n1, "create", "/services", "default/"),
        request(&n1, "delete", "/namespaces", "default"),
        request(&n1, "update", &format!("{csr}/approval"), "c"),
        request(&n1, "list", "apps/deployments", ""),
        request(&n1, "get", "/secrets", "kube-system/wasmkube-pod-network"),
    ];
    for attributes in &refused_requests {
        assert!(
            !reason(&authorizer, attributes).is_empty(),
            "{attributes:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn access_follows_a_pod_that_is_bound_recreated_elsewhere_and_deleted() -> anyhow::Result<()>
{
    let cluster = Cluster::open();
    let authorizer = NodeAuthorizer::start(Arc::clone(&cluster.storage))?;
    let (n1, n2) = (UserInfo::node("n1"), UserInfo::node("n2"));
    let secret_of = |node: &UserInfo| request(node, "get", "/secrets", "default/moving-secret");
    let pod_of = |node: &UserInfo| request(node, "patch", "/pods/status", "default/mover");

    cluster
        .create_pod(pod("mover", "uid-1", None, "moving-secret"))
        .await;
    assert!(!allowed(&authorizer, &secret_of(&n1)));
    // A refusal catches the index up with the store first, so access is there as soon
    // as the binding is written: a node never sees its pod before it may read its secrets.
    cluster
        .update_pod(pod("mover", "uid-1", Some("n1"), "moving-secret"))
        .await;
    assert!(allowed(&authorizer, &secret_of(&n1)));
    assert!(allowed(&authorizer, &pod_of(&n1)));

    // Deleted and created again under the same name on n2: n1 loses it, n2 gains it.
    cluster.delete_pod("mover").await;
    cluster
        .create_pod(pod("mover", "uid-2", Some("n2"), "moving-secret"))
        .await;
    assert!(allowed(&authorizer, &secret_of(&n2)));
    eventually("n1 no longer reads the moved pod's secret", || {
        !allowed(&authorizer, &secret_of(&n1)) && !allowed(&authorizer, &pod_of(&n1))
    })
    .await;
    assert_eq!(reason(&authorizer, &secret_of(&n1)), NO_RELATIONSHIP_N1);

    cluster.delete_pod("mover").await;
    eventually("n2 no longer reads the deleted pod's secret", || {
        !allowed(&authorizer, &secret_of(&n2))
            && !allowed(&authorizer, &pod_of(&n2))
            && !allowed(
                &authorizer,
                &request(&n2, "delete", "/pods", "default/mover"),
            )
    })
    .await;
    Ok(())
}

/// The test runtime has one thread, so the follower task the authorizer spawns has not
/// run yet when the store changes and compacts on another thread: its first watch finds
/// its revision compacted, and only a fresh list can bring the index up to date.
#[tokio::test]
async fn the_index_lists_again_when_its_revision_was_compacted() -> anyhow::Result<()> {
    let cluster = Cluster::open();
    cluster
        .create_pod(pod("old", "u-old", Some("n1"), "old-secret"))
        .await;
    let authorizer = NodeAuthorizer::start(Arc::clone(&cluster.storage))?;
    let n1 = UserInfo::node("n1");
    let old_secret = request(&n1, "get", "/secrets", "default/old-secret");
    let new_secret = request(&n1, "get", "/secrets", "default/new-secret");
    assert!(allowed(&authorizer, &old_secret));

    let storage = Arc::clone(&cluster.storage);
    std::thread::spawn(move || {
        futures::executor::block_on(async {
            storage
                .write(WriteRequest::Delete {
                    key: ObjectKey::new("pods", "default", "old"),
                    expected_revision: None,
                })
                .await?;
            let new = pod("new", "u-new", Some("n1"), "new-secret");
            storage
                .write(WriteRequest::Create {
                    key: pod_key(&new),
                    object: new,
                })
                .await?;
            storage.compact(storage.current_revision()).await
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the writing thread panicked"))??;
    assert!(matches!(
        cluster.storage.watch("pods/", 1),
        Err(StoreError::Compacted { .. })
    ));

    eventually("the index lists again and sees both changes", || {
        allowed(&authorizer, &new_secret) && !allowed(&authorizer, &old_secret)
    })
    .await;
    Ok(())
}
