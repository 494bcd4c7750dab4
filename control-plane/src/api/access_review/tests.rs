//! The reviews answered through `serve` as the router calls it, with the default policy
//! over a real store behind the authorizer chain.

use std::sync::Arc;

use http::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::{Reviewer, serve};
use crate::api::query::Query;
use crate::api::target::{Target, parse};
use crate::auth::rbac::{RbacAuthorizer, bootstrap_cluster_role_bindings, bootstrap_cluster_roles};
use crate::auth::{AuthorizerChain, UserInfo};
use crate::store::{ObjectKey, RedbStore, SharedStorage, WriteRequest};

/// What `kubectl auth can-i get pods` (1.33) sends: a SelfSubjectAccessReview as
/// protobuf, captured from the wire.
const KUBECTL_CAN_I_GET_PODS: &[u8] = b"k8s\x00\x0a2\x0a\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12<\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x1e\x0a\x1c\x0a\x07default\x12\x03get\x1a\x00\x22\x00*\x04pods2\x00:\x00\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00\x22\x00";

/// What `kubectl auth can-i --list -n team` (1.33) sends.
const KUBECTL_CAN_I_LIST_IN_TEAM: &[u8] = b"k8s\x00\x0a1\x0a\x17authorization.k8s.io/v1\x12\x16SelfSubjectRulesReview\x12 \x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x06\x0a\x04team\x1a\x04\x18\x00\x22\x00\x1a\x00\x22\x00";

/// RBAC with the default policy over a real store, behind the authorizer chain.
struct Reviews {
    rbac: Arc<RbacAuthorizer>,
    chain: AuthorizerChain,
    _directory: tempfile::TempDir,
}

async fn with_default_policy() -> Reviews {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(&directory.path().join("store.redb")).expect("a store");
    let storage: SharedStorage = Arc::new(store);
    let roles = bootstrap_cluster_roles().into_iter().map(|role| {
        let name = role.metadata.name.clone().unwrap_or_default();
        ("clusterroles", name, serde_json::to_value(role))
    });
    let bindings = bootstrap_cluster_role_bindings()
        .into_iter()
        .map(|binding| {
            let name = binding.metadata.name.clone().unwrap_or_default();
            ("clusterrolebindings", name, serde_json::to_value(binding))
        });
    for (plural, name, object) in roles.chain(bindings) {
        let resource = format!("{plural}.rbac.authorization.k8s.io");
        let request = WriteRequest::Create {
            key: ObjectKey::new(&resource, "", &name),
            object: object.expect("a default object encodes"),
        };
        storage.write(request).await.expect("the write succeeds");
    }
    let rbac = Arc::new(RbacAuthorizer::start(&storage).expect("the policy loads"));
    let chain = AuthorizerChain::default().with(Arc::clone(&rbac) as _);
    Reviews {
        rbac,
        chain,
        _directory: directory,
    }
}

impl Reviews {
    async fn send(
        &self,
        user: &UserInfo,
        method: http::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let Some(Target::Resource(target)) = parse(path) else {
            panic!("{path} is not a resource path");
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().expect("a header value"));
        let reviewer = Reviewer {
            user,
            authorizer: &self.chain,
            rbac: &self.rbac,
        };
        let query = Query::parse(None).expect("no query");
        let answer = serve(&method, &headers, body.into(), &target, &query, reviewer).await;
        match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("the body reads");
                (
                    status,
                    serde_json::from_slice(&bytes).expect("a JSON answer"),
                )
            }
            Err(error) => (error.code.as_u16(), error.to_status()),
        }
    }

    async fn create(&self, user: &UserInfo, path: &str, review: Value) -> (u16, Value) {
        let body = serde_json::to_vec(&review).expect("a review encodes");
        self.send(user, http::Method::POST, path, "application/json", body)
            .await
    }
}

const SELF_ACCESS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const ACCESS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
const SELF_RULES: &str = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";
const SELF_SUBJECT: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

fn can_i(verb: &str, resource: &str) -> Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
           "spec": {"resourceAttributes": {"namespace": "default", "verb": verb, "resource": resource}}})
}

