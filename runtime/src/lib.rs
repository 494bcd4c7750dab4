//! wasmkube's node agent and container runtime: it registers a Node, keeps its Lease,
//! and runs the pods bound to it as WASI programs in wasmtime, with their volumes,
//! logs and limits.

pub mod attach;
mod container;
mod endpoint;
pub mod exec;
pub mod guest;
pub mod limits;
pub mod network;
mod node;
mod pod;
pub mod port_forward;
mod resource_usage;

pub use node::{
    NodeAgent, NodeAgentConfig, NodeAgentError, NodeTls, kubelet_version, node_capacity,
};
pub use pod::BackoffSettings;

/// The wasmtime release the runtime is built with, reported in the Node's nodeInfo.
pub const WASMTIME_VERSION: &str = "48.0.8";
