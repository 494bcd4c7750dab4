//! A ServiceAccount token's claims, as kube-apiserver writes them
//! (`pkg/serviceaccount/claims.go`): the registered JWT claims, and under `kubernetes.io`
//! the account, the object the token is bound to and the node of a bound pod. Keys come
//! out in alphabetical order, as Kubernetes' (which go through a map) do.

use serde::{Deserialize, Deserializer, Serialize};

/// A name and a uid, as a token names the objects it is tied to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl ObjectRef {
    pub fn new(name: impl Into<String>, uid: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            uid: uid.into(),
        }
    }
}

/// The private claims under `kubernetes.io`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    #[serde(default)]
    pub namespace: String,
    /// The node a bound pod was on when the token was made; its uid is empty when the
    /// Node object did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    /// When a token whose lifetime the API server extended should have expired (Unix
    /// seconds): using it later is only worth a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Every claim of a ServiceAccount token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TokenClaims {
    #[serde(default, deserialize_with = "audiences")]
    pub(super) aud: Vec<String>,
    pub(super) exp: i64,
    #[serde(default)]
    pub(super) iat: i64,
    pub(super) iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(super) jti: String,
    #[serde(rename = "kubernetes.io")]
    pub(super) kubernetes: KubernetesClaims,
    #[serde(default)]
    pub(super) nbf: i64,
    pub(super) sub: String,
}

/// RFC 7519 allows `aud` to be a single string as well as a list.
fn audiences<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audiences {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Audiences::deserialize(deserializer)? {
        Audiences::One(audience) => vec![audience],
        Audiences::Many(audiences) => audiences,
    })
}
