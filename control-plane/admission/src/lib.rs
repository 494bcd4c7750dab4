//! Kubernetes defaulting, validation, LimitRange and ResourceQuota arithmetic for built-in kinds
