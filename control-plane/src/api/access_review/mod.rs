//! The access reviews, which are created and never stored: the answer is the request
//! with its status filled in (201 Created), as kube-apiserver's registries in
//! pkg/registry/authorization and pkg/registry/authentication answer them.
//!
//! - `SelfSubjectAccessReview`: may I do this? (`kubectl auth can-i`)
//! - `SubjectAccessReview`: may that user do this?
//! - `SelfSubjectRulesReview`: what may I do in this namespace? (`kubectl auth can-i --list`)
//! - `SelfSubjectReview`: who am I? (`kubectl auth whoami`)

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use k8s_openapi::api::authentication::v1::UserInfo as ReviewUserInfo;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, NonResourceRule, ResourceAttributes, ResourceRule,
    SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
    SubjectAccessReviewStatus, SubjectRulesReviewStatus,
};
use serde_json::{Value, json};

use super::metadata::{check_type, now_rfc3339};
use super::negotiate::{decode_object_body, response_form};
use super::query::Query;
use super::read_body;
use super::status::{ApiError, ApiResult, StatusCause};
use super::target::ResourceTarget;
use super::write::{decode_with_type, respond};
use crate::auth::rbac::{RbacAuthorizer, aggregate_errors};
use crate::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use crate::resources::ResourceType;

/// Who asks, and what decides for them.
#[derive(Clone, Copy)]
pub struct Reviewer<'a> {
    /// The authenticated user of the request.
    pub user: &'a UserInfo,
    /// The whole authorizer chain, which access reviews ask.
    pub authorizer: &'a dyn Authorizer,
    /// RBAC, which rules reviews list.
    pub rbac: &'a RbacAuthorizer,
}

/// Answers a request on a create-only resource: POST on its collection creates a review;
/// every other method is not allowed.
pub async fn serve(
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    target: &ResourceTarget,
    query: &Query,
    reviewer: Reviewer<'_>,
) -> ApiResult<Response> {
    if method != Method::POST || target.name.is_some() || target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        )));
    }
    response_form(headers)?;
    let resource = target.resource;
    let mut object = decode_object_body(headers, &read_body(body).await?)?;
    check_type(resource, &mut object)?;
    let (object, warnings) = decode_with_type(resource, object, query)?;
    let answer = match resource.kind {
        "SelfSubjectAccessReview" => self_subject_access_review(resource, object, reviewer)?,
        "SubjectAccessReview" => subject_access_review(resource, object, reviewer)?,
        "SelfSubjectRulesReview" => self_subject_rules_review(object, reviewer)?,
        "SelfSubjectReview" => self_subject_review(resource, reviewer.user)?,
        other => {
            return Err(ApiError::internal(format!(
                "{other} is not an access review"
            )));
        }
    };
    respond(headers, StatusCode::CREATED, &answer, &warnings)
}

fn decode<K: serde::de::DeserializeOwned>(object: Value) -> ApiResult<K> {
    serde_json::from_value(object).map_err(|error| ApiError::bad_request(error.to_string()))
}

fn encode<K: serde::Serialize>(object: &K) -> ApiResult<Value> {
    serde_json::to_value(object).map_err(|error| ApiError::internal(error.to_string()))
}

fn invalid(field: &str, value: String, detail: &str) -> StatusCause {
    StatusCause {
        reason: "FieldValueInvalid".to_owned(),
        message: format!("Invalid value: {value}: {detail}"),
        field: field.to_owned(),
    }
}

/// A non-resource attributes value as Go's `%#v` prints the internal type in a
/// validation message.
fn go_non_resource_attributes(attributes: Option<&NonResourceAttributes>) -> String {
    match attributes {
        None => "\"null\"".to_owned(),
        Some(attributes) => format!(
            "authorization.NonResourceAttributes{{Path:{:?}, Verb:{:?}}}",
            attributes.path.as_deref().unwrap_or_default(),
            attributes.verb.as_deref().unwrap_or_default()
        ),
    }
}

/// Kubernetes' `ValidateSelfSubjectAccessReviewSpec`: exactly one of the attributes.
fn attribute_causes(
    resource_attributes: Option<&ResourceAttributes>,
    non_resource_attributes: Option<&NonResourceAttributes>,
) -> Vec<StatusCause> {
    match (resource_attributes, non_resource_attributes) {
        (Some(_), Some(_)) => vec![invalid(
            "spec.nonResourceAttributes",
            go_non_resource_attributes(non_resource_attributes),
            "cannot be specified in combination with resourceAttributes",
        )],
        (None, None) => vec![invalid(
            "spec.resourceAttributes",
            go_non_resource_attributes(None),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )],
        _ => Vec::new(),
    }
}

/// Whether a value is its type's zero value, as Go's semantic equality with an empty
/// ObjectMeta sees it.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_zero),
    }
}

