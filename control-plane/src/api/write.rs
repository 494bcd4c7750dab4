//! create, update and patch: decode with the Kubernetes type, apply server-owned
//! metadata, admit, and write with a resourceVersion precondition.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use super::admission::admit;
use super::delete::is_released;
use super::get_list::{object_key, read_object};
use super::metadata::{
    check_namespace, check_type, name_of, prepare_create, prepare_update, requested_revision,
};
use super::negotiate::{
    PatchType, decode_json, decode_object_body, encode, patch_type, response_form,
};
use super::query::Query;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use super::{ApiState, read_body};
use crate::auth::UserInfo;
use crate::auth::rbac::EscalationCheck;
use crate::resources::{ResourceType, to_served, to_storage};
use crate::store::{StoreError, StoredObject, WriteRequest};

/// How often a patch or an unconditional update is retried when another writer changed
/// the object between its read and its write.
pub(super) const OPTIMISTIC_RETRIES: usize = 8;

/// Decodes with the kind's Kubernetes type and applies `fieldValidation`: Strict refuses
/// unknown fields, Warn (the default) reports them in Warning headers, Ignore drops them.
pub fn decode_with_type(
    resource: &ResourceType,
    object: Value,
    query: &Query,
) -> ApiResult<(Value, Vec<String>)> {
    let cannot_handle = |why: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
            kind = resource.kind,
            version = resource.version
        ))
    };
    let mut decoded = (resource.codec)(object).map_err(|error| cannot_handle(error.0))?;
    // Everything after decoding (admission, storage) sees the storage version.
    decoded.object =
        to_storage(resource, decoded.object).map_err(|error| cannot_handle(error.to_string()))?;
    let unknown: Vec<String> = decoded
        .unknown_fields
        .iter()
        .map(|field| format!("unknown field \"{field}\""))
        .collect();
    match query.field_validation.as_deref() {
        Some("Strict") if !unknown.is_empty() => Err(cannot_handle(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        ))),
        Some("Ignore") => Ok((decoded.object, Vec::new())),
        None | Some("Strict" | "Warn") => Ok((decoded.object, unknown)),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

pub fn respond(
    headers: &HeaderMap,
    code: StatusCode,
    object: &Value,
    warnings: &[String],
) -> ApiResult<Response> {
    let mut response =
        encode(super::negotiate::response_form(headers)?, code, object).into_response();
    for warning in warnings {
        let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    Ok(response)
}

/// The object a create or update sends: decoded, of the URL's type and namespace, and
/// checked field by field against its Kubernetes type.
async fn requested_object(
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<(Value, Vec<String>)> {
    response_form(headers)?;
    let resource = target.resource;
    let mut object = decode_object_body(headers, &read_body(body).await?)?;
    check_type(resource, &mut object)?;
    check_namespace(resource, &mut object, target.namespace.as_deref())?;
    decode_with_type(resource, object, query)
}

pub async fn create(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
    user: &UserInfo,
) -> ApiResult<Response> {
    let resource = target.resource;
    let (mut object, warnings) = requested_object(headers, body, target, query).await?;
    prepare_create(resource, &mut object)?;
    admit_by_requester(resource, target, &mut object, user)?;
    escalation_check(state, user).admit(resource, namespace_of(target), "", &object, None)?;
    let admission = admit(state, resource, &mut object, None).await?;
    if query.dry_run {
        let served = to_served(resource, &Arc::new(object));
        return respond(headers, StatusCode::CREATED, &served, &warnings);
    }
    let name = name_of(&object).to_owned();
    let key = crate::store::ObjectKey::new(
        &resource.storage_name(),
        target.namespace.as_deref().unwrap_or_default(),
        &name,
    );
    let stored = state
        .storage
        .write(WriteRequest::Create { key, object })
        .await
        .map_err(|error| ApiError::from_store(error, resource, &name))?;
    admission.written(state).await;
    let served = to_served(resource, &stored.object);
    let mut response = respond(headers, StatusCode::CREATED, &served, &warnings)?;
    response
        .extensions_mut()
        .insert(crate::audit::CreatedObjectName(name));
    Ok(response)
}

/// The admission steps that depend on who creates the object: a CertificateSigningRequest
/// records its requester, and a node may create only its own Node and Lease
/// (NodeRestriction), since the authorizer cannot see a name that is only in the body.
fn admit_by_requester(
    resource: &ResourceType,
    target: &ResourceTarget,
    object: &mut Value,
    user: &UserInfo,
) -> ApiResult<()> {
    if resource.group == "certificates.k8s.io" && resource.plural == "certificatesigningrequests" {
        crate::certificates::admit_create(object, user)?;
    }
    crate::auth::node_authorizer::restriction::admit_create(
        user,
        resource.group,
        resource.plural,
        target.namespace.as_deref().unwrap_or_default(),
        object,
    )
    .map_err(|error| ApiError::forbidden(resource, name_of(object), &error.to_string()))
}

/// RBAC's escalation prevention for the requester, which checks writes of roles and
/// bindings (others pass).
fn escalation_check<'a>(state: &'a ApiState, user: &'a UserInfo) -> EscalationCheck<'a> {
    EscalationCheck {
        authorizer: &state.authorizer,
        rbac: &state.rbac,
        user,
    }
}

fn namespace_of(target: &ResourceTarget) -> &str {
    target.namespace.as_deref().unwrap_or_default()
}

/// Admits `new` as the next state of `old` and writes it. `precondition` is a revision
/// the client named (a mismatch is its 409); without one, the write is checked against
/// the revision read, and the caller retries on a conflict.
async fn write_update(
    state: &Arc<ApiState>,
    target: &ResourceTarget,
    mut new: Value,
    old: &StoredObject,
    precondition: Option<u64>,
    query: &Query,
    user: &UserInfo,
) -> ApiResult<Result<StoredObject, StoreError>> {
    let resource = target.resource;
    let name = target.name.as_deref().unwrap_or_default();
    if name_of(&new) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&new)
        )));
    }
    let subresource = target.subresource.as_deref();
    if subresource == Some("finalize") {
        let finalizers = new.pointer("/spec/finalizers").cloned();
        new = (*old.object).clone();
        match finalizers {
            Some(finalizers) => new["spec"]["finalizers"] = finalizers,
            None => new["spec"]["finalizers"] = Value::Array(Vec::new()),
        }
    }
    // A CertificateSigningRequest's approval, like a status, changes only the status.
    prepare_update(
        resource,
        &mut new,
        &old.object,
        matches!(subresource, Some("status" | "approval")),
    )?;
    if resource.kind == "CertificateSigningRequest" {
        crate::certificates::admit_update(&mut new, &old.object, subresource)?;
    }
    escalation_check(state, user).admit(
        resource,
        namespace_of(target),
        name,
        &new,
        Some(&old.object),
    )?;
    if let Some(precondition) = precondition
        && precondition != old.revision
    {
        return Err(ApiError::stale(resource, name));
    }
    let admission = admit(state, resource, &mut new, Some(&old.object)).await?;
    if query.dry_run {
        return Ok(Ok(StoredObject {
            revision: old.revision,
            object: Arc::new(new),
        }));
    }
    // An update that removes the last finalizer of an object marked for deletion
    // deletes it instead, as Kubernetes does: watchers see DELETED, not one more
    // MODIFIED first.
    let key = object_key(target);
    let written = if is_released(resource, &new) {
        let request = WriteRequest::Delete {
            key,
            expected_revision: Some(old.revision),
        };
        state
            .storage
            .write(request)
            .await
            .map(|deleted| StoredObject {
                revision: deleted.revision,
                object: Arc::new(new),
            })
    } else {
        let request = WriteRequest::Update {
            key,
            object: new,
            expected_revision: Some(old.revision),
        };
        state.storage.write(request).await
    };
    match written {
        Ok(stored) => {
            admission.written(state).await;
            Ok(Ok(stored))
        }
        Err(StoreError::Conflict { .. }) if precondition.is_some() => {
            Err(ApiError::stale(resource, name))
        }
        Err(error @ StoreError::Conflict { .. }) => Ok(Err(error)),
        Err(error) => Err(ApiError::from_store(error, resource, name)),
    }
}

