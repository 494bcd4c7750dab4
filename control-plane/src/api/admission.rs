//! Admission of a create or update: Kubernetes' defaulting, the namespace lifecycle,
//! validation and Service address allocation.

use serde_json::{Value, json};
use tokio::sync::MutexGuard;

use super::ApiState;
use super::allocation::allocate_service_addresses;
use super::metadata::name_of;
use super::status::{ApiError, ApiResult, StatusCause};
use crate::resources::ResourceType;
use crate::store::ObjectKey;

fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// New objects may only go into a namespace that exists and is not being deleted.
fn check_namespace_lifecycle(
    state: &ApiState,
    resource: &ResourceType,
    object: &Value,
) -> ApiResult<()> {
    let namespace = namespace_of(object);
    let stored = state
        .storage
        .get(&ObjectKey::new("namespaces", "", namespace))
        .map_err(|error| ApiError::internal(error.to_string()))?
        .ok_or_else(|| ApiError::namespace_not_found(namespace))?;
    if stored
        .object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|stamp| !stamp.is_null())
    {
        return Err(ApiError::forbidden(
            resource,
            name_of(object),
            &format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// What the pod and namespace strategies set on create: a new pod is Pending with its QoS
/// class; a new namespace is Active.
fn initial_status(resource: &ResourceType, object: &mut Value) {
    match resource.kind {
        "Pod" => object["status"] = json!({"phase": "Pending", "qosClass": qos_class(object)}),
        "Namespace" => object["status"] = json!({"phase": "Active"}),
        _ if resource.has_status() => {
            if let Some(fields) = object.as_object_mut() {
                fields.remove("status");
            }
        }
        _ => {}
    }
}

/// A Secret's stringData is write-only convenience: the API server merges it into data
/// (base64-encoded, winning over data's keys) and never stores it.
fn merge_secret_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(string_data) = secret
        .as_object_mut()
        .and_then(|fields| fields.remove("stringData"))
    else {
        return;
    };
    let Some(string_data) = string_data
        .as_object()
        .filter(|entries| !entries.is_empty())
    else {
        return;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        secret["data"] = json!({});
    }
    for (key, value) in string_data {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap_or_default());
        secret["data"][key] = json!(encoded);
    }
}

/// Kubernetes' QoS class: Guaranteed when every container's cpu and memory limits equal
/// its requests, BestEffort when no container asks for anything, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|pointer| pod.pointer(pointer).and_then(Value::as_array))
        .flatten()
        .collect();
    let quantity = |container: &Value, section: &str, resource: &str| {
        container
            .pointer(&format!("/resources/{section}/{resource}"))
            .and_then(Value::as_str)
            .and_then(|text| wasmkube_admission::quantity::Quantity::parse(text).ok())
            .filter(|quantity| !quantity.is_zero())
    };
    let mut any_set = false;
    let mut guaranteed = true;
    for container in containers {
        for resource in ["cpu", "memory"] {
            let (request, limit) = (
                quantity(container, "requests", resource),
                quantity(container, "limits", resource),
            );
            any_set |= request.is_some() || limit.is_some();
            // A limit without a request defaults the request to the limit.
            guaranteed &= limit.is_some() && (request.is_none() || request == limit);
        }
    }
    match (any_set, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

fn invalid(
    resource: &ResourceType,
    object: &Value,
    errors: Vec<wasmkube_admission::FieldError>,
) -> ApiError {
    let causes = errors
        .iter()
        .map(|error| StatusCause {
            reason: error.reason.cause_type().to_owned(),
            message: error.body(),
            field: error.field.clone(),
        })
        .collect();
    ApiError::invalid(resource, name_of(object), causes)
}

/// Admits `object` (the new state; `old` is the current one on update). The returned
/// guard, when any, must be held until the write is done.
pub async fn admit<'a>(
    state: &'a ApiState,
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
) -> ApiResult<Option<MutexGuard<'a, ()>>> {
    wasmkube_admission::apply_defaults(resource.kind, object);
    if resource.kind == "Secret" {
        merge_secret_string_data(object);
    }
    let creating = old.is_none();
    if creating {
        initial_status(resource, object);
        if resource.namespaced {
            check_namespace_lifecycle(state, resource, object)?;
        }
    }
    wasmkube_admission::validate(resource.kind, object, old)
        .map_err(|errors| invalid(resource, object, errors))?;
    if resource.kind != "Service" {
        return Ok(None);
    }
    let guard = state.allocation_lock.lock().await;
    allocate_service_addresses(state, object, old)
        .map_err(|errors| invalid(resource, object, errors))?;
    Ok(Some(guard))
}
