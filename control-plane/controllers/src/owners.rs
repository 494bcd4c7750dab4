//! Owner references: which controller owns an object, and claiming (adopting orphans that
//! match the owner's selector, releasing owned objects that no longer match), as
//! kube-controller-manager's `ControllerRefManager` does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("invalid selector: {0}")]
    Selector(#[from] kube::core::ParseExpressionError),
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

/// A reference that makes `owner` the controller of the object that carries it; the
/// garbage collector's foreground deletion waits for such dependents.
pub fn controller_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The object's controller, the owner reference with `controller: true`.
pub fn controller_of(metadata: &ObjectMeta) -> Option<&OwnerReference> {
    metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|reference| reference.controller == Some(true))
}

pub fn is_controlled_by(metadata: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(metadata).is_some_and(|reference| reference.uid == owner_uid)
}

/// The owner's label selector in kube-rs' form; an empty selector selects everything,
/// which controllers refuse for their pods by validation, so it is passed through.
pub fn selector(label_selector: &LabelSelector) -> Result<Selector, ClaimError> {
    Ok(Selector::try_from(label_selector.clone())?)
}

/// Of `candidates` (the namespace's objects, typically listed by the owner's selector),
/// the ones `owner` controls after claiming: orphans that match `selector` are adopted
/// (unless the owner is being deleted), owned ones that no longer match are released.
/// Each change is a whole-object update with the object's resourceVersion, so a racing
/// writer makes it fail with 409 Conflict rather than be overwritten; the caller's retry
/// sees the new state.
pub async fn claim<K, O>(
    api: &Api<K>,
    owner: &O,
    selector: &Selector,
    candidates: Vec<K>,
) -> Result<Vec<K>, ClaimError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    O: Resource<DynamicType = ()>,
{
    let owner_uid = owner.uid().unwrap_or_default();
    let owner_is_deleted = owner.meta().deletion_timestamp.is_some();
    let mut claimed = Vec::new();
    for mut candidate in candidates {
        let matches = selector.matches(candidate.labels());
        let controller_uid = controller_of(candidate.meta()).map(|reference| reference.uid.clone());
        match controller_uid {
            Some(uid) if uid == owner_uid => {
                if matches || owner_is_deleted {
                    claimed.push(candidate);
                } else {
                    candidate
                        .meta_mut()
                        .owner_references
                        .get_or_insert_with(Vec::new)
                        .retain(|reference| reference.uid != owner_uid);
                    replace(api, &candidate).await?;
                }
            }
            Some(_) => {}
            None => {
                if !matches || owner_is_deleted || candidate.meta().deletion_timestamp.is_some() {
                    continue;
                }
                candidate
                    .meta_mut()
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(controller_reference(owner));
                claimed.push(replace(api, &candidate).await?);
            }
        }
    }
    Ok(claimed)
}

async fn replace<K>(api: &Api<K>, object: &K) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    api.replace(&object.name_any(), &PostParams::default(), object)
        .await
}
