//! ServiceAccount tokens as Kubernetes has them: ES256 JWTs signed by the API server,
//! bound to audiences and a lifetime, and optionally to a pod or secret, issued through
//! the TokenRequest API (`serviceaccounts/token`) and accepted as bearer tokens as long
//! as the objects they name still exist (kube-apiserver's `pkg/serviceaccount`).

mod claims;
mod signing_key;
mod validation;

#[cfg(test)]
mod tests;

use std::path::Path;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};

pub use claims::{KubernetesClaims, ObjectRef};
pub use signing_key::SigningKeyError;

use super::UserInfo;
use super::user::{SERVICE_ACCOUNT_USER_PREFIX, SERVICE_ACCOUNTS_GROUP};
use crate::store::{SharedStorage, StoreError};
use claims::TokenClaims;
use signing_key::SigningKey;

/// The issuer every token names (kube-apiserver's `--service-account-issuer`, as
/// kubeadm and k3s set it).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The key file, in the data directory's `tls` directory.
pub const SIGNING_KEY_FILE: &str = "service-account.key";
/// A TokenRequest's lifetime when it names none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 60 * 60;
/// The shortest lifetime a TokenRequest may ask for.
pub const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
/// The longest lifetime validation accepts at all.
pub const VALIDATION_MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// The lifetime the ServiceAccount admission plugin asks for in the volumes it adds:
/// an hour and seven seconds, which marks tokens whose lifetime the API server extends.
pub const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
/// What a pod-bound token asking for exactly that lifetime gets instead (a year), so
/// that clients that read the token file once keep working, as with kube-apiserver's
/// default `--service-account-extend-token-expiration=true`; using it after the hour is
/// only a warning there. The node still refreshes it on the requested hour's schedule.
pub const EXPIRATION_EXTENSION_SECONDS: i64 = 24 * 365 * 60 * 60;
/// The clock skew tolerated on `exp`, `nbf` and `iat`, and on deletions (go-jose's
/// `jwt.DefaultLeeway`).
const LEEWAY_SECONDS: i64 = 60;

/// The `user.Info` extra keys Kubernetes sets for a ServiceAccount token's user.
pub const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_EXTRA: &str = "authentication.kubernetes.io/pod-uid";
pub const NODE_NAME_EXTRA: &str = "authentication.kubernetes.io/node-name";
pub const NODE_UID_EXTRA: &str = "authentication.kubernetes.io/node-uid";
pub const CREDENTIAL_ID_EXTRA: &str = "authentication.kubernetes.io/credential-id";

/// Why a token could not be made, or why a token of this issuer is not accepted. The
/// texts are kube-apiserver's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("failed to generate token: {0}")]
    Sign(jsonwebtoken::errors::Error),
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token's signature is not valid")]
    InvalidSignature,
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is not valid yet")]
    NotValidYet,
    #[error("service account token is issued in the future")]
    IssuedInFuture,
    #[error("token audiences {} is invalid for the target audiences {}", go_quoted(.token), go_quoted(.target))]
    InvalidAudience {
        token: Vec<String>,
        target: Vec<String>,
    },
    #[error("serviceaccounts {name:?} not found")]
    ServiceAccountNotFound { name: String },
    #[error("service account UID ({stored}) does not match claim ({claimed})")]
    ServiceAccountUidMismatch { stored: String, claimed: String },
    #[error("service account {namespace}/{name} has been deleted")]
    ServiceAccountDeleted { namespace: String, name: String },
    #[error("service account token has been invalidated")]
    Invalidated,
    #[error("pod UID ({stored}) does not match service account pod ref claim ({claimed})")]
    PodUidMismatch { stored: String, claimed: String },
    #[error("secret UID ({stored}) does not match service account secret ref claim ({claimed})")]
    SecretUidMismatch { stored: String, claimed: String },
    #[error("cannot read the objects the token names: {0}")]
    Store(#[from] StoreError),
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// What a token is for: the account and what it is bound to, its audiences and how
/// long it lives.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// The namespace, the account and the bound objects; `warnafter` is set by the
    /// issuer from `warn_after_seconds`.
    pub kubernetes: KubernetesClaims,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    /// For a token whose lifetime was extended: the lifetime that was asked for.
    pub warn_after_seconds: Option<i64>,
}

