//! Admission of CertificateSigningRequest writes, as Kubernetes' registry strategy does
//! it: on create the requester's identity (spec.username, uid, groups, extra) comes from
//! the authenticated user, whatever the client sent, and no status can be set; an update
//! of the object itself changes neither spec nor status; `status` may set the
//! certificate and conditions other than Approved/Denied; `approval` changes only the
//! conditions. Then validation, and on create the CertificateSubjectRestriction plugin.

mod validation;

#[cfg(test)]
mod tests;

use serde_json::{Value, json};
use wasmkube_admission::FieldError;

use validation::{ValidationOptions, text};

use super::{CONDITION_APPROVED, CONDITION_DENIED, KUBE_APISERVER_CLIENT_SIGNER, request};
use crate::api::{ApiError, StatusCause};
use crate::auth::UserInfo;
use crate::auth::user::MASTERS_GROUP;

const GROUP: &str = "certificates.k8s.io";
const KIND: &str = "CertificateSigningRequest";

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn invalid(object: &Value, errors: Vec<FieldError>) -> ApiError {
    let causes = errors
        .iter()
        .map(|error| StatusCause {
            reason: error.reason.cause_type().to_owned(),
            message: error.body(),
            field: error.field.clone(),
        })
        .collect();
    ApiError::invalid_of_kind(GROUP, KIND, name_of(object), causes)
}

fn forbidden(object: &Value, why: &str) -> ApiError {
    match crate::resources::find_by_kind(GROUP, "v1", KIND) {
        Some(resource) => ApiError::forbidden(resource, name_of(object), why),
        None => ApiError::internal(format!("{KIND} is not a served resource")),
    }
}

/// Sets a top-level field to another object's, or removes it when that has none.
fn copy_field(target: &mut Value, source: &Value, field: &str) {
    let Some(fields) = target.as_object_mut() else {
        return;
    };
    match source.get(field) {
        Some(value) => fields.insert(field.to_owned(), value.clone()),
        None => fields.remove(field),
    };
}

