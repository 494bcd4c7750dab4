//! Controllers that run beside the API server. They are API clients like any other
//! (kube-rs over the in-process API), never readers of the store.

pub mod namespace;
pub mod resource_quota;
pub mod service_account;
