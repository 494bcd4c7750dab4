//! Signing and verification against a real store: a token authenticates while what it
//! names exists, and stops as soon as anything it depends on is wrong.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use super::*;
use crate::store::{ObjectKey, RedbStore, WriteRequest};

struct Fixture {
    storage: SharedStorage,
    issuer: ServiceAccountTokenIssuer,
    directory: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let storage: SharedStorage = Arc::new(
            RedbStore::open(&directory.path().join("store.redb")).expect("the store opens"),
        );
        let issuer = ServiceAccountTokenIssuer::load_or_create(&directory.path().join("tls"))
            .expect("the signing key is made");
        let fixture = Self {
            storage,
            issuer,
            directory,
        };
        fixture.put("serviceaccounts", "builder", "sa-uid-1").await;
        fixture.put("pods", "web-0", "pod-uid-1").await;
        fixture
    }

    async fn put(&self, resource: &str, name: &str, uid: &str) {
        self.put_object(
            resource,
            name,
            json!({"metadata": {"name": name, "namespace": "apps", "uid": uid}}),
        )
        .await;
    }

    async fn put_object(&self, resource: &str, name: &str, object: Value) {
        let key = ObjectKey::new(resource, "apps", name);
        let written = match self.storage.get(&key).expect("a read") {
            Some(_) => {
                self.storage
                    .write(WriteRequest::Update {
                        key,
                        object,
                        expected_revision: None,
                    })
                    .await
            }
            None => {
                self.storage
                    .write(WriteRequest::Create { key, object })
                    .await
            }
        };
        written.expect("the object is written");
    }

    async fn remove(&self, resource: &str, name: &str) {
        self.storage
            .write(WriteRequest::Delete {
                key: ObjectKey::new(resource, "apps", name),
                expected_revision: None,
            })
            .await
            .expect("the object is deleted");
    }

    fn authenticate(&self, token: &str) -> Result<Option<UserInfo>, TokenError> {
        self.issuer.authenticate(token, &self.storage)
    }
}

fn pod_bound_grant() -> TokenGrant {
    TokenGrant {
        kubernetes: KubernetesClaims {
            namespace: "apps".to_owned(),
            serviceaccount: ObjectRef::new("builder", "sa-uid-1"),
            pod: Some(ObjectRef::new("web-0", "pod-uid-1")),
            node: Some(ObjectRef::new("node-1", "node-uid-1")),
            ..KubernetesClaims::default()
        },
        audiences: vec![ISSUER.to_owned()],
        expiration_seconds: 3600,
        warn_after_seconds: None,
    }
}

fn decoded_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn a_pod_bound_token_carries_kubernetes_claims_and_authenticates_as_its_account() {
    let fixture = Fixture::new().await;
    let issued = fixture.issuer.issue(&pod_bound_grant()).expect("signed");
    assert_eq!(issued.expires_at - issued.issued_at, 3600);

    let header = decoded_part(&issued.token, 0);
    assert_eq!(header["alg"], "ES256");
    assert!(header.get("typ").is_none(), "{header}");
    assert_eq!(header["kid"].as_str().map(str::len), Some(43), "{header}");
    let claims = decoded_part(&issued.token, 1);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "system:serviceaccount:apps:builder");
    assert_eq!(claims["aud"], json!([ISSUER]));
    assert_eq!(claims["exp"].as_i64(), Some(issued.expires_at));
    assert_eq!(claims["iat"], claims["nbf"]);
    assert_eq!(
        claims["kubernetes.io"],
        json!({
            "namespace": "apps",
            "node": {"name": "node-1", "uid": "node-uid-1"},
            "pod": {"name": "web-0", "uid": "pod-uid-1"},
            "serviceaccount": {"name": "builder", "uid": "sa-uid-1"},
        })
    );
    let jti = claims["jti"].as_str().expect("a jti");
    assert!(uuid::Uuid::parse_str(jti).is_ok(), "{jti}");

    let user = fixture
        .authenticate(&issued.token)
        .expect("accepted")
        .expect("recognized");
    assert_eq!(user.username, "system:serviceaccount:apps:builder");
    assert_eq!(user.uid, "sa-uid-1");
    assert_eq!(
        user.groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:apps",
            "system:authenticated"
        ]
    );
    let extra = |key: &str| user.extra.get(key).cloned().unwrap_or_default();
    assert_eq!(extra(POD_NAME_EXTRA), ["web-0"]);
    assert_eq!(extra(POD_UID_EXTRA), ["pod-uid-1"]);
    assert_eq!(extra(NODE_NAME_EXTRA), ["node-1"]);
    assert_eq!(extra(NODE_UID_EXTRA), ["node-uid-1"]);
    assert_eq!(extra(CREDENTIAL_ID_EXTRA), [format!("JTI={jti}")]);
    assert_eq!(user.service_account(), Some(("apps", "builder")));
}

