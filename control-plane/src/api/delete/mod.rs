//! delete and deletecollection, with graceful deletion and deletion propagation: an object
//! with finalizers, a namespace with spec.finalizers, or a pod on a node is first marked
//! with a deletionTimestamp and removed once released. The DeleteOptions'
//! `propagationPolicy` (or the deprecated `orphanDependents`) decides what happens to the
//! object's dependents, as the generic registry's `deletionFinalizersForGarbageCollection`
//! does: Foreground holds the object with the `foregroundDeletion` finalizer until the
//! garbage collector has deleted its blocking dependents, Orphan holds it with the `orphan`
//! finalizer until the collector has removed the owner references to it, and Background
//! (the default for every kind served) deletes it at once and leaves the dependents to the
//! collector.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::ApiState;
use super::get_list::{object_key, read_list, selectors};
use super::metadata::{metadata_mut, now_rfc3339};
use super::negotiate::{encode, response_form};
use super::query::Query;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use crate::resources::ResourceType;
use crate::store::{ObjectKey, StoreError, StoredObject, WriteRequest, key_prefix};

mod options;

use options::{
    DeleteOptions, delete_options, finalizers_after_deletion, finalizers_of, non_empty_array,
};

/// Whether an object marked for deletion still waits for someone: finalizers, or (for a
/// namespace) the namespace controller's spec.finalizers.
fn is_held(object: &Value) -> bool {
    non_empty_array(object, "/metadata/finalizers") || non_empty_array(object, "/spec/finalizers")
}

/// A pod that a node runs gets its grace period to stop; the node agent then deletes it
/// with a grace period of zero.
fn pod_grace_period(object: &Value, requested: Option<i64>) -> i64 {
    let scheduled = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|node| !node.is_empty());
    let terminal = matches!(
        object.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || terminal {
        return 0;
    }
    requested
        .or_else(|| {
            object
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

fn success_status(resource: &ResourceType, object: &Value) -> Value {
    let mut details = json!({
        "name": object.pointer("/metadata/name").cloned().unwrap_or_default(),
        "kind": resource.plural,
        "uid": object.pointer("/metadata/uid").cloned().unwrap_or_default(),
    });
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

enum Deleted {
    /// Gone from the store.
    Removed(StoredObject),
    /// Marked with a deletionTimestamp, waiting for finalizers or for its node.
    Pending(StoredObject),
}

fn check_preconditions(
    resource: &ResourceType,
    name: &str,
    stored: &StoredObject,
    options: &DeleteOptions,
) -> ApiResult<()> {
    let uid = stored
        .object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(expected) = &options.precondition_uid
        && expected != uid
    {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: UID in precondition: {expected}, UID in object meta: {uid}"
            ),
        ));
    }
    if let Some(revision) = options.precondition_revision
        && revision != stored.revision
    {
        return Err(ApiError::conflict(
            resource,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {revision}, ResourceVersion in object meta: {}",
                stored.revision
            ),
        ));
    }
    Ok(())
}

/// The time `seconds` after `start`, as Kubernetes writes timestamps (whole seconds).
fn seconds_after(start: jiff::Timestamp, seconds: i64) -> String {
    start
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .and_then(|time| time.round(jiff::Unit::Second))
        .map(|time| time.to_string())
        .unwrap_or_else(|_| now_rfc3339())
}

/// How often a deletion is redone after another writer changed the object between its
/// read and its write, as the API server's `GuaranteedUpdate` does.
const OPTIMISTIC_RETRIES: usize = 8;

async fn delete_one(
    state: &ApiState,
    resource: &ResourceType,
    key: ObjectKey,
    options: &DeleteOptions,
) -> ApiResult<Deleted> {
    for _ in 0..OPTIMISTIC_RETRIES {
        if let Some(deleted) = try_delete_one(state, resource, &key, options).await? {
            return Ok(deleted);
        }
    }
    Err(ApiError::stale(resource, &key.name))
}

