//! Kubernetes defaulting, validation, LimitRange and ResourceQuota arithmetic for built-in kinds.
//!
//! Everything here is pure: it works on `serde_json::Value` objects as the API server holds them
//! and never touches the store. Behaviour and messages follow Kubernetes 1.33 (`SetDefaults_*`,
//! `pkg/apis/*/validation`, the LimitRanger and ResourceQuota admission plugins).
//!
//! The functions work on JSON rather than typed `k8s-openapi` structs on purpose: a round trip
//! through typed structs would drop fields this version does not know and would fail on
//! malformed input before validation could report it field by field.

mod defaults;
mod field_error;
mod json;
mod labels;
pub mod limit_range;
mod names;
mod pod_resources;
pub mod quantity;
pub mod quota;
mod validation;

pub use field_error::{FieldError, FieldErrorReason};
pub use labels::{qualified_name_problems, selector_matches};
pub use names::NameRule;

/// Kubernetes' defaulting (`SetDefaults_*`, plus the registry's create-time defaults the brief
/// asks for, such as a Namespace's `kubernetes` finalizer) for a kind, in place. Unknown kinds
/// are left unchanged.
pub fn apply_defaults(kind: &str, object: &mut serde_json::Value) {
    defaults::apply_defaults(kind, object);
}

/// Validation of a create (`old` is `None`) or an update (`old` is the stored object). Returns
/// every problem found, in the order Kubernetes reports them.
pub fn validate(
    kind: &str,
    object: &serde_json::Value,
    old: Option<&serde_json::Value>,
) -> Result<(), Vec<FieldError>> {
    let errors = validation::validate(kind, object, old);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