/// A signed token and when it was made and stops being valid (Unix seconds).
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Signs ServiceAccount tokens and authenticates them.
pub struct ServiceAccountTokenIssuer {
    key: SigningKey,
    /// The audiences the API server identifies itself as (`--api-audiences`, which
    /// defaults to the issuer): a token must name one of them to authenticate to it.
    api_audiences: Vec<String>,
}

impl std::fmt::Debug for ServiceAccountTokenIssuer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceAccountTokenIssuer")
            .field("key_id", &self.key.key_id)
            .field("api_audiences", &self.api_audiences)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokenIssuer {
    /// The issuer whose key is kept in `tls_directory` (DIR/tls/service-account.key),
    /// made on the first start.
    pub fn load_or_create(tls_directory: &Path) -> Result<Self, SigningKeyError> {
        Ok(Self::with_key(SigningKey::load_or_create(
            &tls_directory.join(SIGNING_KEY_FILE),
        )?))
    }

    /// An issuer with a new key kept only in memory.
    pub fn ephemeral() -> Result<Self, SigningKeyError> {
        Ok(Self::with_key(SigningKey::generate()?))
    }

    fn with_key(key: SigningKey) -> Self {
        Self {
            key,
            api_audiences: vec![ISSUER.to_owned()],
        }
    }

    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Whether every audience is one of the API server's (kube-apiserver's
    /// `isKubeAudiences`), which is when a pod-bound token's lifetime may be extended.
    pub fn are_api_audiences(&self, audiences: &[String]) -> bool {
        audiences
            .iter()
            .all(|audience| self.api_audiences.contains(audience))
    }

    /// Signs a token for `grant`, valid from now.
    pub fn issue(&self, grant: &TokenGrant) -> Result<IssuedToken, TokenError> {
        self.issue_at(grant, jiff::Timestamp::now().as_second())
    }

    /// Signs a token for `grant` as if it were `now` (Unix seconds).
    fn issue_at(&self, grant: &TokenGrant, now: i64) -> Result<IssuedToken, TokenError> {
        let expires_at = now.saturating_add(grant.expiration_seconds);
        let mut kubernetes = grant.kubernetes.clone();
        kubernetes.warnafter = grant
            .warn_after_seconds
            .map(|seconds| now.saturating_add(seconds));
        let claims = TokenClaims {
            aud: grant.audiences.clone(),
            exp: expires_at,
            iat: now,
            iss: ISSUER.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: format!(
                "{SERVICE_ACCOUNT_USER_PREFIX}{}:{}",
                kubernetes.namespace, kubernetes.serviceaccount.name
            ),
            kubernetes,
            nbf: now,
        };
        // Kubernetes' tokens carry `alg` and `kid` only.
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key.key_id.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.key.encoding).map_err(TokenError::Sign)?;
        Ok(IssuedToken {
            token,
            issued_at: now,
            expires_at,
        })
    }

    /// Authenticates a bearer token as kube-apiserver's ServiceAccount token
    /// authenticator does. `Ok(None)`: not a token of this issuer (not a JWT, or another
    /// issuer), for the next authenticator to try. `Err`: a token of this issuer that is
    /// not accepted (bad signature, expired, for another audience, or naming objects
    /// that are gone or were re-created).
    pub fn authenticate(
        &self,
        token: &str,
        storage: &SharedStorage,
    ) -> Result<Option<UserInfo>, TokenError> {
        if !names_this_issuer(token) || jsonwebtoken::decode_header(token).is_err() {
            return Ok(None);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECONDS.unsigned_abs();
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[ISSUER]);
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &self.key.decoding, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidEcdsaKey => TokenError::InvalidSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotValidYet,
                _ => TokenError::Malformed(error.to_string()),
            })?
            .claims;
        // A token that names no audience is for the API server, as legacy tokens were.
        let token_audiences = if claims.aud.is_empty() {
            self.api_audiences.clone()
        } else {
            claims.aud.clone()
        };
        if !token_audiences
            .iter()
            .any(|audience| self.api_audiences.contains(audience))
        {
            return Err(TokenError::InvalidAudience {
                token: token_audiences,
                target: self.api_audiences.clone(),
            });
        }
        let now = jiff::Timestamp::now();
        if claims.iat > now.as_second().saturating_add(LEEWAY_SECONDS) {
            return Err(TokenError::IssuedInFuture);
        }
        validation::check_named_objects(&claims.kubernetes, storage.as_ref(), now)?;
        Ok(Some(user_info(&claims)))
    }
}

