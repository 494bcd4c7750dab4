//! The images a node runs: references, the node's content-addressed cache, and the sources it pulls from.
//!
//! A container's `image:` is parsed into an [`ImageReference`] (a tag or digest in the
//! cluster's image store, a `file://` path on the node, or an https URL pinned by
//! digest), pulled by its [`PullPolicy`] into the node's [`ImageCache`], and handed to the
//! runtime as a [`PulledImage`]: a verified module file named by its [`Digest`]. Failures
//! are [`ImageError`]s worded for a pod's status, with the kubelet's reason.

mod api_server_source;
mod blob_store;
mod cache;
mod digest;
mod error;
mod module_bytes;
mod pull_policy;
mod reference;
mod source;
mod web_download;

pub use api_server_source::ApiServerImageSource;
pub use cache::{ImageCache, PulledImage};
pub use digest::{Digest, DigestError};
pub use error::{ImageError, PullError};
pub use module_bytes::MAXIMUM_MODULE_SIZE_IN_BYTES;
pub use pull_policy::{PullPolicy, PullPolicyError};
pub use reference::{DEFAULT_TAG, ImageReference, ImageReferenceError};
pub use source::{BoxFuture, ClusterImageSource};
pub use web_download::MAXIMUM_REDIRECTS;
