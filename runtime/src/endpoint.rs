//! The node endpoint, the kubelet's port: the API server proxies `pods/log` here (and,
//! later, exec, port-forward and metrics).

use axum::Router;
use axum::routing::get;
use wasmkube_container_logs::LogRoot;

pub fn serve(listener: tokio::net::TcpListener, logs: LogRoot) -> tokio::task::JoinHandle<()> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(wasmkube_container_logs::routes(logs));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the node endpoint stopped");
        }
    })
}
