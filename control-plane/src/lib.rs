//! wasmkube's control plane: the store, the Kubernetes API server and admission.

pub mod api;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod controllers;
pub mod images;
pub mod kubeconfig;
pub mod kubernetes_service;
mod listener;
pub mod metrics_server;
pub mod pod_network;
pub mod resources;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod store;
