//! delete and deletecollection, with graceful deletion: an object with finalizers, a
//! namespace with spec.finalizers, or a pod on a node is first marked with a
//! deletionTimestamp and removed once released.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::get_list::{object_key, read_list, selectors};
use super::metadata::{metadata_mut, now_rfc3339};
use super::negotiate::{decode_json, decode_protobuf, encode, response_form};
use super::query::Query;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use super::{ApiState, read_body};
use crate::resources::ResourceType;
use crate::store::{ObjectKey, StoredObject, WriteRequest, key_prefix};

/// The DeleteOptions of a request: a body, or the query parameters.
struct DeleteOptions {
    grace_period_seconds: Option<i64>,
    precondition_uid: Option<String>,
    precondition_revision: Option<u64>,
    dry_run: bool,
}

async fn delete_options(body: Body, query: &Query) -> ApiResult<DeleteOptions> {
    let bytes = read_body(body).await?;
    // Typed clients that speak protobuf send their DeleteOptions as protobuf too.
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if bytes.starts_with(wasmkube_protobuf::PROTOBUF_MAGIC) {
        decode_protobuf(&bytes)?
    } else {
        decode_json(&bytes)?
    };
    let precondition_revision = match body
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(text) => Some(text.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid precondition resourceVersion {text:?}"))
        })?),
        None => None,
    };
    let dry_run = query.dry_run
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|modes| modes.iter().any(|mode| mode == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: body
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or(query.grace_period_seconds),
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_revision,
        dry_run,
    })
}

fn non_empty_array(object: &Value, pointer: &str) -> bool {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .is_some_and(|items| !items.is_empty())
}

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

async fn delete_one(
    state: &ApiState,
    resource: &ResourceType,
    key: ObjectKey,
    options: &DeleteOptions,
) -> ApiResult<Deleted> {
    let name = key.name.clone();
    let stored = state
        .storage
        .get(&key)
        .map_err(|error| ApiError::from_store(error, resource, &name))?
        .ok_or_else(|| ApiError::not_found(resource, &name))?;
    let object = &stored.object;
    if let Some(uid) = &options.precondition_uid
        && object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str())
    {
        return Err(ApiError::conflict(
            resource,
            &name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        ));
    }
    if let Some(revision) = options.precondition_revision
        && revision != stored.revision
    {
        return Err(ApiError::conflict(
            resource,
            &name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {revision}, ResourceVersion in object meta: {}",
                stored.revision
            ),
        ));
    }
    let grace = if resource.kind == "Pod" {
        pod_grace_period(object, options.grace_period_seconds)
    } else {
        0
    };
    let already_marked = object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null());
    let held = is_held(object);
    if grace == 0 && !held {
        if options.dry_run {
            return Ok(Deleted::Removed(stored));
        }
        let removed = state
            .storage
            .write(WriteRequest::Delete {
                key,
                expected_revision: Some(stored.revision),
            })
            .await;
        return removed
            .map(Deleted::Removed)
            .map_err(|error| ApiError::from_store(error, resource, &name));
    }
    if already_marked
        && (held
            || grace
                >= object
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0))
    {
        return Ok(Deleted::Pending(stored));
    }
    let mut marked = (*stored.object).clone();
    let deletion_time = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(grace))
        .map(|time| {
            time.round(jiff::Unit::Second)
                .map(|time| time.to_string())
                .unwrap_or_default()
        })
        .unwrap_or_else(|_| now_rfc3339());
    let metadata = metadata_mut(&mut marked);
    // Marking an object for deletion is a change its controllers must observe, so
    // Kubernetes bumps a tracked generation the first time.
    if !already_marked
        && let Some(generation) = metadata
            .get("generation")
            .and_then(Value::as_i64)
            .filter(|generation| *generation > 0)
    {
        metadata.insert("generation".to_owned(), json!(generation + 1));
    }
    metadata.insert("deletionTimestamp".to_owned(), json!(deletion_time));
    metadata.insert("deletionGracePeriodSeconds".to_owned(), json!(grace));
    if resource.kind == "Namespace" {
        marked["status"]["phase"] = json!("Terminating");
    }
    if options.dry_run {
        return Ok(Deleted::Pending(StoredObject {
            revision: stored.revision,
            object: Arc::new(marked),
        }));
    }
    let written = state
        .storage
        .write(WriteRequest::Update {
            key,
            object: marked,
            expected_revision: Some(stored.revision),
        })
        .await;
    written
        .map(Deleted::Pending)
        .map_err(|error| ApiError::from_store(error, resource, &name))
}

/// After an update: an object marked for deletion that nothing holds any more (its last
/// finalizer was removed) is deleted, as Kubernetes does.
/// Whether `object`, marked for deletion, is now free to go: no finalizer holds it, and
/// it is not a pod whose node still has to stop it.
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
        Deleted::Pending(stored) => Ok(encode(form, StatusCode::OK, &stored.object)),
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
                items.push((*stored.object).clone())
            }
            // Deleted by someone else meanwhile: that is what was asked.
            Err(error) if error.code == StatusCode::NOT_FOUND => {}
            Err(error) => return Err(error),
        }
    }
    let list = json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": {"resourceVersion": state.storage.current_revision().to_string()}, "items": items});
    Ok(encode(form, StatusCode::OK, &list))
}
