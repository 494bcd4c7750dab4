//! wasmkube's control plane: the store, the Kubernetes API server and admission.

pub mod store;
