//! Whether a pod's tolerations tolerate a node's taint, the rule the DaemonSet and the
//! taint eviction controllers share (`Toleration.ToleratesTaint`). The scheduler has the
//! same rule in the control-plane crate, which this crate does not link.

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// Whether one toleration tolerates the taint: an empty effect or key matches any,
/// `Exists` any value, `Equal` (also the default) only the same value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of the tolerations tolerates the taint.
pub fn tolerated_by(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|toleration| tolerates(toleration, taint))
}
