//! The join token's bootstrap token, kept as Kubernetes keeps bootstrap tokens: a Secret
//! kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token (kubeadm's
//! format), whose id and secret the node presents as a bearer token `<id>.<secret>` to
//! ask for its client certificate; and the bootstrap token authenticator
//! (`plugin/pkg/auth/authenticator/token/bootstrap`) that accepts it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::Value;
use wasmkube_pki::join_token::parse_bootstrap_token;
use wasmkube_pki::{ClusterAuthority, JoinToken};

use super::CertificatesError;
use crate::auth::UserInfo;
use crate::auth::user::{BOOTSTRAP_USER_PREFIX, BOOTSTRAPPERS_GROUP};
use crate::store::{ObjectKey, SharedStorage};

/// The namespace bootstrap token Secrets live in.
pub const BOOTSTRAP_TOKEN_NAMESPACE: &str = "kube-system";
/// A bootstrap token Secret's name is this prefix and the token's id.
pub const BOOTSTRAP_TOKEN_SECRET_PREFIX: &str = "bootstrap-token-";
/// The type that marks a Secret as a bootstrap token.
pub const BOOTSTRAP_TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group the join token's user is in besides system:bootstrappers, as kubeadm's
/// `system:bootstrappers:kubeadm:default-node-token`.
pub const DEFAULT_NODE_TOKEN_GROUP: &str = "system:bootstrappers:wasmkube:default-node-token";
/// Where the server keeps the join token (k3s's DIR/node-token).
pub const NODE_TOKEN_FILE: &str = "node-token";

const TOKEN_ID_KEY: &str = "token-id";
const TOKEN_SECRET_KEY: &str = "token-secret";
const EXPIRATION_KEY: &str = "expiration";
const USAGE_AUTHENTICATION_KEY: &str = "usage-bootstrap-authentication";
const EXTRA_GROUPS_KEY: &str = "auth-extra-groups";
const DESCRIPTION_KEY: &str = "description";

fn secret_name(token_id: &str) -> String {
    format!("{BOOTSTRAP_TOKEN_SECRET_PREFIX}{token_id}")
}

fn read_token(path: &Path) -> Result<Option<JoinToken>, CertificatesError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse()
            .map(Some)
            .map_err(|source| CertificatesError::InvalidJoinToken {
                path: path.to_path_buf(),
                source,
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CertificatesError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_token(path: &Path, token: &JoinToken) -> Result<(), CertificatesError> {
    wasmkube_pki::authority::write_file_atomically(path, &format!("{token}\n"), true)?;
    Ok(())
}

/// The Secret that makes the join token's bootstrap token valid.
fn bootstrap_token_secret(token: &JoinToken) -> Secret {
    let entries = [
        (TOKEN_ID_KEY, token.token_id.as_str()),
        (TOKEN_SECRET_KEY, token.token_secret.as_str()),
        (USAGE_AUTHENTICATION_KEY, "true"),
        (EXTRA_GROUPS_KEY, DEFAULT_NODE_TOKEN_GROUP),
        (
            DESCRIPTION_KEY,
            "The join token of the wasmkube server (DIR/node-token), with which nodes ask for their certificates.",
        ),
    ];
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&token.token_id)),
            namespace: Some(BOOTSTRAP_TOKEN_NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some(BOOTSTRAP_TOKEN_SECRET_TYPE.to_owned()),
        string_data: Some(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

/// Whether a stored Secret still makes the token valid for authentication.
fn secret_accepts(secret: &Secret, token: &JoinToken) -> bool {
    let data = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|data| data.get(key))
            .map(|value| value.0.as_slice())
    };
    secret.type_.as_deref() == Some(BOOTSTRAP_TOKEN_SECRET_TYPE)
        && data(TOKEN_ID_KEY) == Some(token.token_id.as_bytes())
        && data(TOKEN_SECRET_KEY) == Some(token.token_secret.as_bytes())
        && data(USAGE_AUTHENTICATION_KEY) == Some(b"true".as_slice())
}

async fn ensure_secret(client: &Client, token: &JoinToken) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), BOOTSTRAP_TOKEN_NAMESPACE);
    let mut desired = bootstrap_token_secret(token);
    match api.get_opt(&secret_name(&token.token_id)).await? {
        None => match api.create(&PostParams::default(), &desired).await {
            Ok(_) => Ok(()),
            // Another start made it at the same moment.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(error) => Err(error),
        },
        Some(existing) if secret_accepts(&existing, token) => Ok(()),
        Some(existing) => {
            // Someone changed it so that it no longer carries the token: the data
            // directory's token is the one nodes were given.
            desired.metadata.resource_version = existing.metadata.resource_version;
            api.replace(
                &secret_name(&token.token_id),
                &PostParams::default(),
                &desired,
            )
            .await
            .map(|_| ())
        }
    }
}

