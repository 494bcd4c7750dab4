//! The node endpoint, the kubelet's port: the API server proxies `pods/log` here and
//! scrapes the resource metrics (and, later, exec and port-forward come here).

use axum::Router;
use axum::routing::get;
use wasmkube_container_logs::LogRoot;

use crate::resource_usage::ResourceUsageRegistry;

pub fn serve(
    listener: tokio::net::TcpListener,
    logs: LogRoot,
    resource_usage: ResourceUsageRegistry,
) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(wasmkube_container_logs::routes(logs))
        .merge(crate::resource_usage::routes(resource_usage));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the node endpoint stopped");
        }
    })
}
