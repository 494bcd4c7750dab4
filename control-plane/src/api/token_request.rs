//! serviceaccounts/token: the TokenRequest API (kube-apiserver's `TokenREST`). A client
//! posts an authentication.k8s.io/v1 TokenRequest naming audiences, a lifetime and
//! optionally the pod or secret the token is bound to; the answer is the same request
//! with a signed token and its expiry in `status`.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::get_list::object_key;
use super::metadata::now_rfc3339;
use super::negotiate::decode_object_body;
use super::status::{ApiError, ApiResult, StatusCause};
use super::target::ResourceTarget;
use super::write::respond;
use super::{ApiState, read_body};
use crate::auth::UserInfo;
use crate::auth::service_account_token::{
    DEFAULT_EXPIRATION_SECONDS, EXPIRATION_EXTENSION_SECONDS, KubernetesClaims,
    MIN_EXPIRATION_SECONDS, ObjectRef, TokenGrant, VALIDATION_MAX_EXPIRATION_SECONDS,
    WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS,
};
use crate::store::{ObjectKey, StoredObject};

const GROUP: &str = "authentication.k8s.io";
const API_VERSION: &str = "authentication.k8s.io/v1";
const KIND: &str = "TokenRequest";

/// What the request's spec asks for, decoded.
struct RequestedToken {
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound_object: Option<BoundObjectReference>,
}

/// `spec.boundObjectRef`, with its group and version split as Kubernetes'
/// `schema.FromAPIVersionAndKind` does.
struct BoundObjectReference {
    reference: Value,
    group: String,
    version: String,
    kind: String,
    name: String,
    uid: String,
}

fn malformed(field: &str, expected: &str) -> ApiError {
    ApiError::bad_request(format!(
        "error decoding the TokenRequest: {field} must be {expected}"
    ))
}

fn optional_text(object: &Value, pointer: &str) -> ApiResult<String> {
    match object.pointer(pointer) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(malformed(pointer, "a string")),
    }
}

/// Checks the body's apiVersion and kind as a create of any kind is checked.
fn check_type(request: &Value) -> ApiResult<()> {
    let api_version = optional_text(request, "/apiVersion")?;
    if !api_version.is_empty() && api_version != API_VERSION {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({API_VERSION})"
        )));
    }
    let kind = optional_text(request, "/kind")?;
    if !kind.is_empty() && kind != KIND {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({KIND})"
        )));
    }
    Ok(())
}

fn requested_token(request: &Value) -> ApiResult<RequestedToken> {
    let audiences = match request.pointer("/spec/audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| malformed("spec.audiences", "a list of strings"))?,
        Some(_) => return Err(malformed("spec.audiences", "a list of strings")),
    };
    let expiration_seconds = match request.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| malformed("spec.expirationSeconds", "an integer"))?,
    };
    let bound_object = match request.pointer("/spec/boundObjectRef") {
        None | Some(Value::Null) => None,
        Some(reference @ Value::Object(_)) => {
            let api_version = optional_text(reference, "/apiVersion")?;
            let (group, version) = match api_version.split_once('/') {
                Some((group, version)) => (group.to_owned(), version.to_owned()),
                None => (String::new(), api_version),
            };
            Some(BoundObjectReference {
                reference: reference.clone(),
                group,
                version,
                kind: optional_text(reference, "/kind")?,
                name: optional_text(reference, "/name")?,
                uid: optional_text(reference, "/uid")?,
            })
        }
        Some(_) => return Err(malformed("spec.boundObjectRef", "an object")),
    };
    Ok(RequestedToken {
        audiences,
        expiration_seconds,
        bound_object,
    })
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid_of_kind(
        GROUP,
        KIND,
        name,
        vec![StatusCause {
            reason: "FieldValueInvalid".to_owned(),
            message,
            field: field.to_owned(),
        }],
    )
}

/// `ValidateTokenRequest`: a lifetime of at least ten minutes and at most 2^32 seconds.
fn validate_expiration(expiration_seconds: i64) -> ApiResult<()> {
    let problem = if expiration_seconds < MIN_EXPIRATION_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if expiration_seconds > VALIDATION_MAX_EXPIRATION_SECONDS {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        return Ok(());
    };
    Err(invalid(
        "",
        "spec.expirationSeconds",
        format!("Invalid value: {expiration_seconds}: {problem}"),
    ))
}

fn read(state: &ApiState, key: &ObjectKey) -> ApiResult<Option<StoredObject>> {
    state
        .storage
        .get(key)
        .map_err(|error| ApiError::internal(error.to_string()))
}

fn uid_of(object: &Value) -> String {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A bound object that is not there: the same 404 a GET of it answers.
fn bound_object_not_found(plural: &str, name: &str) -> ApiError {
    let resource = crate::resources::find_by_plural("", "v1", plural);
    match resource {
        Some(resource) => ApiError::not_found(resource, name),
        None => ApiError::internal(format!("{plural} is not a served resource")),
    }
}

/// Resolves `spec.boundObjectRef` into the claims naming the pod (and its node) or the
/// secret, checking the uid the request gives, as `TokenREST.Create` does.
/// NodeRestriction's rule for tokens: a node may ask only for tokens bound to a pod
/// that runs on it, so that a node's credentials never yield a token that outlives its
/// pods or works for another node's.
fn admit_node_request(user: &UserInfo, claims: &KubernetesClaims) -> Result<(), &'static str> {
    let Some(node) = user.node_name() else {
        return Ok(());
    };
    if claims.pod.is_none() {
        return Err("node requested token not bound to a pod");
    }
    match &claims.node {
        Some(bound) if bound.name == node => Ok(()),
        _ => Err("node requested token bound to a pod scheduled on a different node"),
    }
}