/// The cluster's join token: the one kept in DATA_DIR/node-token, or a new one, made
/// and kept there on the first start; its bootstrap token Secret is made again if it
/// was deleted. The token is written before its Secret, so that a failure between the
/// two leaves a token the next start completes rather than a Secret nobody knows.
pub async fn ensure_join_token(
    client: &Client,
    authority: &ClusterAuthority,
    data_dir: &Path,
) -> Result<JoinToken, CertificatesError> {
    let path = data_dir.join(NODE_TOKEN_FILE);
    let authority_hash = authority.certificate_sha256_hex();
    let token = match read_token(&path)? {
        Some(token) if token.ca_sha256_hex == authority_hash => token,
        Some(stale) => {
            // The cluster CA was made anew: the token must pin the new one.
            let token = JoinToken {
                ca_sha256_hex: authority_hash,
                ..stale
            };
            write_token(&path, &token)?;
            token
        }
        None => {
            let token = JoinToken::generate(&authority_hash)?;
            write_token(&path, &token)?;
            token
        }
    };
    ensure_secret(client, &token).await?;
    Ok(token)
}

/// Kubernetes' `subtle.ConstantTimeCompare`: the time taken does not depend on where
/// the texts differ, so a caller cannot guess a secret byte by byte.
fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// Kubernetes' `ValidateBootstrapGroupName`: `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`.
fn valid_extra_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    match rest.as_bytes().split_last() {
        Some((&last, body)) => {
            body.len() <= 255
                && allowed(last)
                && body
                    .iter()
                    .all(|&byte| allowed(byte) || byte == b':' || byte == b'-')
        }
        None => false,
    }
}

/// Whether the token's `expiration` (RFC 3339) has passed; one that cannot be read
/// counts as passed, as in Kubernetes.
fn expired(expiration: &str) -> bool {
    if expiration.is_empty() {
        return false;
    }
    match expiration.parse::<jiff::Timestamp>() {
        Ok(time) => time <= jiff::Timestamp::now(),
        Err(_) => true,
    }
}

/// The user a bootstrap token `<id>.<secret>` authenticates as, by its Secret
/// kube-system/bootstrap-token-<id>: `system:bootstrap:<id>`, in system:bootstrappers,
/// the Secret's auth-extra-groups and system:authenticated. None for anything else: not
/// a bootstrap token, no such Secret, not of the bootstrap token type, another secret,
/// expired, not for authentication, or with an invalid extra group.
pub fn authenticate_bootstrap_token(token: &str, storage: &SharedStorage) -> Option<UserInfo> {
    let (token_id, token_secret) = parse_bootstrap_token(token)?;
    let key = ObjectKey::new("secrets", BOOTSTRAP_TOKEN_NAMESPACE, &secret_name(token_id));
    let stored = match storage.get(&key) {
        Ok(stored) => stored?,
        Err(error) => {
            tracing::warn!(%error, "cannot read a bootstrap token's Secret");
            return None;
        }
    };
    let secret = &stored.object;
    let refuse = |why: &str| {
        tracing::debug!(token_id, why, "bootstrap token refused");
        None
    };
    if secret
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null())
    {
        return refuse("its Secret is being deleted");
    }
    if secret.get("type").and_then(Value::as_str) != Some(BOOTSTRAP_TOKEN_SECRET_TYPE) {
        return refuse("its Secret is not a bootstrap token");
    }
    let data = |key: &str| -> Vec<u8> {
        secret
            .pointer(&format!("/data/{key}"))
            .and_then(Value::as_str)
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .unwrap_or_default()
    };
    let text = |key: &str| String::from_utf8(data(key)).unwrap_or_default();
    if !constant_time_equal(&data(TOKEN_SECRET_KEY), token_secret.as_bytes()) {
        return refuse("the secret does not match");
    }
    if text(TOKEN_ID_KEY) != token_id {
        return refuse("the token id does not match");
    }
    if expired(&text(EXPIRATION_KEY)) {
        return refuse("it has expired");
    }
    if text(USAGE_AUTHENTICATION_KEY) != "true" {
        return refuse("it is not for authentication");
    }
    let mut groups = BTreeSet::from([BOOTSTRAPPERS_GROUP.to_owned()]);
    let extra_groups = text(EXTRA_GROUPS_KEY);
    if !extra_groups.is_empty() {
        for group in extra_groups.split(',') {
            if !valid_extra_group(group) {
                return refuse("an extra group is not of the form system:bootstrappers:<name>");
            }
            groups.insert(group.to_owned());
        }
    }
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    Some(UserInfo::authenticated(
        format!("{BOOTSTRAP_USER_PREFIX}{token_id}"),
        &groups,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_groups_must_be_bootstrapper_subgroups() {
        assert!(valid_extra_group(DEFAULT_NODE_TOKEN_GROUP));
        assert!(valid_extra_group("system:bootstrappers:a"));
        assert!(!valid_extra_group("system:bootstrappers:"));
        assert!(!valid_extra_group("system:masters"));
        assert!(!valid_extra_group("system:bootstrappers:Upper"));
        assert!(!valid_extra_group("system:bootstrappers:ends-with-"));
    }

    #[test]
    fn expiration_is_rfc3339_and_unreadable_means_expired() {
        assert!(!expired(""));
        assert!(expired("2000-01-01T00:00:00Z"));
        assert!(!expired("2999-01-01T00:00:00+01:00"));
        assert!(expired("tomorrow"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_equal(
            b"0123456789abcdef",
            b"0123456789abcdef"
        ));
        assert!(!constant_time_equal(
            b"0123456789abcdef",
            b"0123456789abcdeg"
        ));
        assert!(!constant_time_equal(
            b"0123456789abcdef",
            b"0123456789abcde"
        ));
    }
}