/// The requester, as the authenticated user (Kubernetes' `PrepareForCreate`): nothing
/// the client sent in these fields is kept, so a request cannot claim another identity,
/// which is what the approver decides on.
fn set_requester(object: &mut Value, user: &UserInfo) {
    if !object.get("spec").is_some_and(Value::is_object) {
        object["spec"] = json!({});
    }
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["username", "uid", "groups", "extra"] {
        spec.remove(field);
    }
    if !user.username.is_empty() {
        spec.insert("username".to_owned(), json!(user.username));
    }
    if !user.uid.is_empty() {
        spec.insert("uid".to_owned(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        spec.insert("groups".to_owned(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        spec.insert("extra".to_owned(), json!(user.extra));
    }
}

/// The CertificateSubjectRestriction admission plugin: no client certificate for the
/// system:masters group through a CSR, since that group bypasses authorization.
fn restrict_subject(object: &Value) -> Result<(), ApiError> {
    if text(object, "/spec/signerName") != KUBE_APISERVER_CLIENT_SIGNER {
        return Ok(());
    }
    let parsed = validation::bytes_field(object, "/spec/request")
        .and_then(|request_bytes| request::parse(&request_bytes, false))
        .map_err(|error| forbidden(object, &format!("failed to parse CSR: {error}")))?;
    if parsed
        .subject
        .organizations
        .iter()
        .any(|organization| organization == MASTERS_GROUP)
    {
        return Err(forbidden(
            object,
            &format!(
                "use of {KUBE_APISERVER_CLIENT_SIGNER} signer with {MASTERS_GROUP} group is not allowed"
            ),
        ));
    }
    Ok(())
}

/// Admits a new CertificateSigningRequest created by `user`.
pub fn admit_create(object: &mut Value, user: &UserInfo) -> Result<(), ApiError> {
    set_requester(object, user);
    // Be explicit that users cannot create pre-approved certificate requests.
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
    }
    let errors = validation::validate(object, &ValidationOptions::for_write(object, None));
    if !errors.is_empty() {
        return Err(invalid(object, errors));
    }
    restrict_subject(object)
}

/// The time a condition is stamped with: now, in whole seconds.
fn now_text() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// Kubernetes' `populateConditionTimestamps`: a condition without lastUpdateTime gets
/// now; without lastTransitionTime, the stored one of the same type and status, or now.
fn populate_condition_timestamps(new: &mut Value, old: &Value) {
    let now = now_text();
    let old_conditions = validation::conditions(old).to_vec();
    let Some(conditions) = new
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for condition in conditions
        .iter_mut()
        .filter(|condition| condition.is_object())
    {
        let missing = |condition: &Value, field: &str| {
            condition
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        };
        if missing(condition, "lastUpdateTime") {
            condition["lastUpdateTime"] = json!(now);
        }
        if missing(condition, "lastTransitionTime") {
            let same = |old: &&Value| {
                old.get("type") == condition.get("type")
                    && old.get("status") == condition.get("status")
                    && !missing(old, "lastTransitionTime")
            };
            let transition = old_conditions
                .iter()
                .find(same)
                .and_then(|old| old.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            condition["lastTransitionTime"] = transition;
        }
    }
}

/// Kubernetes' `preserveConditionInstances`: a status write keeps the stored conditions
/// of this type as they were, when it has as many; otherwise validation refuses it.
fn preserve_condition_instances(new: &mut Value, old: &Value, kind: &str) {
    let of_type = |object: &Value| -> Vec<usize> {
        validation::conditions(object)
            .iter()
            .enumerate()
            .filter(|(_, condition)| condition.get("type").and_then(Value::as_str) == Some(kind))
            .map(|(index, _)| index)
            .collect()
    };
    let (old_indices, new_indices) = (of_type(old), of_type(new));
    if old_indices.len() != new_indices.len() {
        return;
    }
    let old_conditions = validation::conditions(old);
    let Some(conditions) = new
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for (new_index, old_index) in new_indices.into_iter().zip(old_indices) {
        if let (Some(slot), Some(kept)) =
            (conditions.get_mut(new_index), old_conditions.get(old_index))
        {
            *slot = kept.clone();
        }
    }
}

/// Admits `new` as the next state of `old`, written to the object itself (`None`), or
/// to its `status` or `approval` subresource.
pub fn admit_update(
    new: &mut Value,
    old: &Value,
    subresource: Option<&str>,
) -> Result<(), ApiError> {
    copy_field(new, old, "spec");
    let (mut may_set_certificate, mut may_set_approval) = (false, false);
    match subresource {
        None => copy_field(new, old, "status"),
        Some("status") => {
            preserve_condition_instances(new, old, CONDITION_APPROVED);
            preserve_condition_instances(new, old, CONDITION_DENIED);
            populate_condition_timestamps(new, old);
            may_set_certificate = true;
        }
        Some("approval") => {
            populate_condition_timestamps(new, old);
            let conditions = new.pointer("/status/conditions").cloned();
            copy_field(new, old, "status");
            if let Some(conditions) = conditions {
                if !new.get("status").is_some_and(Value::is_object) {
                    new["status"] = json!({});
                }
                new["status"]["conditions"] = conditions;
            } else if let Some(status) = new.get_mut("status").and_then(Value::as_object_mut) {
                status.remove("conditions");
            }
            may_set_approval = true;
        }
        Some(other) => {
            return Err(ApiError::method_not_allowed(format!(
                "certificatesigningrequests have no {other} subresource to update"
            )));
        }
    }
    let mut options = ValidationOptions::for_write(new, Some(old));
    options.allow_setting_certificate = may_set_certificate;
    options.allow_setting_approval_conditions = may_set_approval;
    let errors = validation::validate_update(new, old, &options);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(new, errors))
    }
}
