//! The DeleteOptions of a request, from its body or its query, and what they mean for the
//! object's garbage collector finalizers.

use axum::body::Body;
use serde_json::{Value, json};

use crate::api::negotiate::{decode_json, decode_protobuf};
use crate::api::query::{Query, parse_bool};
use crate::api::read_body;
use crate::api::status::{ApiError, ApiResult, StatusCause};

/// Holds an object deleted with the Foreground policy until its blocking dependents are gone.
const FOREGROUND_DELETION_FINALIZER: &str = "foregroundDeletion";
/// Holds an object deleted with the Orphan policy until its dependents no longer name it.
const ORPHAN_FINALIZER: &str = "orphan";

/// A DeleteOptions' propagationPolicy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The DeleteOptions of a request: a body, or the query parameters.
pub(super) struct DeleteOptions {
    pub(super) grace_period_seconds: Option<i64>,
    pub(super) precondition_uid: Option<String>,
    pub(super) precondition_revision: Option<u64>,
    pub(super) dry_run: bool,
    /// The policy asked for, by `propagationPolicy` or `orphanDependents`; without one the
    /// object's own garbage collector finalizers stand.
    pub(super) propagation: Option<Propagation>,
    /// The deprecated `orphanDependents`, kept because `false` changes the answer's code.
    pub(super) orphan_dependents: Option<bool>,
}

fn optional_string(body: &Value, field: &str, fallback: Option<&str>) -> ApiResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(fallback.map(str::to_owned)),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "error decoding DeleteOptions: {field} must be a string, not {other}"
        ))),
    }
}

fn optional_bool(body: &Value, field: &str, query: &Query) -> ApiResult<Option<bool>> {
    match body.get(field) {
        None | Some(Value::Null) => query
            .raw(field)
            .map(|value| parse_bool(field, value))
            .transpose(),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(other) => Err(ApiError::bad_request(format!(
            "error decoding DeleteOptions: {field} must be a boolean, not {other}"
        ))),
    }
}

/// The propagation asked for, validated as `ValidateDeleteOptions` does: both ways of
/// asking at once, or a policy Kubernetes does not know, is a 422 about DeleteOptions.
fn requested_propagation(
    body: &Value,
    query: &Query,
) -> ApiResult<(Option<Propagation>, Option<bool>)> {
    let policy = optional_string(
        body,
        "propagationPolicy",
        query.propagation_policy.as_deref(),
    )?;
    let orphan_dependents = optional_bool(body, "orphanDependents", query)?;
    let mut causes = Vec::new();
    if orphan_dependents.is_some()
        && let Some(policy) = &policy
    {
        causes.push(StatusCause {
            reason: "FieldValueInvalid".to_owned(),
            message: format!(
                "Invalid value: {policy:?}: orphanDependents and deletionPropagation cannot be both set"
            ),
            field: "propagationPolicy".to_owned(),
        });
    }
    let propagation = match policy.as_deref() {
        None => orphan_dependents.map(|orphan| {
            if orphan {
                Propagation::Orphan
            } else {
                Propagation::Background
            }
        }),
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some(other) => {
            causes.push(StatusCause {
                reason: "FieldValueNotSupported".to_owned(),
                message: format!(
                    "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
                field: "propagationPolicy".to_owned(),
            });
            None
        }
    };
    if !causes.is_empty() {
        return Err(ApiError::invalid_of_kind(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            causes,
        ));
    }
    Ok((propagation, orphan_dependents))
}

pub(super) async fn delete_options(body: Body, query: &Query) -> ApiResult<DeleteOptions> {
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
    let (propagation, orphan_dependents) = requested_propagation(&body, query)?;
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
        propagation,
        orphan_dependents,
    })
}

pub(super) fn non_empty_array(object: &Value, pointer: &str) -> bool {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .is_some_and(|items| !items.is_empty())
}

pub(super) fn finalizers_of(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The finalizers the object carries after a deletion with `propagation`
/// (`deletionFinalizersForGarbageCollection`): an explicit policy replaces whichever of
/// the two garbage collector finalizers the object had; without one, the object's own
/// finalizers stand, and Background, the default, needs none. A list that is the same as a
/// set keeps its order.
pub(super) fn finalizers_after_deletion(
    existing: &[String],
    propagation: Option<Propagation>,
) -> Vec<String> {
    let Some(propagation) = propagation else {
        return existing.to_vec();
    };
    let mut finalizers: Vec<String> = existing
        .iter()
        .filter(|finalizer| {
            *finalizer != ORPHAN_FINALIZER && *finalizer != FOREGROUND_DELETION_FINALIZER
        })
        .cloned()
        .collect();
    match propagation {
        Propagation::Orphan => finalizers.push(ORPHAN_FINALIZER.to_owned()),
        Propagation::Foreground => finalizers.push(FOREGROUND_DELETION_FINALIZER.to_owned()),
        Propagation::Background => {}
    }
    let same_set = finalizers
        .iter()
        .all(|finalizer| existing.contains(finalizer))
        && existing
            .iter()
            .all(|finalizer| finalizers.contains(finalizer));
    if same_set {
        existing.to_vec()
    } else {
        finalizers
    }
}
