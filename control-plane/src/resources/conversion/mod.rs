//! Kinds served in more than one version, as Kubernetes serves them: every object is
//! stored in one version (its storage version) and converted when a request names
//! another, on the way in (a create, update or patch body) and on the way out (get, list,
//! watch, and the answers of writes). Only the served versions that differ from their
//! storage version are listed here; every other resource passes through unchanged.

mod horizontal_pod_autoscaler;
#[cfg(test)]
mod horizontal_pod_autoscaler_tests;

use std::sync::Arc;

use serde_json::Value;

use super::ResourceType;

/// Why an object sent in a served version has no storage form.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error("the object is not a JSON object")]
    NotAnObject,
}

/// How one served version converts to and from its storage version.
struct VersionConversion {
    group: &'static str,
    served_version: &'static str,
    kind: &'static str,
    to_storage: fn(Value) -> Result<Value, ConversionError>,
    to_served: fn(&Value) -> Value,
}

/// `autoscaling/v1` HorizontalPodAutoscalers are stored as `autoscaling/v2`.
static CONVERSIONS: &[VersionConversion] = &[VersionConversion {
    group: "autoscaling",
    served_version: "v1",
    kind: "HorizontalPodAutoscaler",
    to_storage: horizontal_pod_autoscaler::v1_to_v2,
    to_served: horizontal_pod_autoscaler::v2_to_v1,
}];

fn conversion_of(resource: &ResourceType) -> Option<&'static VersionConversion> {
    CONVERSIONS.iter().find(|conversion| {
        conversion.group == resource.group
            && conversion.served_version == resource.version
            && conversion.kind == resource.kind
    })
}

impl ResourceType {
    /// Whether objects of this resource are stored in this version. A version served by
    /// conversion shares its storage with the storage version, so whatever walks every
    /// stored resource (namespace deletion, quota) skips it.
    pub fn is_storage_version(&self) -> bool {
        conversion_of(self).is_none()
    }
}

/// The storage form of an object sent in the resource's version.
pub fn to_storage(resource: &ResourceType, object: Value) -> Result<Value, ConversionError> {
    match conversion_of(resource) {
        Some(conversion) => (conversion.to_storage)(object),
        None => Ok(object),
    }
}

/// A stored object as the resource's version shows it.
pub fn to_served(resource: &ResourceType, stored: &Arc<Value>) -> Arc<Value> {
    match conversion_of(resource) {
        Some(conversion) => Arc::new((conversion.to_served)(stored)),
        None => Arc::clone(stored),
    }
}

/// Like [`to_served`], for a version served by conversion only: None when the stored
/// object is already what the version shows, so the caller can keep its encoding.
pub fn converted_for(resource: &ResourceType, stored: &Value) -> Option<Value> {
    conversion_of(resource).map(|conversion| (conversion.to_served)(stored))
}
