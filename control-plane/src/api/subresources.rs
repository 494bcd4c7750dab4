//! The subresources that are not the object itself: scale, binding and eviction (log
//! has its own module, `pod_log`).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use super::get_list::{object_key, read_object};
use super::metadata::now_rfc3339;
use super::negotiate::{
    PatchType, decode_json, decode_object_body, encode, patch_type, response_form,
};
use super::query::Query;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use super::{ApiState, read_body};
use crate::store::{StoreError, StoredObject, WriteRequest};

/// The selector of a workload as the Scale subresource shows it: `app=web,tier=front`.
fn selector_text(object: &Value) -> String {
    let labels = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object);
    labels
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn scale_of(stored: &StoredObject) -> Value {
    let object = &stored.object;
    let metadata = object.get("metadata").cloned().unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata.get("name"), "namespace": metadata.get("namespace"), "uid": metadata.get("uid"),
            "resourceVersion": stored.revision.to_string(), "creationTimestamp": metadata.get("creationTimestamp"),
        },
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector_text(object)},
    })
}

pub async fn scale(
    state: &Arc<ApiState>,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let resource = target.resource;
    let name = target.name.as_deref().unwrap_or_default();
    let request = match method.as_str() {
        "GET" => {
            let stored = read_object(state, target)?;
            return Ok(encode(form, StatusCode::OK, &scale_of(&stored)));
        }
        "PUT" => ScaleRequest::Replace(decode_object_body(headers, &read_body(body).await?)?),
        "PATCH" => ScaleRequest::Patch(patch_type(headers)?, decode_json(&read_body(body).await?)?),
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on the scale subresource"
            )));
        }
    };
    // As the Kubernetes API server's GuaranteedUpdate: a write that lost a race with
    // another writer (a controller updating the object's status, say) is tried again on
    // the newer object, unless the request itself named the resourceVersion it expects.
    for _ in 0..super::write::OPTIMISTIC_RETRIES {
        let stored = read_object(state, target)?;
        let new_scale = request.new_scale(&scale_of(&stored))?;
        let replicas = new_scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                resource,
                name,
                vec![super::status::StatusCause {
                    reason: "FieldValueInvalid".to_owned(),
                    message: format!(
                        "Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                    field: "spec.replicas".to_owned(),
                }],
            ));
        }
        let precondition = new_scale
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<u64>().ok());
        if precondition.is_some_and(|revision| revision != stored.revision) {
            return Err(ApiError::stale(resource, name));
        }
        let mut object = (*stored.object).clone();
        object["spec"]["replicas"] = json!(replicas);
        if object.pointer("/spec") != stored.object.pointer("/spec") {
            let generation = object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        if query.dry_run {
            return Ok(encode(
                form,
                StatusCode::OK,
                &scale_of(&StoredObject {
                    revision: stored.revision,
                    object: Arc::new(object),
                }),
            ));
        }
        let written = state
            .storage
            .write(WriteRequest::Update {
                key: object_key(target),
                object,
                expected_revision: Some(stored.revision),
            })
            .await;
        match written {
            Ok(written) => return Ok(encode(form, StatusCode::OK, &scale_of(&written))),
            Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
            Err(error) => return Err(ApiError::from_store(error, resource, name)),
        }
    }
    Err(ApiError::stale(resource, name))
}

/// What a write to the scale subresource asks for: a whole Scale, or a patch of the
/// current one.
enum ScaleRequest {
    Replace(Value),
    Patch(PatchType, Value),
}

impl ScaleRequest {
    fn new_scale(&self, current_scale: &Value) -> ApiResult<Value> {
        let (patch_type, patch) = match self {
            ScaleRequest::Replace(scale) => return Ok(scale.clone()),
            ScaleRequest::Patch(patch_type, patch) => (patch_type, patch),
        };
        let patched = match patch_type {
            PatchType::Json => wasmkube_patch::json_patch(current_scale, patch),
            PatchType::Merge => wasmkube_patch::json_merge_patch(current_scale, patch),
            PatchType::Strategic => {
                wasmkube_patch::strategic_merge_patch("Scale", current_scale, patch)
            }
            PatchType::Apply => {
                return Err(ApiError::unsupported_body(
                    "server-side apply (application/apply-patch+yaml) is not supported yet; use client-side apply",
                ));
            }
        };
        patched.map_err(|error| ApiError::bad_request(error.to_string()))
    }
}

/// pods/binding: the scheduler's way of assigning a pod to a node, once.
pub async fn bind(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let binding = decode_object_body(headers, &read_body(body).await?)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty());
    let node = node
        .ok_or_else(|| ApiError::bad_request("a binding needs target.name: the node to bind to"))?
        .to_owned();
    let name = target.name.as_deref().unwrap_or_default();
    // A binding lost to a concurrent write (the pod's status, its labels) is tried again
    // on the newer pod, as Kubernetes' GuaranteedUpdate does; the checks run each time.
    for _ in 0..super::write::OPTIMISTIC_RETRIES {
        let stored = read_object(state, target)?;
        let pod = bound_pod(&stored, target, name, &node)?;
        let written = state
            .storage
            .write(WriteRequest::Update {
                key: object_key(target),
                object: pod,
                expected_revision: Some(stored.revision),
            })
            .await;
        match written {
            Ok(_) => {
                return Ok(encode(
                    form,
                    StatusCode::CREATED,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(ApiError::from_store(error, target.resource, name)),
        }
    }
    Err(ApiError::stale(target.resource, name))
}

/// The pod bound to `node`, or why it cannot be.
fn bound_pod(
    stored: &StoredObject,
    target: &ResourceTarget,
    name: &str,
    node: &str,
) -> ApiResult<Value> {
    let mut pod = (*stored.object).clone();
    if let Some(current) = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|current| !current.is_empty())
    {
        return Err(ApiError::conflict(
            target.resource,
            name,
            &format!("pod {name} is already assigned to node \"{current}\""),
        ));
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null())
    {
        return Err(ApiError::conflict(
            target.resource,
            name,
            &format!("pod {name} is being deleted, cannot be assigned to a host"),
        ));
    }
    pod["spec"]["nodeName"] = json!(node);
    let mut conditions: Vec<Value> = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions
        .retain(|condition| condition.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()}));
    pod["status"]["conditions"] = json!(conditions);
    Ok(pod)
}

/// pods/eviction: deletes the pod (there are no PodDisruptionBudgets to consult).
pub async fn evict(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let _eviction = decode_object_body(headers, &read_body(body).await?)?;
    let name = target.name.as_deref().unwrap_or_default();
    let stored = read_object(state, target)?;
    let mut pod = (*stored.object).clone();
    let grace = pod
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|node| !node.is_empty());
    let request = if scheduled {
        pod["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        WriteRequest::Update {
            key: object_key(target),
            object: pod,
            expected_revision: Some(stored.revision),
        }
    } else {
        WriteRequest::Delete {
            key: object_key(target),
            expected_revision: Some(stored.revision),
        }
    };
    state
        .storage
        .write(request)
        .await
        .map_err(|error| ApiError::from_store(error, target.resource, name))?;
    Ok(encode(
        form,
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