#[tokio::test]
async fn self_subject_access_reviews_answer_for_the_requesting_user() {
    let reviews = with_default_policy().await;
    let alice = UserInfo::authenticated("alice", &[]);
    let (status, answer) = reviews
        .create(&alice, SELF_ACCESS, can_i("list", "pods"))
        .await;
    assert_eq!(status, 201);
    assert_eq!(answer["status"], json!({"allowed": false}));
    assert_eq!(answer["spec"]["resourceAttributes"]["resource"], "pods");

    let root = UserInfo::authenticated("root", &["system:masters"]);
    let (_, answer) = reviews
        .create(&root, SELF_ACCESS, can_i("delete", "secrets"))
        .await;
    assert_eq!(answer["status"], json!({"allowed": true}));

    let (status, answer) = reviews
        .send(
            &alice,
            http::Method::POST,
            SELF_ACCESS,
            "application/vnd.kubernetes.protobuf",
            KUBECTL_CAN_I_GET_PODS.to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["spec"]["resourceAttributes"]["verb"], "get");
    assert_eq!(answer["status"]["allowed"], false);

    let (status, answer) = reviews
        .create(
            &alice,
            SELF_ACCESS,
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["message"],
        "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    let (status, _) = reviews
        .send(
            &alice,
            http::Method::GET,
            SELF_ACCESS,
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(status, 405, "reviews are never stored, so never listed");
}

#[tokio::test]
async fn subject_access_reviews_answer_for_the_named_user_and_groups() {
    let reviews = with_default_policy().await;
    let asker = UserInfo::authenticated("root", &["system:masters"]);
    let review = |user: &str, groups: Value| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "spec": {"user": user, "groups": groups, "nonResourceAttributes": {"path": "/version", "verb": "get"}}})
    };
    let (status, answer) = reviews
        .create(
            &asker,
            ACCESS,
            review("anybody", json!(["system:unauthenticated"])),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(answer["status"], json!({"allowed": true}));
    let (_, answer) = reviews
        .create(&asker, ACCESS, review("anybody", json!([])))
        .await;
    assert_eq!(
        answer["status"],
        json!({"allowed": false}),
        "a user named without groups is in none, not even system:authenticated"
    );
    let (status, answer) = reviews.create(&asker, ACCESS, review("", json!([]))).await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["message"],
        "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
    );
}

#[tokio::test]
async fn rules_reviews_list_what_rbac_grants_in_the_namespace() {
    let reviews = with_default_policy().await;
    let alice = UserInfo::authenticated("alice", &[]);
    let rules_in = |namespace: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
               "spec": {"namespace": namespace}})
    };
    let (status, answer) = reviews
        .create(&alice, SELF_RULES, rules_in("default"))
        .await;
    assert_eq!(status, 201);
    let status_of = &answer["status"];
    assert_eq!(status_of["incomplete"], false);
    let resource_rules = status_of["resourceRules"]
        .as_array()
        .expect("resource rules");
    assert!(resource_rules.iter().any(|rule| rule["resources"]
        == json!(["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
        && rule["verbs"] == json!(["create"])));
    let urls = status_of["nonResourceRules"].as_array().expect("URL rules");
    assert!(urls.iter().any(|rule| {
        rule["nonResourceURLs"]
            .as_array()
            .is_some_and(|urls| urls.contains(&json!("/apis/*")))
    }));

    let (status, answer) = reviews
        .send(
            &alice,
            http::Method::POST,
            SELF_RULES,
            "application/vnd.kubernetes.protobuf",
            KUBECTL_CAN_I_LIST_IN_TEAM.to_vec(),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["spec"]["namespace"], "team");
    assert!(
        answer["status"]["resourceRules"]
            .as_array()
            .is_some_and(|rules| !rules.is_empty())
    );

    let (status, answer) = reviews.create(&alice, SELF_RULES, rules_in("")).await;
    assert_eq!(
        (status, answer["message"].clone()),
        (400, json!("no namespace on request"))
    );

    let node = UserInfo::node("n1");
    let (_, answer) = reviews.create(&node, SELF_RULES, rules_in("default")).await;
    assert_eq!(answer["status"]["incomplete"], true);
    assert_eq!(
        answer["status"]["evaluationError"],
        "node authorizer does not support user rule resolution"
    );
}

#[tokio::test]
async fn self_subject_reviews_say_who_the_user_is() {
    let reviews = with_default_policy().await;
    let alice = UserInfo::authenticated("alice", &["developers"]);
    let (status, answer) = reviews
        .create(
            &alice,
            SELF_SUBJECT,
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        answer["status"]["userInfo"],
        json!({"username": "alice", "groups": ["developers", "system:authenticated"]})
    );
    assert!(answer["metadata"]["creationTimestamp"].is_string());
}