fn bind(
    state: &ApiState,
    namespace: &str,
    service_account: &str,
    reference: &BoundObjectReference,
    claims: &mut KubernetesClaims,
) -> ApiResult<()> {
    let plural = match (reference.group.as_str(), reference.kind.as_str()) {
        ("", "Pod") => "pods",
        ("", "Secret") => "secrets",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {}/{}, Kind={}",
                reference.group, reference.version, reference.kind
            )));
        }
    };
    let stored = read(state, &ObjectKey::new(plural, namespace, &reference.name))?
        .ok_or_else(|| bound_object_not_found(plural, &reference.name))?;
    let object = &stored.object;
    let uid = uid_of(object);
    if plural == "pods" {
        let pod_account = object
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if pod_account != service_account {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {service_account:?} to pod running with different serviceaccount name."
            )));
        }
        claims.pod = Some(ObjectRef::new(reference.name.clone(), uid.clone()));
        let node_name = object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !node_name.is_empty() {
            // A Node object that does not exist still leaves its name in the claims.
            let node_uid = read(state, &ObjectKey::new("nodes", "", node_name))?
                .map(|node| uid_of(&node.object))
                .unwrap_or_default();
            claims.node = Some(ObjectRef::new(node_name, node_uid));
        }
    } else {
        claims.secret = Some(ObjectRef::new(reference.name.clone(), uid.clone()));
    }
    if !reference.uid.is_empty() && reference.uid != uid {
        return Err(ApiError {
            code: StatusCode::CONFLICT,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} {:?}: the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
                reference.kind, reference.name, reference.uid
            ),
            details: Some(json!({"name": reference.name, "kind": reference.kind})),
        });
    }
    Ok(())
}

/// POST serviceaccounts/NAME/token.
pub async fn create_token(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    user: &UserInfo,
) -> ApiResult<Response> {
    super::negotiate::response_form(headers)?;
    let request = decode_object_body(headers, &read_body(body).await?)?;
    check_type(&request)?;
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let given_name = optional_text(&request, "/metadata/name")?;
    if !given_name.is_empty() && given_name != name {
        return Err(invalid(
            &name,
            "metadata.name",
            format!(
                "Invalid value: {given_name:?}: must match the service account name if specified"
            ),
        ));
    }
    let given_namespace = optional_text(&request, "/metadata/namespace")?;
    if !given_namespace.is_empty() && given_namespace != namespace {
        return Err(invalid(
            &name,
            "metadata.namespace",
            format!(
                "Invalid value: {given_namespace:?}: must match the service account namespace if specified"
            ),
        ));
    }
    let account = read(state, &object_key(target))?
        .ok_or_else(|| ApiError::not_found(target.resource, &name))?;
    let mut requested = requested_token(&request)?;
    let issuer = &state.service_account_tokens;
    if requested.audiences.is_empty() {
        requested.audiences = issuer.api_audiences().to_vec();
    }
    let created = now_rfc3339();
    validate_expiration(requested.expiration_seconds)?;
    let mut claims = KubernetesClaims {
        namespace: namespace.clone(),
        serviceaccount: ObjectRef::new(name.clone(), uid_of(&account.object)),
        ..KubernetesClaims::default()
    };
    if let Some(reference) = &requested.bound_object {
        bind(state, &namespace, &name, reference, &mut claims)?;
    }
    admit_node_request(user, &claims)
        .map_err(|why| ApiError::forbidden(target.resource, &name, why))?;
    let mut warnings = Vec::new();
    // kube-apiserver's `--service-account-max-token-expiration`: unset by default.
    if let Some(maximum) = state.options.service_account_max_token_expiration_seconds
        && requested.expiration_seconds > maximum
    {
        warnings.push(format!(
            "requested expiration of {} seconds shortened to {maximum} seconds",
            requested.expiration_seconds
        ));
        requested.expiration_seconds = maximum;
    }
    // The safe transition to bound tokens: a pod's automounted token (asking for the
    // marker lifetime, for the API server) lives a year, with a warn-after time.
    let extended = claims.pod.is_some()
        && requested.expiration_seconds == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
        && issuer.are_api_audiences(&requested.audiences);
    let grant = TokenGrant {
        kubernetes: claims,
        audiences: requested.audiences.clone(),
        expiration_seconds: if extended {
            EXPIRATION_EXTENSION_SECONDS
        } else {
            requested.expiration_seconds
        },
        warn_after_seconds: extended.then_some(requested.expiration_seconds),
    };
    let issued = issuer
        .issue(&grant)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let expiration_timestamp =
        jiff::Timestamp::from_second(issued.issued_at + requested.expiration_seconds)
            .map_err(|error| ApiError::internal(error.to_string()))?;
    let mut spec = json!({
        "audiences": requested.audiences,
        "expirationSeconds": requested.expiration_seconds,
    });
    if let Some(reference) = &requested.bound_object {
        spec["boundObjectRef"] = reference.reference.clone();
    }
    let answer = json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": spec,
        "status": {"token": issued.token, "expirationTimestamp": expiration_timestamp.to_string()},
    });
    respond(headers, StatusCode::CREATED, &answer, &warnings)
}
