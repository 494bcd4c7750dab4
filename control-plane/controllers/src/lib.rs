//! The controller manager (kube-controller-manager's counterpart): the controllers that
//! turn the objects users write into the pods that run, each an API client over kube-rs
//! that never reads the store.
//!
//! Every controller has one shape, kube-runtime's `Controller`: list+watch caches feed a
//! work queue of object keys that is deduplicated, never hands out the same key twice at
//! once, and retries a failed key after a per-key exponential back-off (`retry`).
//! Reconciles are level-triggered: they look at the whole state each time, so a missed
//! event or a restart of the controller manager costs nothing but a reconcile.

pub mod events;
pub mod owners;
pub mod pods;
pub mod retry;
pub mod taints;
pub mod template_hash;

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod garbage_collector;
pub mod horizontal_pod_autoscaler;
pub mod job;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod replicaset;
pub mod service_load_balancer;
pub mod statefulset;

mod manager;

pub use manager::{ControllerManager, ControllerManagerOptions};