pub async fn update(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
    user: &UserInfo,
) -> ApiResult<Response> {
    let resource = target.resource;
    let (object, warnings) = requested_object(headers, body, target, query).await?;
    let precondition = requested_revision(&object)?;
    for _ in 0..OPTIMISTIC_RETRIES {
        let old = read_object(state, target)?;
        if let Ok(stored) = write_update(
            state,
            target,
            object.clone(),
            &old,
            precondition,
            query,
            user,
        )
        .await?
        {
            let served = to_served(resource, &stored.object);
            return respond(headers, StatusCode::OK, &served, &warnings);
        }
    }
    Err(ApiError::stale(
        resource,
        target.name.as_deref().unwrap_or_default(),
    ))
}

fn apply_patch(
    resource: &ResourceType,
    patch_type: PatchType,
    original: &Value,
    patch: &Value,
) -> ApiResult<Value> {
    let patched = match patch_type {
        PatchType::Json => wasmkube_patch::json_patch(original, patch),
        PatchType::Merge => wasmkube_patch::json_merge_patch(original, patch),
        PatchType::Strategic => {
            wasmkube_patch::strategic_merge_patch(resource.kind, original, patch)
        }
        PatchType::Apply => {
            return Err(ApiError::unsupported_body(
                "server-side apply (application/apply-patch+yaml) is not supported yet; use client-side apply",
            ));
        }
    };
    patched.map_err(|error| ApiError::bad_request(error.to_string()))
}

pub async fn patch(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
    user: &UserInfo,
) -> ApiResult<Response> {
    response_form(headers)?;
    let resource = target.resource;
    let patch_type = patch_type(headers)?;
    let patch = decode_json(&read_body(body).await?)?;
    for _ in 0..OPTIMISTIC_RETRIES {
        let old = read_object(state, target)?;
        let original = to_served(resource, &old.object);
        let mut patched = apply_patch(resource, patch_type, &original, &patch)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request(
                "the patch did not result in an object",
            ));
        }
        check_type(resource, &mut patched)?;
        check_namespace(resource, &mut patched, target.namespace.as_deref())?;
        let (patched, warnings) = decode_with_type(resource, patched, query)?;
        // A patch that names a resourceVersion makes it a precondition, as in Kubernetes.
        let precondition =
            requested_revision(&patched)?.filter(|revision| *revision != old.revision);
        let precondition = precondition.or(requested_revision(&patch)?);
        if let Ok(stored) =
            write_update(state, target, patched, &old, precondition, query, user).await?
        {
            let served = to_served(resource, &stored.object);
            return respond(headers, StatusCode::OK, &served, &warnings);
        }
    }
    Err(ApiError::stale(
        resource,
        target.name.as_deref().unwrap_or_default(),
    ))
}
