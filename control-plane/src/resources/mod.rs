//! The built-in resources the API server serves: their names, scope, verbs and
//! subresources, and the k8s-openapi type that decodes each one.

mod catalogue;
mod codec;
mod conversion;

pub use catalogue::{ALL_RESOURCES, find_by_kind, find_by_plural, group_versions};
pub use codec::{DecodeError, decode_typed};
pub use conversion::{ConversionError, converted_for, to_served, to_storage};

/// One served resource, described as discovery shows it.
#[derive(Debug)]
pub struct ResourceType {
    /// Empty for the core ("legacy") group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [&'static str],
    /// Whether `metadata.generation` tracks spec changes.
    pub tracks_generation: bool,
    /// Served by create alone and never stored: the access reviews, whose answer is the
    /// request with its status filled in.
    pub create_only: bool,
    /// Decodes with the Kubernetes type, re-encodes, and reports unknown fields.
    pub codec: fn(serde_json::Value) -> Result<codec::Decoded, DecodeError>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store's name for the resource: "pods", "deployments.apps".
    pub fn storage_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// How Kubernetes names the resource in messages: "pods", "deployments.apps".
    pub fn qualified_name(&self) -> String {
        self.storage_name()
    }

    /// Discovery's singular name: the lower-cased kind.
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    pub fn has_subresource(&self, subresource: &str) -> bool {
        self.subresources.contains(&subresource)
    }

    pub fn has_status(&self) -> bool {
        self.has_subresource("status")
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}