/// The attributes a review asks about, for `user`.
fn review_attributes(
    user: UserInfo,
    resource_attributes: Option<&ResourceAttributes>,
    non_resource_attributes: Option<&NonResourceAttributes>,
) -> Attributes {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    match (resource_attributes, non_resource_attributes) {
        (Some(attributes), _) => Attributes {
            user,
            verb: text(&attributes.verb),
            scope: RequestScope::Resource {
                api_group: text(&attributes.group),
                // An empty version means every version, as Kubernetes'
                // `matchAllVersionIfEmpty` has it.
                api_version: attributes
                    .version
                    .clone()
                    .filter(|version| !version.is_empty())
                    .unwrap_or_else(|| "*".to_owned()),
                resource: text(&attributes.resource),
                subresource: text(&attributes.subresource),
                namespace: text(&attributes.namespace),
                name: text(&attributes.name),
            },
            field_selector: attributes
                .field_selector
                .as_ref()
                .and_then(|selector| selector.raw_selector.clone()),
        },
        (None, attributes) => Attributes {
            user,
            verb: attributes
                .map(|attributes| text(&attributes.verb))
                .unwrap_or_default(),
            scope: RequestScope::NonResource {
                path: attributes
                    .map(|attributes| text(&attributes.path))
                    .unwrap_or_default(),
            },
            field_selector: None,
        },
    }
}

/// The decision as a review's status: allowed, or denied, or neither, with the reason.
fn decision_status(decision: Decision) -> SubjectAccessReviewStatus {
    let (allowed, denied, reason) = match decision {
        Decision::Allow => (true, false, String::new()),
        Decision::Deny(reason) => (false, true, reason),
        Decision::NoOpinion(reason) => (false, false, reason),
    };
    SubjectAccessReviewStatus {
        allowed,
        denied: denied.then_some(true),
        reason: (!reason.is_empty()).then_some(reason),
        evaluation_error: None,
    }
}

fn self_subject_access_review(
    resource: &ResourceType,
    object: Value,
    reviewer: Reviewer<'_>,
) -> ApiResult<Value> {
    let metadata = object.get("metadata").filter(|metadata| !is_zero(metadata));
    let metadata_text = metadata.map(Value::to_string);
    let mut review: SelfSubjectAccessReview = decode(object)?;
    let spec = &review.spec;
    let mut causes = attribute_causes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    if let Some(metadata) = metadata_text {
        causes.push(invalid("metadata", metadata, "must be empty"));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(resource, "", causes));
    }
    let attributes = review_attributes(
        reviewer.user.clone(),
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    review.status = Some(decision_status(reviewer.authorizer.authorize(&attributes)));
    encode(&review)
}

fn subject_access_review(
    resource: &ResourceType,
    object: Value,
    reviewer: Reviewer<'_>,
) -> ApiResult<Value> {
    let mut review: SubjectAccessReview = decode(object)?;
    let spec = &review.spec;
    let mut causes = attribute_causes(
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    let username = spec.user.clone().unwrap_or_default();
    let groups = spec.groups.clone().unwrap_or_default();
    if username.is_empty() && groups.is_empty() {
        causes.push(invalid(
            "spec.user",
            "\"\"".to_owned(),
            "at least one of user or group must be specified",
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(resource, "", causes));
    }
    // The user as the review names them, with no groups added: "a user and no groups"
    // asks what that user may do alone.
    let user = UserInfo {
        username,
        uid: spec.uid.clone().unwrap_or_default(),
        groups,
        extra: spec.extra.clone().unwrap_or_default(),
    };
    let attributes = review_attributes(
        user,
        spec.resource_attributes.as_ref(),
        spec.non_resource_attributes.as_ref(),
    );
    review.status = Some(decision_status(reviewer.authorizer.authorize(&attributes)));
    encode(&review)
}

fn self_subject_rules_review(object: Value, reviewer: Reviewer<'_>) -> ApiResult<Value> {
    let mut review: SelfSubjectRulesReview = decode(object)?;
    let namespace = review.spec.namespace.clone().unwrap_or_default();
    if namespace.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let mut errors = Vec::new();
    // The node authorizer answers rule questions for nodes with this, as Kubernetes'
    // does: a node's permissions depend on its pods and cannot be listed.
    let incomplete = reviewer.user.node_name().is_some();
    if incomplete {
        errors.push("node authorizer does not support user rule resolution".to_owned());
    }
    let found = reviewer.rbac.rules_for(reviewer.user, &namespace);
    errors.extend(found.errors);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in found.rules {
        if rule
            .resources
            .as_ref()
            .is_some_and(|resources| !resources.is_empty())
        {
            resource_rules.push(ResourceRule {
                verbs: rule.verbs.clone(),
                api_groups: rule.api_groups.clone(),
                resources: rule.resources.clone(),
                resource_names: rule.resource_names.clone(),
            });
        }
        if rule
            .non_resource_urls
            .as_ref()
            .is_some_and(|urls| !urls.is_empty())
        {
            non_resource_rules.push(NonResourceRule {
                verbs: rule.verbs,
                non_resource_urls: rule.non_resource_urls,
            });
        }
    }
    review.status = Some(SubjectRulesReviewStatus {
        resource_rules,
        non_resource_rules,
        incomplete,
        evaluation_error: (!errors.is_empty()).then(|| aggregate_errors(&errors)),
    });
    encode(&review)
}

/// `kubectl auth whoami`: the user as authentication found them.
fn self_subject_review(resource: &ResourceType, user: &UserInfo) -> ApiResult<Value> {
    let user_info = encode(&ReviewUserInfo {
        username: Some(user.username.clone()).filter(|name| !name.is_empty()),
        uid: Some(user.uid.clone()).filter(|uid| !uid.is_empty()),
        groups: Some(user.groups.clone()).filter(|groups| !groups.is_empty()),
        extra: Some(user.extra.clone()).filter(|extra| !extra.is_empty()),
    })?;
    Ok(json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": {"creationTimestamp": now_rfc3339()},
        "status": {"userInfo": user_info},
    }))
}

#[cfg(test)]
mod tests;
