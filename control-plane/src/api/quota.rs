//! The ResourceQuota admission plugin over the store. A write that adds usage is checked
//! against every quota of its namespace that applies to it; once it is written, those quotas'
//! `status.used` is recounted, so `kubectl describe quota` shows the new usage as soon as the
//! write is answered. Deletions are recounted by the resource quota controller.
//!
//! The check counts usage from the stored objects rather than trusting `status.used`, and runs
//! under the API server's allocation lock until the write is done: two creates cannot both
//! take the last unit of a quota, and a status the controller computed from an older list
//! cannot let one more through.

use std::sync::Arc;

use serde_json::Value;
use wasmkube_admission::quota::{self, QuotaError, ResourceUsage};

use super::ApiState;
use super::metadata::name_of;
use super::status::{ApiError, ApiResult};
use crate::resources::{ALL_RESOURCES, ResourceType};
use crate::store::{ListRequest, ObjectKey, StoreError, WriteRequest, key_prefix};

/// How often recording a quota's status is retried when another writer changed the quota
/// between its read and its write.
const STATUS_RETRIES: usize = 8;

/// Whether quota counts objects of this resource. Like Kubernetes, it ignores events, which
/// are too many and too short-lived to limit.
pub fn counted(resource: &ResourceType) -> bool {
    resource.namespaced && resource.kind != "Event"
}

fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn list_namespace(
    state: &ApiState,
    storage_name: &str,
    namespace: &str,
) -> ApiResult<Vec<Arc<Value>>> {
    let page = state
        .storage
        .list(&ListRequest {
            prefix: key_prefix(storage_name, Some(namespace)),
            ..Default::default()
        })
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(page
        .items
        .into_iter()
        .map(|(_, stored)| stored.object)
        .collect())
}

/// The usage a write adds, for a namespace where some quota applies to the object.
pub struct QuotaRequest {
    storage_name: String,
    namespace: String,
    delta: ResourceUsage,
}

/// The quotas a written object was charged to, whose status is recounted after the write.
pub struct QuotaCharge {
    storage_name: String,
    namespace: String,
    quota_names: Vec<String>,
}

/// Whether the write can use quota, found without the lock: it adds usage, and some quota in
/// its namespace applies to it. Most writes need neither the lock nor a recount.
pub fn pending(
    state: &ApiState,
    resource: &ResourceType,
    object: &Value,
    old: Option<&Value>,
) -> ApiResult<Option<QuotaRequest>> {
    let storage_name = resource.storage_name();
    if !counted(resource) || (old.is_some() && !quota::charges_updates(&storage_name)) {
        return Ok(None);
    }
    let delta = quota::request_delta(&storage_name, object, old);
    if delta.is_empty() {
        return Ok(None);
    }
    let namespace = namespace_of(object).to_owned();
    let quotas = list_namespace(state, "resourcequotas", &namespace)?;
    if !quotas
        .iter()
        .any(|candidate| quota::matches(candidate, &storage_name, object))
    {
        return Ok(None);
    }
    Ok(Some(QuotaRequest {
        storage_name,
        namespace,
        delta,
    }))
}

/// Under the lock: the quota admission check. Every applying quota must find the pod's
/// containers stating the compute resources it limits, then have room for the new usage.
pub fn check(
    state: &ApiState,
    resource: &ResourceType,
    request: QuotaRequest,
    object: &Value,
) -> ApiResult<QuotaCharge> {
    let forbidden =
        |error: QuotaError| ApiError::forbidden(resource, name_of(object), &error.to_string());
    let QuotaRequest {
        storage_name,
        namespace,
        delta,
    } = request;
    let quotas: Vec<Arc<Value>> = list_namespace(state, "resourcequotas", &namespace)?
        .into_iter()
        .filter(|candidate| quota::matches(candidate, &storage_name, object))
        .collect();
    if storage_name == "pods" {
        for applying in &quotas {
            quota::check_pod_constraints(applying, object).map_err(forbidden)?;
        }
    }
    let objects = list_namespace(state, &storage_name, &namespace)?;
    for applying in &quotas {
        let used = quota::usage_stats(applying, &storage_name, objects.iter().map(Arc::as_ref));
        quota::check(applying, &used, &delta).map_err(forbidden)?;
    }
    Ok(QuotaCharge {
        storage_name,
        namespace,
        quota_names: quotas
            .iter()
            .map(|charged| name_of(charged).to_owned())
            .collect(),
    })
}

/// Recounts what the quota tracks of these resources. `extra` is an object about to be stored,
/// counted as though it already were (a quota being created counts itself).
fn recount<'a>(
    state: &ApiState,
    quota_object: &Value,
    resources: impl IntoIterator<Item = &'a str>,
    extra: Option<&Value>,
) -> ApiResult<ResourceUsage> {
    let namespace = namespace_of(quota_object);
    let mut recounted = ResourceUsage::new();
    for storage_name in resources {
        if quota::matching_resources(quota_object, storage_name).is_empty() {
            continue;
        }
        let objects = list_namespace(state, storage_name, namespace)?;
        let extra = extra.filter(|_| storage_name == "resourcequotas");
        recounted.extend(quota::usage_stats(
            quota_object,
            storage_name,
            objects.iter().map(Arc::as_ref).chain(extra),
        ));
    }
    Ok(recounted)
}

/// The status of a quota being created or given new limits: `spec.hard`, and what it counts
/// now, so the quota is usable and shown right away.
pub fn status_of_new_limits(
    state: &ApiState,
    quota_object: &Value,
    creating: bool,
) -> ApiResult<Value> {
    let resources: Vec<String> = ALL_RESOURCES
        .iter()
        .filter(|resource| counted(resource) && resource.is_storage_version())
        .map(ResourceType::storage_name)
        .collect();
    let recounted = recount(
        state,
        quota_object,
        resources.iter().map(String::as_str),
        creating.then_some(quota_object),
    )?;
    Ok(quota::status(quota_object, &recounted))
}

/// After the write: recounts the charged quotas' usage of the written resource into their
/// status. A failure leaves the status to the resource quota controller; the write stands.
pub async fn record(state: &ApiState, charge: QuotaCharge) {
    for name in &charge.quota_names {
        if let Err(error) = record_one(state, &charge, name).await {
            tracing::warn!(
                error = %error.message,
                quota = %name,
                namespace = %charge.namespace,
                "recording quota usage failed"
            );
        }
    }
}

async fn record_one(state: &ApiState, charge: &QuotaCharge, name: &str) -> Result<(), ApiError> {
    let key = ObjectKey::new("resourcequotas", &charge.namespace, name);
    for _ in 0..STATUS_RETRIES {
        let Some(stored) = state
            .storage
            .get(&key)
            .map_err(|error| ApiError::internal(error.to_string()))?
        else {
            return Ok(());
        };
        let recounted = recount(state, &stored.object, [charge.storage_name.as_str()], None)?;
        let status = quota::status(&stored.object, &recounted);
        if quota::status_is_current(&stored.object, &status) {
            return Ok(());
        }
        let mut updated = (*stored.object).clone();
        updated["status"] = status;
        let written = state
            .storage
            .write(WriteRequest::Update {
                key: key.clone(),
                object: updated,
                expected_revision: Some(stored.revision),
            })
            .await;
        match written {
            Ok(_) | Err(StoreError::NotFound) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(ApiError::internal(error.to_string())),
        }
    }
    Err(ApiError::internal(format!(
        "the quota {name} kept changing while its usage was recorded"
    )))
}
