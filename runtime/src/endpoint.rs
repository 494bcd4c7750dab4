//! The node endpoint, the kubelet's port: the API server proxies `pods/log` here and
//! scrapes the resource metrics, and tunnels port-forwarded connections (`port_forward`).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use wasmkube_container_logs::LogRoot;

use crate::port_forward::PortForwardConnector;
use crate::resource_usage::ResourceUsageRegistry;

pub fn serve(
    listener: tokio::net::TcpListener,
    logs: LogRoot,
    resource_usage: ResourceUsageRegistry,
    port_forward_connector: Option<Arc<dyn PortForwardConnector>>,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(wasmkube_container_logs::routes(logs))
        .merge(crate::resource_usage::routes(resource_usage))
        .merge(crate::port_forward::routes(port_forward_connector));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the node endpoint stopped");
        }
    })
}
