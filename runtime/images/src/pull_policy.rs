//! `imagePullPolicy`: when a node asks an image's source again instead of using its cache.

use std::fmt;
use std::str::FromStr;

use crate::reference::{DEFAULT_TAG, ImageReference};

/// A container's `imagePullPolicy`.
///
/// What each policy does for each kind of reference:
/// - a cluster-store tag: `Always` resolves the tag with the API server on every pull and
///   downloads the module only when its digest is not cached; `IfNotPresent` uses the
///   digest the node last recorded for the tag; `Never` uses only that record.
/// - a digest (cluster store or https): the digest names the content, so a cached module
///   is the image under every policy; `Never` fails when it is not cached.
/// - `file://`: the file is on the node already, so every policy reads it and hashes its
///   current content; a file changed on disk is a new image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    /// Ask the source on every pull.
    Always,
    /// Ask the source only when the node has no copy.
    IfNotPresent,
    /// Never ask the source; fail when the node has no copy.
    Never,
}

/// An `imagePullPolicy` that is not one of Kubernetes' three values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "imagePullPolicy: Unsupported value: {value:?}: supported values: \"Always\", \"IfNotPresent\", \"Never\""
)]
pub struct PullPolicyError {
    /// The value that was given.
    pub value: String,
}

impl PullPolicy {
    /// The policy Kubernetes defaults an empty `imagePullPolicy` to: `Always` for a
    /// cluster-store image tagged `latest` (or not tagged, which means `latest`), else
    /// `IfNotPresent`.
    pub fn default_for(reference: &ImageReference) -> PullPolicy {
        match reference {
            ImageReference::ClusterStore { tag, .. } if tag == DEFAULT_TAG => PullPolicy::Always,
            _ => PullPolicy::IfNotPresent,
        }
    }

    /// The policy of a container: its `imagePullPolicy` when set, else the default for
    /// its image.
    pub fn for_container(
        image_pull_policy: Option<&str>,
        reference: &ImageReference,
    ) -> Result<PullPolicy, PullPolicyError> {
        match image_pull_policy {
            None | Some("") => Ok(PullPolicy::default_for(reference)),
            Some(value) => value.parse(),
        }
    }

    /// The policy's name as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

impl FromStr for PullPolicy {
    type Err = PullPolicyError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "Always" => Ok(PullPolicy::Always),
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Never" => Ok(PullPolicy::Never),
            _ => Err(PullPolicyError {
                value: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}
