//! What the collector does with one object, as kube-controller-manager's
//! `attemptToDeleteItem`, `processDeletingDependentsItem` and `attemptToOrphanWorker` do.
//! Every write carries the resourceVersion (or uid) of the state it was decided on, so a
//! change in between makes it fail with 409 Conflict and the object is looked at again.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::Action;
use serde_json::json;

use super::monitor::TypeContext;
use super::{
    Collector, FOREGROUND_DELETION_FINALIZER, GarbageCollectorError, NodeIdentity,
    ORPHAN_FINALIZER, ObjectMetadata,
};

/// How soon an owner waiting for the graph's first complete listing is looked at again.
const UNSYNCED_RETRY: Duration = Duration::from_millis(100);

type Outcome = Result<Action, GarbageCollectorError>;

fn has_finalizer(object: &ObjectMetadata, finalizer: &str) -> bool {
    object
        .finalizers()
        .iter()
        .any(|present| present == finalizer)
}

fn is_gone(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

pub(super) async fn reconcile(object: Arc<ObjectMetadata>, context: Arc<TypeContext>) -> Outcome {
    let Some(uid) = object.uid() else {
        return Ok(Action::await_change());
    };
    let item = NodeIdentity {
        watched: Arc::clone(&context.watched),
        namespace: object.namespace(),
        name: object.name_any(),
        uid,
    };
    let collector = &context.collector;
    let outcome = decide(collector, &item, &object).await;
    if outcome.is_ok() {
        collector
            .backoff
            .succeeded_for(&context.object_ref(&object));
    }
    outcome
}

async fn decide(collector: &Collector, item: &NodeIdentity, object: &ObjectMetadata) -> Outcome {
    if object.metadata.deletion_timestamp.is_some() {
        if has_finalizer(object, ORPHAN_FINALIZER) {
            return orphan_dependents(collector, item).await;
        }
        if has_finalizer(object, FOREGROUND_DELETION_FINALIZER) {
            return delete_dependents(collector, item).await;
        }
        // Being deleted is a one-way trip: its dependents are looked at once it is gone.
        return Ok(Action::await_change());
    }
    let references = object.owner_references();
    if references.is_empty() || collector.graph().all_owners_solid(references) {
        return Ok(Action::await_change());
    }
    attempt_to_delete(collector, item).await
}

/// The object as the API server has it now, or None when it is gone (or is another
/// object of the same name).
async fn live(
    collector: &Collector,
    item: &NodeIdentity,
) -> Result<Option<ObjectMetadata>, GarbageCollectorError> {
    let api = item
        .watched
        .metadata_api(&collector.client, item.namespace.as_deref());
    let found = api.get_opt(&item.name).await?;
    Ok(found.filter(|object| object.uid().as_deref() == Some(item.uid.as_str())))
}

/// How a dependent's reference to an owner stands.
enum Reference {
    /// The owner exists and is not waiting for its dependents to be deleted.
    Solid,
    /// The owner does not exist, or another object has its name.
    Dangling,
    /// The owner is being deleted in foreground.
    WaitingForDependentsDeletion,
    /// A cluster-scoped object names a namespaced owner, which cannot be; Kubernetes
    /// leaves such an object alone.
    Invalid,
}

async fn classify(
    collector: &Collector,
    item: &NodeIdentity,
    reference: &OwnerReference,
) -> Result<Reference, GarbageCollectorError> {
    let owner_type = collector.resolve(&reference.api_version, &reference.kind)?;
    if owner_type.namespaced && item.namespace.is_none() {
        return Ok(Reference::Invalid);
    }
    let api = owner_type.metadata_api(&collector.client, item.namespace.as_deref());
    let owner = match api.get_opt(&reference.name).await? {
        Some(owner) if owner.uid().as_deref() == Some(reference.uid.as_str()) => owner,
        _ => return Ok(Reference::Dangling),
    };
    if owner.metadata.deletion_timestamp.is_some()
        && has_finalizer(&owner, FOREGROUND_DELETION_FINALIZER)
    {
        Ok(Reference::WaitingForDependentsDeletion)
    } else {
        Ok(Reference::Solid)
    }
}

async fn attempt_to_delete(collector: &Collector, item: &NodeIdentity) -> Outcome {
    let Some(latest) = live(collector, item).await? else {
        return Ok(Action::await_change());
    };
    if latest.metadata.deletion_timestamp.is_some() {
        // Its marking is on the way through the watch, and is handled then.
        return Ok(Action::await_change());
    }
    let mut solid = 0;
    let mut dangling_or_waiting = Vec::new();
    let mut waiting = 0;
    for reference in latest.owner_references() {
        match classify(collector, item, reference).await? {
            Reference::Solid => solid += 1,
            Reference::Dangling => dangling_or_waiting.push(reference.uid.clone()),
            Reference::WaitingForDependentsDeletion => {
                waiting += 1;
                dangling_or_waiting.push(reference.uid.clone());
            }
            Reference::Invalid => {
                tracing::warn!(
                    object = %item.object_ref(),
                    owner = %reference.name,
                    "a cluster-scoped object names a namespaced owner; leaving it alone"
                );
                return Ok(Action::await_change());
            }
        }
    }
    if solid > 0 {
        if !dangling_or_waiting.is_empty() {
            // Keep the live owners; drop the references that would otherwise hold a
            // foreground owner forever or point at nothing.
            remove_owner_references(collector, item, &latest, &dangling_or_waiting).await?;
        }
        return Ok(Action::await_change());
    }
    let own_dependents = collector.graph().dependents_of(&item.uid);
    if waiting > 0 && !own_dependents.is_empty() {
        // It has dependents of its own, which a foreground deletion of it will wait for.
        let mut resource_version = latest.resource_version();
        if own_dependents
            .iter()
            .any(|dependent| dependent.deleting_dependents)
        {
            // A dependent of this object waits in foreground as well: its owner
            // references stop blocking first, so that a cycle cannot hold everything.
            resource_version = unblock_owner_references(collector, item, &latest).await?;
        }
        delete(
            collector,
            item,
            &latest,
            resource_version,
            PropagationPolicy::Foreground,
        )
        .await?;
        return Ok(Action::await_change());
    }
    // No owner is left: the object goes, with the policy its own finalizers ask for.
    let policy = if has_finalizer(&latest, ORPHAN_FINALIZER) {
        PropagationPolicy::Orphan
    } else if has_finalizer(&latest, FOREGROUND_DELETION_FINALIZER) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    delete(collector, item, &latest, latest.resource_version(), policy).await?;
    Ok(Action::await_change())
}

/// Deletes `item` if it is still the version decided on. When only something other than
/// its owner references changed meanwhile, the deletion is retried with the uid alone, so
/// that an object that changes often is not spared forever (as Kubernetes does).
async fn delete(
    collector: &Collector,
    item: &NodeIdentity,
    latest: &ObjectMetadata,
    resource_version: Option<String>,
    policy: PropagationPolicy,
) -> Result<(), GarbageCollectorError> {
    let api = item
        .watched
        .object_api(&collector.client, item.namespace.as_deref());
    let parameters = |resource_version: Option<String>| DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(item.uid.clone()),
            resource_version,
        }),
        propagation_policy: Some(policy.clone()),
        ..DeleteParams::default()
    };
    tracing::debug!(object = %item.object_ref(), ?policy, "garbage collector deletes");
    match api.delete(&item.name, &parameters(resource_version)).await {
        Ok(_) => Ok(()),
        Err(error) if is_gone(&error) => Ok(()),
        Err(error) if is_conflict(&error) => {
            let Some(now) = live(collector, item).await? else {
                return Ok(());
            };
            if now.owner_references() != latest.owner_references() {
                return Err(error.into());
            }
            match api.delete(&item.name, &parameters(None)).await {
                Ok(_) => Ok(()),
                Err(error) if is_gone(&error) => Ok(()),
                Err(error) => Err(error.into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// A JSON merge patch of the object's metadata, made on the state with `resource_version`
/// (which makes it a precondition). A missing object is not an error.
async fn patch_metadata(
    collector: &Collector,
    item: &NodeIdentity,
    resource_version: Option<String>,
    metadata: serde_json::Value,
) -> Result<Option<String>, GarbageCollectorError> {
    let mut metadata = metadata;
    metadata["resourceVersion"] = json!(resource_version);
    let api = item
        .watched
        .object_api(&collector.client, item.namespace.as_deref());
    let patch = json!({ "metadata": metadata });
    match api
        .patch(&item.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(patched) => Ok(patched.resource_version()),
        Err(error) if is_gone(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

async fn remove_owner_references(
    collector: &Collector,
    item: &NodeIdentity,
    latest: &ObjectMetadata,
    owner_uids: &[String],
) -> Result<(), GarbageCollectorError> {
    let kept: Vec<&OwnerReference> = latest
        .owner_references()
        .iter()
        .filter(|reference| !owner_uids.contains(&reference.uid))
        .collect();
    if kept.len() == latest.owner_references().len() {
        return Ok(());
    }
    let references = if kept.is_empty() {
        json!(null)
    } else {
        json!(kept)
    };
    patch_metadata(
        collector,
        item,
        latest.resource_version(),
        json!({ "ownerReferences": references }),
    )
    .await?;
    Ok(())
}

/// Sets `blockOwnerDeletion: false` on every owner reference; answers the new
/// resourceVersion.
async fn unblock_owner_references(
    collector: &Collector,
    item: &NodeIdentity,
    latest: &ObjectMetadata,
) -> Result<Option<String>, GarbageCollectorError> {
    let references: Vec<OwnerReference> = latest
        .owner_references()
        .iter()
        .cloned()
        .map(|reference| OwnerReference {
            block_owner_deletion: Some(false),
            ..reference
        })
        .collect();
    patch_metadata(
        collector,
        item,
        latest.resource_version(),
        json!({ "ownerReferences": references }),
    )
    .await
}

async fn remove_finalizer(
    collector: &Collector,
    item: &NodeIdentity,
    finalizer: &str,
) -> Result<(), GarbageCollectorError> {
    let Some(latest) = live(collector, item).await? else {
        return Ok(());
    };
    if !has_finalizer(&latest, finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = latest
        .finalizers()
        .iter()
        .filter(|present| *present != finalizer)
        .collect();
    let finalizers = if kept.is_empty() {
        json!(null)
    } else {
        json!(kept)
    };
    tracing::debug!(object = %item.object_ref(), finalizer, "garbage collector finalizes");
    patch_metadata(
        collector,
        item,
        latest.resource_version(),
        json!({ "finalizers": finalizers }),
    )
    .await?;
    Ok(())
}

/// An owner deleted in foreground: its dependents are asked to be deleted (each decides
/// for itself, seeing this owner waiting), and once no dependent blocks it, its
/// finalizer goes.
async fn delete_dependents(collector: &Collector, owner: &NodeIdentity) -> Outcome {
    let (synced, dependents) = {
        let graph = collector.graph();
        (graph.synced(), graph.dependents_of(&owner.uid))
    };
    if !synced {
        return Ok(Action::requeue(UNSYNCED_RETRY));
    }
    for dependent in dependents
        .iter()
        .filter(|dependent| !dependent.being_deleted)
    {
        collector.request(&dependent.identity);
    }
    if dependents.iter().any(|dependent| dependent.blocks_owner) {
        return Ok(Action::await_change());
    }
    remove_finalizer(collector, owner, FOREGROUND_DELETION_FINALIZER).await?;
    Ok(Action::await_change())
}

/// An owner deleted with Orphan: every dependent loses its reference to it, then its
/// finalizer goes.
async fn orphan_dependents(collector: &Collector, owner: &NodeIdentity) -> Outcome {
    let (synced, dependents) = {
        let graph = collector.graph();
        (graph.synced(), graph.dependents_of(&owner.uid))
    };
    if !synced {
        return Ok(Action::requeue(UNSYNCED_RETRY));
    }
    let orphaned = dependents.iter().map(|dependent| async {
        let Some(latest) = live(collector, &dependent.identity).await? else {
            return Ok(());
        };
        remove_owner_references(
            collector,
            &dependent.identity,
            &latest,
            std::slice::from_ref(&owner.uid),
        )
        .await
    });
    futures::future::try_join_all(orphaned).await?;
    remove_finalizer(collector, owner, ORPHAN_FINALIZER).await?;
    Ok(Action::await_change())
}
