//! The join token: kept in DIR/node-token and as a bootstrap token Secret, and the
//! bootstrap token authenticator that turns `<id>.<secret>` into a user.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use wasmkube_control_plane::certificates::bootstrap_token::{
    DEFAULT_NODE_TOKEN_GROUP, NODE_TOKEN_FILE,
};
use wasmkube_control_plane::certificates::{authenticate_bootstrap_token, ensure_join_token};
use wasmkube_pki::JoinToken;

use crate::support::{Cluster, start_cluster};

const TOKEN_ID: &str = "abcdef";
const TOKEN_SECRET: &str = "0123456789abcdef";

fn secrets(cluster: &Cluster) -> Api<Secret> {
    Api::namespaced(cluster.plane.client.clone(), "kube-system")
}

/// A bootstrap token Secret for abcdef.0123456789abcdef, changed by `edit`.
async fn create_token_secret(cluster: &Cluster, edit: impl FnOnce(&mut Secret)) {
    let data: BTreeMap<String, String> = [
        ("token-id", TOKEN_ID),
        ("token-secret", TOKEN_SECRET),
        ("usage-bootstrap-authentication", "true"),
        (
            "auth-extra-groups",
            "system:bootstrappers:worker,system:bootstrappers:worker",
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    let mut secret = Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{TOKEN_ID}")),
            ..ObjectMeta::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".to_owned()),
        string_data: Some(data),
        ..Secret::default()
    };
    edit(&mut secret);
    secrets(cluster)
        .create(&PostParams::default(), &secret)
        .await
        .expect("the Secret is created");
}

fn set(secret: &mut Secret, key: &str, value: &str) {
    secret
        .string_data
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_owned(), value.to_owned());
}

fn unset(secret: &mut Secret, key: &str) {
    if let Some(data) = secret.string_data.as_mut() {
        data.remove(key);
    }
}

fn token() -> String {
    format!("{TOKEN_ID}.{TOKEN_SECRET}")
}

#[tokio::test]
async fn a_valid_bootstrap_token_is_its_bootstrap_user() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |secret| {
        set(secret, "expiration", "2999-01-01T00:00:00Z");
    })
    .await;

    let user = authenticate_bootstrap_token(&token(), &cluster.plane.storage)
        .expect("the token authenticates");

    assert_eq!(user.username, "system:bootstrap:abcdef");
    assert_eq!(
        user.groups,
        [
            "system:bootstrappers",
            "system:bootstrappers:worker",
            "system:authenticated"
        ]
    );
}

#[tokio::test]
async fn a_wrong_secret_or_malformed_token_is_no_user() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |_| {}).await;
    let storage = &cluster.plane.storage;
    assert!(
        authenticate_bootstrap_token(&format!("{TOKEN_ID}.0123456789abcdee"), storage).is_none()
    );
    assert!(authenticate_bootstrap_token("abcdeg.0123456789abcdef", storage).is_none());
    assert!(authenticate_bootstrap_token(TOKEN_SECRET, storage).is_none());
    assert!(authenticate_bootstrap_token(&token().to_uppercase(), storage).is_none());
    assert!(authenticate_bootstrap_token(&token(), storage).is_some());
}

#[tokio::test]
async fn an_expired_token_is_no_user() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |secret| {
        set(secret, "expiration", "2020-01-01T00:00:00Z");
    })
    .await;
    assert!(authenticate_bootstrap_token(&token(), &cluster.plane.storage).is_none());
}

#[tokio::test]
async fn a_secret_of_another_type_is_no_token() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |secret| secret.type_ = Some("Opaque".to_owned())).await;
    assert!(authenticate_bootstrap_token(&token(), &cluster.plane.storage).is_none());
}

#[tokio::test]
async fn a_token_not_for_authentication_is_no_user() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |secret| {
        unset(secret, "usage-bootstrap-authentication");
        set(secret, "usage-bootstrap-signing", "true");
    })
    .await;
    assert!(authenticate_bootstrap_token(&token(), &cluster.plane.storage).is_none());
}

#[tokio::test]
async fn an_extra_group_outside_the_bootstrappers_is_no_user() {
    let cluster = start_cluster().await;
    create_token_secret(&cluster, |secret| {
        set(secret, "auth-extra-groups", "system:masters");
    })
    .await;
    assert!(authenticate_bootstrap_token(&token(), &cluster.plane.storage).is_none());
}

#[tokio::test]
async fn the_join_token_is_kept_and_its_secret_made_again_when_deleted() {
    let cluster = start_cluster().await;
    let data_dir = cluster.data_dir.path().join("server");
    let client = &cluster.plane.client;
    let authority = &cluster.plane.authority;

    let token = ensure_join_token(client, authority, &data_dir)
        .await
        .expect("a join token");
    assert_eq!(token.ca_sha256_hex, authority.certificate_sha256_hex());
    let kept: JoinToken = std::fs::read_to_string(data_dir.join(NODE_TOKEN_FILE))
        .expect("DIR/node-token")
        .parse()
        .expect("a join token");
    assert_eq!(kept, token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join(NODE_TOKEN_FILE))
            .expect("its metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let user = authenticate_bootstrap_token(&token.bootstrap_token(), &cluster.plane.storage)
        .expect("the join token authenticates");
    assert_eq!(
        user.username,
        format!("system:bootstrap:{}", token.token_id)
    );
    assert!(user.in_group(DEFAULT_NODE_TOKEN_GROUP), "{user:?}");

    let again = ensure_join_token(client, authority, &data_dir)
        .await
        .expect("the same join token");
    assert_eq!(again, token);

    let secret_name = format!("bootstrap-token-{}", token.token_id);
    secrets(&cluster)
        .delete(&secret_name, &DeleteParams::default())
        .await
        .expect("the Secret is deleted");
    assert!(
        authenticate_bootstrap_token(&token.bootstrap_token(), &cluster.plane.storage).is_none()
    );
    let restored = ensure_join_token(client, authority, &data_dir)
        .await
        .expect("the join token again");
    assert_eq!(restored, token);
    assert!(
        authenticate_bootstrap_token(&token.bootstrap_token(), &cluster.plane.storage).is_some()
    );
}
