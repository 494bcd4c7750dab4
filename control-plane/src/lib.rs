//! wasmkube's control plane: the store, the Kubernetes API server and admission.

pub mod api;
pub mod auth;
pub mod controllers;
pub mod images;
mod listener;
pub mod metrics_server;
pub mod pod_network;
pub mod resources;
pub mod scheduler;
pub mod server;
pub mod store;
