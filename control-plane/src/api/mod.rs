//! The Kubernetes REST API over axum: discovery, OpenAPI, the resource verbs and their
//! subresources, health and metrics.

mod access;
mod access_review;
mod admission;
mod allocation;
mod delete;
mod discovery;
mod get_list;
mod health;
mod metadata;
mod metrics;
mod negotiate;
mod openapi;
mod pod_log;
mod port_forward;
mod query;
mod quota;
mod remote_command;
mod selectors;
mod snapshot;
mod status;
mod subresources;
mod table;
mod target;
mod token_request;
mod watch;
mod write;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::Method;

pub use allocation::KUBERNETES_SERVICE_IP;
pub use metrics::Metrics;
pub use status::{ApiError, ApiResult, StatusCause};

// What metrics.k8s.io (crate::metrics_server) shares with the resource verbs.
pub(crate) use get_list::{read_list, selectors as request_selectors};
pub(crate) use negotiate::{ResponseForm, encode, response_form};
pub(crate) use pod_log::node_endpoint;
pub(crate) use selectors::Selectors;

use crate::auth::{Authenticator, AuthorizerChain, UserInfo};
use crate::images::ImageStore;
use crate::store::SharedStorage;
pub(crate) use query::Query;
use target::{ResourceTarget, Target};

/// Settings of the API server.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// How often a watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// How long a watch lasts when the client names no timeoutSeconds.
    pub default_watch_timeout: Duration,
    /// The largest WebAssembly binary the image store accepts.
    pub max_image_blob_bytes: u64,
    /// How often metrics.k8s.io scrapes every node's resource metrics (metrics-server's
    /// `--metric-resolution`).
    pub resource_metrics_resolution: Duration,
    /// The tolerationSeconds of the `node.kubernetes.io/not-ready:NoExecute` toleration
    /// added to every pod that has none (`--default-not-ready-toleration-seconds`, 300).
    pub default_not_ready_toleration_seconds: i64,
    /// The same for `node.kubernetes.io/unreachable:NoExecute`
    /// (`--default-unreachable-toleration-seconds`, 300).
    pub default_unreachable_toleration_seconds: i64,
    /// Whether every pod may open connections outside the cluster (`--allow-egress`);
    /// otherwise only pods of namespaces labelled `wasmkube.dev/egress=allowed` may.
    pub allow_egress: bool,
    /// The longest lifetime a TokenRequest gets; longer ones are shortened with a warning
    /// (`--service-account-max-token-expiration`; none by default, as kube-apiserver's).
    pub service_account_max_token_expiration_seconds: Option<i64>,
    /// The address the `kubernetes` Service's endpoints name (`--advertise-address`);
    /// None: the listen address, or the host's when listening on every address.
    pub advertise_address: Option<std::net::IpAddr>,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            bookmark_interval: Duration::from_secs(60),
            default_watch_timeout: Duration::from_secs(1800),
            max_image_blob_bytes: crate::images::DEFAULT_MAX_BLOB_BYTES,
            resource_metrics_resolution: Duration::from_secs(5),
            default_not_ready_toleration_seconds:
                wasmkube_admission::default_toleration_seconds::DEFAULT_TOLERATION_SECONDS,
            default_unreachable_toleration_seconds:
                wasmkube_admission::default_toleration_seconds::DEFAULT_TOLERATION_SECONDS,
            allow_egress: false,
            service_account_max_token_expiration_seconds: None,
            advertise_address: None,
        }
    }
}

