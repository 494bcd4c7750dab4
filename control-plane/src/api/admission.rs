//! Admission of a create or update: Kubernetes' defaulting, the namespace lifecycle,
//! LimitRanger, DefaultTolerationSeconds, validation, ResourceQuota and Service address
//! allocation.

use serde_json::{Value, json};
use tokio::sync::MutexGuard;
use wasmkube_admission::default_toleration_seconds::DefaultTolerationSeconds;
use wasmkube_admission::limit_range;
use wasmkube_admission::priority;

use super::ApiState;
use super::allocation::allocate_service_addresses;
use super::metadata::name_of;
use super::quota::{self, QuotaCharge};
use super::status::{ApiError, ApiResult, StatusCause};
use crate::resources::ResourceType;
use crate::store::{ListRequest, ObjectKey, key_prefix};

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
        "Pod" => {
            let qos_class = wasmkube_admission::qos_class(object);
            object["status"] = json!({"phase": "Pending", "qosClass": qos_class});
        }
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

/// The LimitRanges that apply to the write, in the order LimitRanger sees them; none when
/// LimitRanger leaves the write alone (it also skips objects already being deleted).
fn limit_ranges(
    state: &ApiState,
    resource: &ResourceType,
    object: &Value,
    old: Option<&Value>,
) -> ApiResult<Vec<Value>> {
    let being_deleted = old
        .and_then(|old| old.pointer("/metadata/deletionTimestamp"))
        .is_some_and(|stamp| !stamp.is_null());
    if !limit_range::handles(resource.kind, old.is_none()) || being_deleted {
        return Ok(Vec::new());
    }
    let page = state
        .storage
        .list(&ListRequest {
            prefix: key_prefix("limitranges", Some(namespace_of(object))),
            ..Default::default()
        })
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(page
        .items
        .into_iter()
        .map(|(_, stored)| (*stored.object).clone())
        .collect())
}

/// DefaultTolerationSeconds, which Kubernetes runs on pod creates and updates but not on
/// subresources. A status write here arrives with the stored spec copied in, so a write
/// that leaves the spec as it was is not touched: the plugin never changes a spec through
/// `pods/status`.
fn add_default_tolerations(
    state: &ApiState,
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
) {
    if resource.kind != "Pod" || old.is_some_and(|old| old.get("spec") == object.get("spec")) {
        return;
    }
    DefaultTolerationSeconds {
        not_ready_seconds: state.options.default_not_ready_toleration_seconds,
        unreachable_seconds: state.options.default_unreachable_toleration_seconds,
    }
    .admit(object);
}

/// The ServiceAccount plugin on a new pod: the API access volume and mounts, unless the
/// pod or its account opts out. Kubernetes refuses a pod whose account does not exist;
/// here it is admitted anyway (only the pod's own choice then decides the volume), since
/// the account controller makes `default` moments after a namespace appears and the
/// node retries the token request until the account exists.
fn admit_service_account(state: &ApiState, pod: &mut Value) -> ApiResult<()> {
    let account_name = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let account = state
        .storage
        .get(&ObjectKey::new(
            "serviceaccounts",
            namespace_of(pod),
            account_name,
        ))
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let random = uuid::Uuid::new_v4().into_bytes();
    let suffix = wasmkube_admission::service_account::name_suffix([
        random[0], random[1], random[2], random[3], random[4],
    ]);
    wasmkube_admission::service_account::admit_pod(
        pod,
        account.as_ref().map(|stored| stored.object.as_ref()),
        &suffix,
    );
    Ok(())
}

/// The Priority plugin: a pod's priority from its PriorityClass on create (kept on
/// updates), and only one default PriorityClass. It reads every stored class; there are
/// few.
fn admit_priority(
    state: &ApiState,
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    let pod_update = resource.kind == "Pod" && old.is_some();
    if pod_update {
        // An update only keeps what the create resolved; no class is read.
        return priority::admit_pod(object, old, &[])
            .map_err(|error| ApiError::forbidden(resource, name_of(object), &error.to_string()));
    }
    let classes: Vec<Value> = state
        .storage
        .list(&ListRequest {
            prefix: key_prefix("priorityclasses.scheduling.k8s.io", None),
            ..Default::default()
        })
        .map_err(|error| ApiError::internal(error.to_string()))?
        .items
        .into_iter()
        .map(|(_, stored)| (*stored.object).clone())
        .collect();
    let outcome = if resource.kind == "Pod" {
        priority::admit_pod(object, old, &classes)
    } else {
        priority::admit_priority_class(object, old, &classes)
    };
    outcome.map_err(|error| ApiError::forbidden(resource, name_of(object), &error.to_string()))
}

/// What admission leaves to the write: the lock to hold until the write is done, and the
/// quotas whose usage to record once it is.
pub struct Admission<'a> {
    _lock: Option<MutexGuard<'a, ()>>,
    charge: Option<QuotaCharge>,
}

impl Admission<'_> {
    /// Call once the object is written: records its usage in the quotas it was charged to,
    /// then releases the lock. A write that is not made (dry run, conflict) just drops this.
    pub async fn written(self, state: &ApiState) {
        if let Some(charge) = self.charge {
            quota::record(state, charge).await;
        }
    }
}

/// Admits `object` (the new state; `old` is the current one on update), in Kubernetes' order:
/// defaulting, the namespace lifecycle, LimitRanger's defaults, DefaultTolerationSeconds,
/// the strategy's status and validation, LimitRanger's limits, then quota.
pub async fn admit<'a>(
    state: &'a ApiState,
    resource: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
) -> ApiResult<Admission<'a>> {
    wasmkube_admission::apply_defaults(resource.kind, object);
    if resource.kind == "Secret" {
        merge_secret_string_data(object);
    }
    let creating = old.is_none();
    if creating {
        wasmkube_admission::apply_create_time_defaults(resource.kind, object);
    }
    if creating && resource.namespaced {
        check_namespace_lifecycle(state, resource, object)?;
    }
    if creating && resource.kind == "Pod" {
        admit_service_account(state, object)?;
    }
    let limit_ranges = limit_ranges(state, resource, object, old)?;
    limit_range::apply_defaults(resource.kind, object, &limit_ranges);
    if resource.kind == "Pod" {
        admit_priority(state, resource, object, old)?;
    }
    add_default_tolerations(state, resource, object, old);
    if creating {
        initial_status(resource, object);
    }
    wasmkube_admission::validate(resource.kind, object, old)
        .map_err(|errors| invalid(resource, object, errors))?;
    if resource.kind == "PriorityClass" {
        admit_priority(state, resource, object, old)?;
    }
    limit_range::validate(resource.kind, object, &limit_ranges)
        .map_err(|error| ApiError::forbidden(resource, name_of(object), &error.to_string()))?;
    let quota_request = quota::pending(state, resource, object, old)?;
    let new_limits = resource.kind == "ResourceQuota"
        && old.is_none_or(|old| old.pointer("/spec/hard") != object.pointer("/spec/hard"));
    let lock = if quota_request.is_some() || new_limits || resource.kind == "Service" {
        Some(state.allocation_lock.lock().await)
    } else {
        None
    };
    let charge = match quota_request {
        Some(request) => Some(quota::check(state, resource, request, object)?),
        None => None,
    };
    if new_limits {
        object["status"] = quota::status_of_new_limits(state, object, creating)?;
    }
    if resource.kind == "Service" {
        allocate_service_addresses(state, object, old)
            .map_err(|errors| invalid(resource, object, errors))?;
    }
    Ok(Admission {
        _lock: lock,
        charge,
    })
}
