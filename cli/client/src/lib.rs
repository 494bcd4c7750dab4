//! kubectl-shaped client verbs (apply, get, describe, delete, create, logs) over kube-rs