pub struct ApiState {
    pub storage: SharedStorage,
    pub options: ApiOptions,
    pub metrics: Metrics,
    /// Serializes writes that allocate from a shared pool (Service cluster IPs and node
    /// ports, and quota), so two concurrent creates cannot both take the last free address
    /// or the last unit of a quota.
    pub(crate) allocation_lock: tokio::sync::Mutex<()>,
    /// The cluster's built-in image store, which nodes pull from.
    pub images: ImageStore,
    /// Reaches the node agents, for the subresources they serve (pods/log).
    pub(crate) node_client: pod_log::NodeClient,
    /// The nodes' and pods' resource usage that metrics.k8s.io serves.
    pub resource_metrics: crate::metrics_server::ResourceMetrics,
    /// Who a request's credentials say its user is.
    pub authenticator: Authenticator,
    /// Whether that user may do what the request asks.
    pub authorizer: AuthorizerChain,
    /// Signs ServiceAccount tokens (serviceaccounts/token) and verifies them.
    pub service_account_tokens: Arc<crate::auth::service_account_token::ServiceAccountTokenIssuer>,
    /// Where mutating requests are recorded, when auditing is on.
    pub audit_log: Option<crate::audit::AuditLog>,
    /// RBAC, also on its own for the rules reviews (`kubectl auth can-i --list`).
    pub rbac: Arc<crate::auth::rbac::RbacAuthorizer>,
}

/// How the API server tells who is asking and what they may do.
pub struct ApiSecurity {
    pub authenticator: Authenticator,
    pub authorizer: AuthorizerChain,
    /// The API server's client identity and the cluster CA, for calling node agents.
    pub node_client_tls: Arc<rustls::ClientConfig>,
    pub service_account_tokens: Arc<crate::auth::service_account_token::ServiceAccountTokenIssuer>,
    pub audit_log: Option<crate::audit::AuditLog>,
    pub rbac: Arc<crate::auth::rbac::RbacAuthorizer>,
}

impl ApiState {
    pub fn new(
        storage: SharedStorage,
        options: ApiOptions,
        images: ImageStore,
        security: ApiSecurity,
    ) -> Arc<Self> {
        let resource_metrics =
            crate::metrics_server::ResourceMetrics::new(options.resource_metrics_resolution);
        Arc::new(Self {
            storage,
            options,
            metrics: Metrics::default(),
            allocation_lock: tokio::sync::Mutex::new(()),
            images,
            node_client: pod_log::node_client(security.node_client_tls),
            resource_metrics,
            authenticator: security.authenticator,
            authorizer: security.authorizer,
            service_account_tokens: security.service_account_tokens,
            audit_log: security.audit_log,
            rbac: security.rbac,
        })
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    // Layers run from the last added: authentication, then the audit log (which needs the
    // user, and records refusals too), then impersonation, then authorization, then the
    // request itself.
    let authorized = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/version", get(discovery::version))
        .route("/openapi/v2", get(openapi::v2))
        .route("/swagger-2.0.0.pb-v1", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_root))
        .route(
            "/openapi/v3/{*group_version}",
            get(openapi::v3_group_version),
        )
        .route(snapshot::SNAPSHOT_PATH, get(snapshot::get_snapshot))
        .merge(crate::images::routes())
        .merge(crate::metrics_server::routes())
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            access::authorize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            access::impersonate,
        ));
    let audited = match &state.audit_log {
        Some(log) => authorized.layer(axum::middleware::from_fn_with_state(
            log.clone(),
            crate::audit::audit_mutations,
        )),
        None => authorized,
    };
    audited
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            access::authenticate,
        ))
        .with_state(state)
}

async fn dispatch(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match Query::parse(request.uri().query()) {
        Ok(query) => route(&state, request, query)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(error) => error.into_response(),
    };
    state
        .metrics
        .observe_request(&method, &path, response.status(), started.elapsed());
    response
}

