//! The node endpoint, the kubelet's port: the API server proxies `pods/log` here and
//! scrapes the resource metrics, and tunnels port-forwarded connections (`port_forward`).
//!
//! It serves HTTPS only, with the node's serving certificate, and requires of every
//! caller a client certificate signed by the cluster CA: without one the TLS handshake
//! itself fails, which is what a kubelet's 401 is at the TLS layer. Of the callers that
//! have one, only the API server is let in; anyone else (another node, a user) is
//! answered 403 in the kubelet's words. `/healthz` is no exception: nothing here is
//! anonymous.
//!
//! A kubelet instead delegates: it authenticates bearer tokens with a TokenReview and
//! authorizes every request with a SubjectAccessReview (`--authorization-mode=Webhook`),
//! so that RBAC decides who may use `nodes/proxy`, `nodes/log` or `nodes/metrics`,
//! because users and monitoring agents call kubelets directly. Here only the API server
//! calls the node endpoint: kubectl's logs, metrics and port-forward come through it,
//! after its own authorizer has decided, so recognising its certificate is enough and
//! there is no direct access to delegate a decision about.

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use wasmkube_container_logs::LogRoot;
use wasmkube_pki::Subject;
use wasmkube_pki::listener::TlsListener;

use crate::attach::ContainerStdins;
use crate::port_forward::PortForwardConnector;
use crate::resource_usage::ResourceUsageRegistry;

/// The user of the API server's client certificate towards nodes (kube-apiserver's
/// `--kubelet-client-certificate`, as kubeadm names it).
pub const API_SERVER_KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";

/// The group whose members may do anything, the API server's own included.
pub const MASTERS_GROUP: &str = "system:masters";

pub fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    logs: LogRoot,
    resource_usage: ResourceUsageRegistry,
    port_forward_connector: Option<Arc<dyn PortForwardConnector>>,
    stdins: ContainerStdins,
    exec_sandboxes: crate::exec::ExecSandboxes,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::attach::routes(logs.clone(), stdins))
        .merge(crate::exec::routes(exec_sandboxes))
        .merge(wasmkube_container_logs::routes(logs))
        .merge(crate::resource_usage::routes(resource_usage))
        .merge(crate::port_forward::routes(port_forward_connector))
        .layer(axum::middleware::from_fn(authorize));
    tokio::spawn(async move {
        let endpoint = match TlsListener::new(listener, tls, "the node endpoint") {
            Ok(endpoint) => endpoint,
            Err(error) => {
                tracing::error!(%error, "the node endpoint has no address");
                return;
            }
        };
        let service = router.into_make_service_with_connect_info::<EndpointCaller>();
        if let Err(error) = axum::serve(endpoint, service).await {
            tracing::error!(%error, "the node endpoint stopped");
        }
    })
}

/// Who called: the subject of the client certificate the caller presented, already
/// verified against the cluster CA during the handshake.
#[derive(Clone, Debug)]
struct EndpointCaller {
    certificate: Option<Subject>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for EndpointCaller
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Self {
            certificate: TlsListener::client_certificate(stream.io()),
        }
    }
}

/// Whether the certificate is the API server's: its kubelet client user, or any member of
/// `system:masters`.
fn is_api_server(subject: &Subject) -> bool {
    subject.common_name == API_SERVER_KUBELET_CLIENT_USER
        || subject
            .organizations
            .iter()
            .any(|group| group == MASTERS_GROUP)
}

/// Lets the API server through; anyone else gets the kubelet's 403.
async fn authorize(
    ConnectInfo(caller): ConnectInfo<EndpointCaller>,
    request: Request,
    next: Next,
) -> Response {
    match &caller.certificate {
        Some(subject) if is_api_server(subject) => next.run(request).await,
        certificate => {
            let user = certificate
                .as_ref()
                .map_or("system:anonymous", |subject| subject.common_name.as_str());
            let message = forbidden_message(user, request.method(), request.uri().path());
            tracing::debug!("refused a caller of the node endpoint: {message}");
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{message}\n"),
            )
                .into_response()
        }
    }
}

/// The kubelet's refusal, with the request attributes it would have asked the API server
/// about: the verb from the method, and the `nodes` subresource the path falls under.
fn forbidden_message(user: &str, method: &Method, path: &str) -> String {
    let verb = match *method {
        Method::POST => "create",
        Method::GET => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let subresource = if under("/stats") {
        "stats"
    } else if under("/metrics") {
        "metrics"
    } else if under("/logs") {
        "log"
    } else if under("/pods") {
        "pods"
    } else if under("/healthz") {
        "healthz"
    } else {
        "proxy"
    };
    format!("Forbidden (user={user}, verb={verb}, resource=nodes, subresource={subresource})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_user_verb_and_subresource_as_a_kubelets() {
        assert_eq!(
            forbidden_message("system:node:other", &Method::GET, "/metrics/resource"),
            "Forbidden (user=system:node:other, verb=get, resource=nodes, subresource=metrics)"
        );
        assert_eq!(
            forbidden_message("jane", &Method::POST, "/portForward/default/web/uid"),
            "Forbidden (user=jane, verb=create, resource=nodes, subresource=proxy)"
        );
        assert_eq!(
            forbidden_message("jane", &Method::GET, "/containerLogs/default/web/app"),
            "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy)"
        );
        assert_eq!(
            forbidden_message("jane", &Method::GET, "/metricsfoo"),
            "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy)"
        );
    }

    #[test]
    fn only_the_api_servers_certificate_is_let_in() {
        assert!(is_api_server(&Subject::new(
            API_SERVER_KUBELET_CLIENT_USER,
            &[MASTERS_GROUP]
        )));
        assert!(is_api_server(&Subject::new("admin", &[MASTERS_GROUP])));
        assert!(!is_api_server(&Subject::new(
            "system:node:other",
            &["system:nodes"]
        )));
    }
}
