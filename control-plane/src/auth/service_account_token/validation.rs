//! The checks a verified token still has to pass against the store (kube-apiserver's
//! legacy validator): its ServiceAccount exists with the uid it names and is not gone,
//! and the secret or pod it is bound to exists with the uid it names and was not deleted
//! more than the leeway ago. Each is one point read: no scan per request.

use serde_json::Value;

use super::claims::{KubernetesClaims, ObjectRef};
use super::{LEEWAY_SECONDS, TokenError};
use crate::store::{ObjectKey, Storage};

fn uid_of(object: &Value) -> &str {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether the object was marked for deletion before `cutoff`. A deletion time that
/// does not parse counts as long past, so that such an object never keeps a token valid.
fn deleted_before(object: &Value, cutoff: jiff::Timestamp) -> bool {
    let Some(stamp) = object
        .pointer("/metadata/deletionTimestamp")
        .filter(|stamp| !stamp.is_null())
    else {
        return false;
    };
    stamp
        .as_str()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .is_none_or(|deleted_at| deleted_at < cutoff)
}

/// Checks what the token's `kubernetes.io` claims name, as of `now`.
pub(super) fn check_named_objects(
    claims: &KubernetesClaims,
    storage: &dyn Storage,
    now: jiff::Timestamp,
) -> Result<(), TokenError> {
    let cutoff = now
        .checked_sub(jiff::SignedDuration::from_secs(LEEWAY_SECONDS))
        .unwrap_or(now);
    let namespace = &claims.namespace;
    let account = &claims.serviceaccount;
    let stored = storage
        .get(&ObjectKey::new("serviceaccounts", namespace, &account.name))?
        .ok_or_else(|| TokenError::ServiceAccountNotFound {
            name: account.name.clone(),
        })?;
    let stored_uid = uid_of(&stored.object);
    if stored_uid != account.uid {
        return Err(TokenError::ServiceAccountUidMismatch {
            stored: stored_uid.to_owned(),
            claimed: account.uid.clone(),
        });
    }
    if deleted_before(&stored.object, cutoff) {
        return Err(TokenError::ServiceAccountDeleted {
            namespace: namespace.clone(),
            name: account.name.clone(),
        });
    }
    if let Some(secret) = &claims.secret {
        check_bound_object(storage, "secrets", namespace, secret, cutoff).map_err(|problem| {
            match problem {
                BoundObjectProblem::OtherUid(stored) => TokenError::SecretUidMismatch {
                    stored,
                    claimed: secret.uid.clone(),
                },
                BoundObjectProblem::Gone => TokenError::Invalidated,
            }
        })?;
    }
    if let Some(pod) = &claims.pod {
        check_bound_object(storage, "pods", namespace, pod, cutoff).map_err(
            |problem| match problem {
                BoundObjectProblem::OtherUid(stored) => TokenError::PodUidMismatch {
                    stored,
                    claimed: pod.uid.clone(),
                },
                BoundObjectProblem::Gone => TokenError::Invalidated,
            },
        )?;
    }
    Ok(())
}

/// What is wrong with an object a token is bound to.
enum BoundObjectProblem {
    /// Gone, deleted for longer than the leeway, or unreadable: Kubernetes calls all of
    /// those "invalidated".
    Gone,
    /// Re-created: the stored object has this other uid.
    OtherUid(String),
}

fn check_bound_object(
    storage: &dyn Storage,
    resource: &str,
    namespace: &str,
    claimed: &ObjectRef,
    cutoff: jiff::Timestamp,
) -> Result<(), BoundObjectProblem> {
    let stored = storage
        .get(&ObjectKey::new(resource, namespace, &claimed.name))
        .ok()
        .flatten()
        .ok_or(BoundObjectProblem::Gone)?;
    let stored_uid = uid_of(&stored.object);
    if stored_uid != claimed.uid {
        return Err(BoundObjectProblem::OtherUid(stored_uid.to_owned()));
    }
    if deleted_before(&stored.object, cutoff) {
        return Err(BoundObjectProblem::Gone);
    }
    Ok(())
}
