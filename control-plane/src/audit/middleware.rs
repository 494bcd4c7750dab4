//! The middleware that gives every request its audit ID and records mutating requests
//! once their response head is ready.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method};

use super::AuditLog;
use super::event::Event;

/// The response header that carries the request's audit ID, as kube-apiserver sends it
/// (a client may send its own, which is then used, as Kubernetes does).
pub const AUDIT_ID_HEADER: &str = "Audit-Id";

/// Creates, updates, patches and deletes; reads and watches are not recorded.
fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Records the request in the audit log when it is mutating, and answers the audit ID
/// in the `Audit-Id` header on every request. Add it with
/// `axum::middleware::from_fn_with_state(audit_log, audit_mutations)` inside the
/// authentication middleware (so that the request carries its user) and outside
/// authorization (so that refused requests are recorded with their 403).
///
/// The event is recorded when the inner service returns the response, that is when its
/// head is ready: for an upgraded request (pods/portforward) that is the 101, not the
/// end of the tunnel.
pub async fn audit_mutations(
    State(log): State<AuditLog>,
    request: Request,
    next: Next,
) -> Response {
    let received = jiff::Timestamp::now();
    let audit_id = request
        .headers()
        .get(AUDIT_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let pending = is_mutating(request.method())
        .then(|| Event::for_request(&request, audit_id.clone(), received));
    let mut response = next.run(request).await;
    if !response.headers().contains_key(AUDIT_ID_HEADER)
        && let Ok(value) = HeaderValue::from_str(&audit_id)
    {
        response.headers_mut().insert(AUDIT_ID_HEADER, value);
    }
    if let Some(mut event) = pending {
        if let (Some(object), Some(super::CreatedObjectName(name))) = (
            event.object_ref.as_mut(),
            response.extensions().get::<super::CreatedObjectName>(),
        ) && object.name.is_empty()
        {
            object.name = name.clone();
        }
        if let Some(super::ImpersonatedUser(user)) = response.extensions().get() {
            event.impersonated_user = Some(user.into());
        }
        log.record(event.with_response(response.status(), jiff::Timestamp::now()));
    }
    response
}