#[tokio::test]
async fn the_key_is_kept_and_a_token_from_another_key_is_refused() {
    let fixture = Fixture::new().await;
    let key_path = fixture.directory.path().join("tls").join(SIGNING_KEY_FILE);
    let pem = std::fs::read_to_string(&key_path).expect("the key file");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let reloaded = ServiceAccountTokenIssuer::load_or_create(&fixture.directory.path().join("tls"))
        .expect("the key loads");
    let token = reloaded.issue(&pod_bound_grant()).expect("signed").token;
    assert!(
        fixture.authenticate(&token).expect("accepted").is_some(),
        "a restarted server still accepts its tokens"
    );

    let stranger = ServiceAccountTokenIssuer::ephemeral().expect("another key");
    let forged = stranger.issue(&pod_bound_grant()).expect("signed").token;
    assert!(matches!(
        fixture.authenticate(&forged),
        Err(TokenError::InvalidSignature)
    ));
}

#[tokio::test]
async fn expired_early_and_future_tokens_are_refused() {
    let fixture = Fixture::new().await;
    let now = jiff::Timestamp::now().as_second();
    let grant = pod_bound_grant();
    let expired = fixture.issuer.issue_at(&grant, now - 7200).expect("signed");
    assert!(matches!(
        fixture.authenticate(&expired.token),
        Err(TokenError::Expired)
    ));
    let early = fixture.issuer.issue_at(&grant, now + 600).expect("signed");
    assert!(matches!(
        fixture.authenticate(&early.token),
        Err(TokenError::NotValidYet)
    ));
    let within_leeway = fixture.issuer.issue_at(&grant, now + 30).expect("signed");
    assert!(
        fixture
            .authenticate(&within_leeway.token)
            .expect("accepted")
            .is_some()
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_and_one_with_none_is_the_api_servers() {
    let fixture = Fixture::new().await;
    let mut grant = pod_bound_grant();
    grant.audiences = vec!["vault".to_owned()];
    let token = fixture.issuer.issue(&grant).expect("signed").token;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(
        error.to_string(),
        format!("token audiences [\"vault\"] is invalid for the target audiences [\"{ISSUER}\"]")
    );
    grant.audiences = vec!["vault".to_owned(), ISSUER.to_owned()];
    let token = fixture.issuer.issue(&grant).expect("signed").token;
    assert!(fixture.authenticate(&token).expect("accepted").is_some());
    grant.audiences = Vec::new();
    let token = fixture.issuer.issue(&grant).expect("signed").token;
    assert!(fixture.authenticate(&token).expect("accepted").is_some());
}

#[tokio::test]
async fn a_deleted_or_recreated_service_account_invalidates_its_tokens() {
    let fixture = Fixture::new().await;
    let token = fixture
        .issuer
        .issue(&pod_bound_grant())
        .expect("signed")
        .token;
    fixture.remove("serviceaccounts", "builder").await;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(error.to_string(), "serviceaccounts \"builder\" not found");

    fixture.put("serviceaccounts", "builder", "sa-uid-2").await;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "service account UID (sa-uid-2) does not match claim (sa-uid-1)"
    );
}

#[tokio::test]
async fn a_deleted_recreated_or_long_terminating_bound_pod_invalidates_its_tokens() {
    let fixture = Fixture::new().await;
    let token = fixture
        .issuer
        .issue(&pod_bound_grant())
        .expect("signed")
        .token;

    // Marked for deletion just now: still valid within the leeway, as in Kubernetes.
    let now = jiff::Timestamp::now();
    let pod = |deleted_at: jiff::Timestamp| json!({"metadata": {"name": "web-0", "namespace": "apps", "uid": "pod-uid-1", "deletionTimestamp": deleted_at.to_string()}});
    fixture.put_object("pods", "web-0", pod(now)).await;
    assert!(fixture.authenticate(&token).expect("accepted").is_some());
    let long_ago = now
        .checked_sub(jiff::SignedDuration::from_secs(120))
        .expect("a time");
    fixture.put_object("pods", "web-0", pod(long_ago)).await;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "service account token has been invalidated"
    );

    fixture.remove("pods", "web-0").await;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "service account token has been invalidated"
    );

    fixture.put("pods", "web-0", "pod-uid-2").await;
    let error = fixture.authenticate(&token).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "pod UID (pod-uid-2) does not match service account pod ref claim (pod-uid-1)"
    );
}

#[tokio::test]
async fn tokens_of_other_kinds_and_issuers_are_left_to_other_authenticators() {
    let fixture = Fixture::new().await;
    assert!(fixture.authenticate("").expect("not ours").is_none());
    assert!(
        fixture
            .authenticate("abcdef.0123456789abcdef")
            .expect("not ours")
            .is_none()
    );
    assert!(
        fixture
            .authenticate("{\"iss\": 1}")
            .expect("not ours")
            .is_none()
    );
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let other_issuer = format!(
        "{}.{}.c2ln",
        encode(&json!({"alg": "ES256"})),
        encode(&json!({"iss": "https://accounts.example.com", "sub": "x"}))
    );
    assert!(
        fixture
            .authenticate(&other_issuer)
            .expect("not ours")
            .is_none()
    );
    // Ours by its issuer, but not signed by us: refused, not passed on.
    let unsigned = format!(
        "{}.{}.c2ln",
        encode(&json!({"alg": "ES256"})),
        encode(
            &json!({"iss": ISSUER, "sub": "system:serviceaccount:apps:builder", "exp": 4_000_000_000_i64})
        )
    );
    assert!(fixture.authenticate(&unsigned).is_err());
}