async fn route(state: &Arc<ApiState>, request: Request, query: Query) -> ApiResult<Response> {
    let target = target::parse(request.uri().path()).ok_or_else(ApiError::path_not_found)?;
    let method = request.method().clone();
    let Target::Resource(target) = target else {
        if method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on discovery paths"
            )));
        }
        return discovery::serve(&target);
    };
    // The access reviews are answered, never stored.
    if target.resource.create_only {
        let user = request
            .extensions()
            .get::<UserInfo>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let (parts, body) = request.into_parts();
        let reviewer = access_review::Reviewer {
            user: &user,
            authorizer: &state.authorizer,
            rbac: &state.rbac,
        };
        return access_review::serve(&method, &parts.headers, body, &target, &query, reviewer)
            .await;
    }
    // Port forwarding switches protocols, which needs the request whole.
    if target.subresource.as_deref() == Some("portforward") {
        return port_forward::port_forward(state, request, &target).await;
    }
    if target.subresource.as_deref() == Some("attach") {
        return remote_command::attach(state, request, &target).await;
    }
    if target.subresource.as_deref() == Some("exec") {
        return remote_command::exec(state, request, &target).await;
    }
    let (parts, body) = request.into_parts();
    // The authentication layer put the user there; a request without one never gets here.
    let user = parts
        .extensions
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_else(UserInfo::anonymous);
    if matches!(method, Method::PUT | Method::PATCH)
        && let Some(name) = &target.name
    {
        crate::auth::node_authorizer::restriction::admit_modification(
            &user,
            target.resource.group,
            target.resource.plural,
            name,
        )
        .map_err(|error| ApiError::forbidden(target.resource, name, &error.to_string()))?;
    }
    route_resource(state, &method, &parts.headers, body, target, query, &user).await
}

async fn route_resource(
    state: &Arc<ApiState>,
    method: &Method,
    headers: &http::HeaderMap,
    body: Body,
    target: ResourceTarget,
    query: Query,
    user: &UserInfo,
) -> ApiResult<Response> {
    let subresource = target.subresource.as_deref();
    match (method.as_str(), target.name.is_some(), subresource) {
        ("GET", false, None) if query.watch => watch::watch(state, headers, &target, &query).await,
        ("GET", false, None) => get_list::list(state, headers, &target, &query).await,
        ("POST", false, None) => write::create(state, headers, body, &target, &query, user).await,
        ("DELETE", false, None) => {
            delete::delete_collection(state, headers, body, &target, &query).await
        }
        ("GET", true, None | Some("status" | "approval")) => get_list::get(state, headers, &target),
        ("PUT", true, None | Some("status" | "finalize" | "approval")) => {
            write::update(state, headers, body, &target, &query, user).await
        }
        ("PATCH", true, None | Some("status" | "approval")) => {
            write::patch(state, headers, body, &target, &query, user).await
        }
        ("DELETE", true, None) => delete::delete(state, headers, body, &target, &query).await,
        (_, true, Some("scale")) => {
            subresources::scale(state, method, headers, body, &target, &query).await
        }
        ("POST", true, Some("binding")) => subresources::bind(state, headers, body, &target).await,
        ("POST", true, Some("token")) => {
            token_request::create_token(state, headers, body, &target, user).await
        }
        ("POST", true, Some("eviction")) => {
            subresources::evict(state, headers, body, &target).await
        }
        ("GET", true, Some("log")) => pod_log::log(state, &target, &query).await,
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        ))),
    }
}

/// How much of an oversized body is read and thrown away before answering 413. A
/// client that is still sending when the server answers and closes would see a broken
/// connection instead of the 413 that names the problem.
const OVERSIZED_BODY_DRAIN_BYTES: usize = 4 * negotiate::MAX_REQUEST_BODY_BYTES;

/// Reads a request body, refusing bodies over Kubernetes' 3 MiB limit with 413.
async fn read_body(body: Body) -> ApiResult<bytes::Bytes> {
    use futures::StreamExt;
    let limit = negotiate::MAX_REQUEST_BODY_BYTES;
    let mut chunks = body.into_data_stream();
    let mut collected = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("error reading the request body: {error}"))
        })?;
        total = total.saturating_add(chunk.len());
        if total <= limit {
            collected.extend_from_slice(&chunk);
        } else if total > OVERSIZED_BODY_DRAIN_BYTES {
            break;
        }
    }
    if total > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(collected.freeze())
}
