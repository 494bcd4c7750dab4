//! The cluster's built-in image store: WebAssembly binaries kept content-addressed in
//! the control plane's data directory, tags naming them, and the HTTP endpoints through
//! which `wasmkube image push` fills the store and node agents pull from it.

mod digest;
mod durable;
mod http;
mod reference;
mod store;

pub use digest::{Digest, DigestError, is_webassembly};
pub use http::routes;
pub use reference::{ImageReference, ReferenceError};
pub use store::{
    BlobFile, DEFAULT_MAX_BLOB_BYTES, ImageStore, ImageStoreError, ImageSummary, StoredBlob,
    TagRecord,
};