/// One read-decide-write round of a deletion; None when another write came in between.
async fn try_delete_one(
    state: &ApiState,
    resource: &ResourceType,
    key: &ObjectKey,
    options: &DeleteOptions,
) -> ApiResult<Option<Deleted>> {
    let name = key.name.clone();
    let stored = state
        .storage
        .get(key)
        .map_err(|error| ApiError::from_store(error, resource, &name))?
        .ok_or_else(|| ApiError::not_found(resource, &name))?;
    check_preconditions(resource, &name, &stored, options)?;
    let object = &stored.object;
    let grace = if resource.kind == "Pod" {
        pod_grace_period(object, options.grace_period_seconds)
    } else {
        0
    };
    let already_marked = object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null());
    let marked_grace = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // A graceful deletion under way may only be shortened; otherwise the request changes
    // nothing, not even the finalizers (BeforeDelete's pending graceful deletion).
    let shortens = already_marked && marked_grace > 0 && grace < marked_grace;
    if already_marked && marked_grace > 0 && !shortens {
        return Ok(Some(Deleted::Pending(stored)));
    }
    let existing_finalizers = finalizers_of(object);
    let finalizers = finalizers_after_deletion(&existing_finalizers, options.propagation);
    let held = !finalizers.is_empty() || non_empty_array(object, "/spec/finalizers");
    if grace == 0 && !held {
        if options.dry_run {
            return Ok(Some(Deleted::Removed(stored)));
        }
        let removed = state
            .storage
            .write(WriteRequest::Delete {
                key: key.clone(),
                expected_revision: Some(stored.revision),
            })
            .await;
        return written(removed.map(Deleted::Removed), resource, &name);
    }
    if already_marked && !shortens && finalizers == existing_finalizers {
        return Ok(Some(Deleted::Pending(stored)));
    }
    let mut marked = (*stored.object).clone();
    let metadata = metadata_mut(&mut marked);
    if !already_marked {
        // Marking an object for deletion is a change its controllers must observe, so
        // Kubernetes bumps a tracked generation the first time.
        if let Some(generation) = metadata
            .get("generation")
            .and_then(Value::as_i64)
            .filter(|generation| *generation > 0)
        {
            metadata.insert("generation".to_owned(), json!(generation + 1));
        }
        metadata.insert(
            "deletionTimestamp".to_owned(),
            json!(seconds_after(jiff::Timestamp::now(), grace)),
        );
        metadata.insert("deletionGracePeriodSeconds".to_owned(), json!(grace));
    } else if shortens {
        // The deadline moves earlier by the difference, as Kubernetes computes it.
        let marked_at = metadata
            .get("deletionTimestamp")
            .and_then(Value::as_str)
            .and_then(|stamp| stamp.parse::<jiff::Timestamp>().ok())
            .unwrap_or_else(jiff::Timestamp::now);
        metadata.insert(
            "deletionTimestamp".to_owned(),
            json!(seconds_after(marked_at, grace - marked_grace)),
        );
        metadata.insert("deletionGracePeriodSeconds".to_owned(), json!(grace));
    }
    if finalizers != existing_finalizers {
        if finalizers.is_empty() {
            metadata.remove("finalizers");
        } else {
            metadata.insert("finalizers".to_owned(), json!(finalizers));
        }
    }
    if resource.kind == "Namespace" {
        marked["status"]["phase"] = json!("Terminating");
    }
    if options.dry_run {
        return Ok(Some(Deleted::Pending(StoredObject {
            revision: stored.revision,
            object: Arc::new(marked),
        })));
    }
    let updated = state
        .storage
        .write(WriteRequest::Update {
            key: key.clone(),
            object: marked,
            expected_revision: Some(stored.revision),
        })
        .await;
    written(updated.map(Deleted::Pending), resource, &name)
}

/// A write's outcome for `try_delete_one`: a conflict means "read again".
fn written(
    result: Result<Deleted, StoreError>,
    resource: &ResourceType,
    name: &str,
) -> ApiResult<Option<Deleted>> {
    match result {
        Ok(deleted) => Ok(Some(deleted)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(error) => Err(ApiError::from_store(error, resource, name)),
    }
}

/// Whether `object`, marked for deletion, is now free to go: no finalizer holds it, and
/// it is not a pod whose node still has to stop it. After an update that removes the last
/// finalizer, such an object is deleted, as Kubernetes does.
pub fn is_released(resource: &ResourceType, object: &Value) -> bool {
    let marked = object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null());
    let waiting_for_node = resource.kind == "Pod"
        && object
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0;
    marked && !is_held(object) && !waiting_for_node
}

pub async fn delete(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let options = delete_options(body, query).await?;
    match delete_one(state, target.resource, object_key(target), &options).await? {
        Deleted::Removed(stored) => Ok(encode(
            form,
            StatusCode::OK,
            &success_status(target.resource, &stored.object),
        )),
        // Kubernetes answers a deletion that must wait with 200 and the marked object; it
        // keeps 202 for the deprecated orphanDependents=false alone, so clients expect 200.
        Deleted::Pending(stored) => {
            let code = if options.orphan_dependents == Some(false) {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            Ok(encode(
                form,
                code,
                &crate::resources::to_served(target.resource, &stored.object),
            ))
        }
    }
}

pub async fn delete_collection(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let resource = target.resource;
    let options = delete_options(body, query).await?;
    let selectors = selectors(resource, query)?;
    let prefix = key_prefix(&resource.storage_name(), target.namespace.as_deref());
    let listed = read_list(state, &prefix, &selectors, None, None, None)?;
    let mut items = Vec::new();
    for object in listed.items {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = ObjectKey::new(&resource.storage_name(), namespace, name);
        match delete_one(state, resource, key, &options).await {
            Ok(Deleted::Removed(stored) | Deleted::Pending(stored)) => {
                items.push((*crate::resources::to_served(resource, &stored.object)).clone())
            }
            // Deleted by someone else meanwhile: that is what was asked.
            Err(error) if error.code == StatusCode::NOT_FOUND => {}
            Err(error) => return Err(error),
        }
    }
    let list = json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": {"resourceVersion": state.storage.current_revision().to_string()}, "items": items});
    Ok(encode(form, StatusCode::OK, &list))
}
