//! JSON patch, JSON merge patch and strategic merge patch on JSON objects
//!
//! The API server stores objects as JSON values and applies PATCH requests to
//! them with one of the three functions below, chosen by the request's
//! content type:
//!
//! - `application/json-patch+json`: [`json_patch`] (RFC 6902),
//! - `application/merge-patch+json`: [`json_merge_patch`] (RFC 7386),
//! - `application/strategic-merge-patch+json`: [`strategic_merge_patch`].
//!
//! Errors carry Kubernetes' messages, and [`PatchError::http_status_code`]
//! gives the status the Kubernetes API server answers them with.

mod error;
mod go_format;
mod json_patch;
mod merge_keys;
mod merge_patch;
mod strategic;

pub use error::PatchError;
pub use json_patch::json_patch;
pub use merge_patch::json_merge_patch;
pub use strategic::strategic_merge_patch;
