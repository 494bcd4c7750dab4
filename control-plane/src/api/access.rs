//! The two gates in front of every request: authentication (who is asking: a client
//! certificate, a bearer token, or nobody) and authorization (may they). Between them,
//! the audit log records mutating requests with their user.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::status::ApiError;
use crate::auth::impersonation::{ImpersonationError, impersonated_user};
use crate::auth::request_info::{query_value, request_info};
use crate::auth::user::MASTERS_GROUP;
use crate::auth::{Attributes, Authentication, Authorizer, Decision, RequestScope, UserInfo};
use crate::listener::ConnectionInfo;

/// The paths anonymous requests may reach (kube-apiserver's anonymous authentication
/// limited to these, as with its AnonymousAuthConfigurableEndpoints); everything else
/// answers 401 without credentials.
fn anonymous_may_reach(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .any(|allowed| {
            path == *allowed
                || path
                    .strip_prefix(allowed)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Puts the request's user into its extensions, or answers 401. Requests from the
/// in-process clients arrive with their user already set; nothing from the network can
/// set an extension.
pub async fn authenticate(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<UserInfo>().is_none() {
        let client_certificate = request
            .extensions()
            .get::<ConnectInfo<ConnectionInfo>>()
            .and_then(|ConnectInfo(connection)| connection.client_certificate.as_ref());
        let user = match state
            .authenticator
            .authenticate(client_certificate, request.headers())
        {
            Authentication::User(user) => user,
            Authentication::Anonymous if anonymous_may_reach(request.uri().path()) => {
                UserInfo::anonymous()
            }
            Authentication::Anonymous => return ApiError::unauthorized().into_response(),
            Authentication::Rejected(reason) => {
                tracing::debug!(%reason, path = request.uri().path(), "authentication failed");
                return ApiError::unauthorized().into_response();
            }
        };
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

/// Makes the request act as the user its `Impersonate-*` headers name, once the real
/// requester may impersonate each part of it (crate::auth::impersonation); the headers
/// are then removed, as Kubernetes removes them. Runs after authentication and the audit
/// log's start, before authorization, which then decides for the impersonated user.
pub async fn impersonate(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(requester) = request.extensions().get::<UserInfo>() else {
        return next.run(request).await;
    };
    match impersonated_user(request.headers(), requester, &state.authorizer) {
        Ok(None) => next.run(request).await,
        Ok(Some(user)) => {
            let headers = request.headers_mut();
            let impersonation_headers: Vec<http::HeaderName> = headers
                .keys()
                .filter(|name| name.as_str().starts_with("impersonate-"))
                .cloned()
                .collect();
            for name in impersonation_headers {
                headers.remove(name);
            }
            request.extensions_mut().insert(user.clone());
            let mut response = next.run(request).await;
            response
                .extensions_mut()
                .insert(crate::audit::ImpersonatedUser(user));
            response
        }
        Err(ImpersonationError::Forbidden { attributes, reason }) => {
            forbidden(&attributes, &reason).into_response()
        }
        Err(error @ ImpersonationError::WithoutUser(_)) => {
            ApiError::internal(format!("Internal error occurred: {error}")).into_response()
        }
    }
}

/// Answers 403 unless the authorizer chain allows the request.
pub async fn authorize(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(user) = request.extensions().get::<UserInfo>() else {
        return ApiError::unauthorized().into_response();
    };
    // The chain would allow system:masters anyway; deciding it here spares the
    // controllers' and admins' requests (most of them) reading the path and query.
    if user.in_group(MASTERS_GROUP) {
        return next.run(request).await;
    }
    let user = user.clone();
    let query = request.uri().query();
    let info = request_info(request.method(), request.uri().path(), query);
    let attributes = Attributes {
        user,
        verb: info.verb,
        scope: info.scope,
        field_selector: query_value(query, "fieldSelector"),
    };
    match state.authorizer.authorize(&attributes) {
        Decision::Allow => next.run(request).await,
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            forbidden(&attributes, &reason).into_response()
        }
    }
}

pub(super) fn forbidden(attributes: &Attributes, reason: &str) -> ApiError {
    let message = attributes.forbidden_message(reason);
    match &attributes.scope {
        RequestScope::Resource {
            api_group,
            resource,
            name,
            ..
        } => ApiError::forbidden_request(message, api_group, resource, name),
        RequestScope::NonResource { .. } => ApiError::forbidden_request(message, "", "", ""),
    }
}