/// Whether the unverified payload names this issuer (kube-apiserver's
/// `hasCorrectIssuer`); only then is the token this authenticator's to judge.
fn names_this_issuer(token: &str) -> bool {
    if token.trim_start().starts_with('{') {
        return false;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = parts.as_slice() else {
        return false;
    };
    let Ok(payload) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct UnverifiedIssuer {
        #[serde(default)]
        iss: String,
    }
    serde_json::from_slice::<UnverifiedIssuer>(&payload).is_ok_and(|claims| claims.iss == ISSUER)
}

/// The user a verified token stands for (Kubernetes' `ServiceAccountInfo.UserInfo`),
/// with `system:authenticated` added as the authenticator union does.
fn user_info(claims: &TokenClaims) -> UserInfo {
    let kubernetes = &claims.kubernetes;
    let namespace = &kubernetes.namespace;
    let namespace_group = format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}");
    let mut user = UserInfo::authenticated(
        format!(
            "{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{}",
            kubernetes.serviceaccount.name
        ),
        &[SERVICE_ACCOUNTS_GROUP, &namespace_group],
    );
    user.uid = kubernetes.serviceaccount.uid.clone();
    let mut extra = |key: &str, value: &str| {
        user.extra.insert(key.to_owned(), vec![value.to_owned()]);
    };
    if let Some(pod) = kubernetes
        .pod
        .as_ref()
        .filter(|pod| !pod.name.is_empty() && !pod.uid.is_empty())
    {
        extra(POD_NAME_EXTRA, &pod.name);
        extra(POD_UID_EXTRA, &pod.uid);
    }
    if !claims.jti.is_empty() {
        extra(CREDENTIAL_ID_EXTRA, &format!("JTI={}", claims.jti));
    }
    // Only a pod-bound token's node is reported; tokens bound to a node alone are not
    // issued here.
    if kubernetes.pod.is_some()
        && let Some(node) = kubernetes
            .node
            .as_ref()
            .filter(|node| !node.name.is_empty())
    {
        extra(NODE_NAME_EXTRA, &node.name);
        if !node.uid.is_empty() {
            extra(NODE_UID_EXTRA, &node.uid);
        }
    }
    user
}

/// Authenticates bearer tokens against the store, as one of the API server's token
/// authenticators.
pub struct ServiceAccountTokenAuthenticator {
    issuer: std::sync::Arc<ServiceAccountTokenIssuer>,
    storage: SharedStorage,
}

impl ServiceAccountTokenAuthenticator {
    pub fn new(issuer: std::sync::Arc<ServiceAccountTokenIssuer>, storage: SharedStorage) -> Self {
        Self { issuer, storage }
    }
}

impl super::TokenAuthenticator for ServiceAccountTokenAuthenticator {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, String> {
        self.issuer
            .authenticate(token, &self.storage)
            .map_err(|error| error.to_string())
    }
}
