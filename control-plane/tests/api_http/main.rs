//! The API server over real HTTP: each test starts a control plane on a loopback port
//! with its own data directory and checks that requests get what a Kubernetes API server
//! answers, errors included.

mod autoscaling_versions;
mod deletion_propagation;
mod errors;
mod http2;
mod images;
mod impersonation;
mod invalid;
mod kubectl_cli;
mod kubernetes_service;
mod lifecycle;
mod lists;
mod pod_log;
mod port_forward;
mod quota;
mod rbac_escalation;
mod scheduler;
mod scheduler_affinity;
mod service_accounts;
mod support;
mod tls;
mod watches;
