//! The errors of pulling an image, worded for a pod's status: the runtime puts them in
//! the `message` of a container waiting with reason `ErrImagePull`.

use std::error::Error;
use std::io;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::reference::ImageReferenceError;

/// Why a container's image could not be made ready on the node.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The `image:` is not a reference wasmkube can pull.
    #[error("couldn't parse image reference {image:?}: {source}")]
    InvalidImageName {
        /// The image as the container names it.
        image: String,
        /// What is wrong with it.
        source: ImageReferenceError,
    },
    /// The image is not cached and the pull policy forbids fetching it.
    #[error("Container image {image:?} is not present with pull policy of Never")]
    NeverPull {
        /// The image as the container names it.
        image: String,
    },
    /// Fetching or storing the image failed.
    #[error("failed to pull image {image:?}: {source}")]
    Pull {
        /// The image as the container names it.
        image: String,
        /// What went wrong.
        source: PullError,
    },
    /// The node's image cache directory cannot be created or read.
    #[error("the node's image cache at {} cannot be used: {}", directory.display(), describe_io_error(source))]
    CacheUnavailable {
        /// The cache directory.
        directory: PathBuf,
        /// The failure.
        source: io::Error,
    },
}

impl ImageError {
    /// The kubelet's reason for a container waiting on this error: `InvalidImageName`,
    /// `ErrImageNeverPull`, or `ErrImagePull` for everything else.
    pub fn reason(&self) -> &'static str {
        match self {
            ImageError::InvalidImageName { .. } => "InvalidImageName",
            ImageError::NeverPull { .. } => "ErrImageNeverPull",
            ImageError::Pull { .. } | ImageError::CacheUnavailable { .. } => "ErrImagePull",
        }
    }
}

/// What went wrong while fetching or storing an image's module.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The API server has no such tag in the cluster's image store.
    #[error("image {image:?} not found in the cluster's image store")]
    NotInClusterStore {
        /// The image as `NAME:TAG`.
        image: String,
    },
    /// The API server has no module with this digest in the cluster's image store.
    #[error("module {digest} not found in the cluster's image store")]
    ModuleNotInClusterStore {
        /// The digest that was asked for.
        digest: Digest,
    },
    /// The request to the API server failed before an answer came.
    #[error(
        "requesting {path} from the API server: {}",
        describe_error_chain(source)
    )]
    ApiServerUnreachable {
        /// The path that was requested.
        path: String,
        /// The client's failure.
        source: kube::Error,
    },
    /// The API server answered with an error other than not-found.
    #[error("the API server answered {path} with {status}: {message}")]
    ApiServerRefused {
        /// The path that was requested.
        path: String,
        /// The HTTP status of the answer.
        status: http::StatusCode,
        /// The `message` of the Status the API server sent.
        message: String,
    },
    /// The API server's answer is not what the image store's protocol says.
    #[error("the API server's answer to {path} is not understood: {problem}")]
    InvalidApiServerAnswer {
        /// The path that was requested.
        path: String,
        /// What is wrong with the answer.
        problem: String,
    },
    /// A download failed before a complete answer came.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL being downloaded.
        url: String,
        /// The failure, with its causes.
        message: String,
    },
    /// A download was answered with an error status.
    #[error("downloading {url}: the server answered {status}")]
    DownloadStatus {
        /// The URL being downloaded.
        url: String,
        /// The HTTP status of the answer.
        status: http::StatusCode,
    },
    /// A download redirected more times than wasmkube follows.
    #[error("downloading {url}: stopped after {limit} redirects")]
    TooManyRedirects {
        /// The URL first asked for.
        url: String,
        /// How many redirects are followed.
        limit: usize,
    },
    /// A download redirected to a URL wasmkube does not download from.
    #[error("downloading {url}: refused to follow the redirect: {source}")]
    RedirectRefused {
        /// The URL that redirected.
        url: String,
        /// Why the target is refused.
        source: ImageReferenceError,
    },
    /// The module is larger than a node accepts.
    #[error("the module is larger than {limit_in_bytes} bytes, the most a node accepts")]
    TooLarge {
        /// The most a node accepts.
        limit_in_bytes: u64,
    },
    /// The bytes do not have the digest that names them.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the image names.
        expected: Digest,
        /// The digest of the bytes that came.
        actual: Digest,
    },
    /// The bytes are not WebAssembly.
    #[error("not a WebAssembly module or component (no \\0asm header)")]
    NotWebAssembly,
    /// A `file://` image cannot be read.
    #[error("file://{}: {}", path.display(), describe_io_error(source))]
    File {
        /// The file's path.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// The module cannot be written to the node's image cache.
    #[error("storing the module in the node's image cache at {}: {}", path.display(), describe_io_error(source))]
    Cache {
        /// The file being written.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// The node's trusted root certificates cannot be loaded for https downloads.
    #[error(
        "loading the node's trusted root certificates for https: {}",
        describe_io_error(source)
    )]
    TrustedRoots {
        /// The failure.
        source: io::Error,
    },
}

/// An I/O error's text without the ` (os error N)` that Rust appends, so that a pod's
/// status reads `file:///x.wasm: No such file or directory` as the kubelet's would.
pub(crate) fn describe_io_error(error: &io::Error) -> String {
    let text = error.to_string();
    let Some(code) = error.raw_os_error() else {
        return text;
    };
    match text.strip_suffix(&format!(" (os error {code})")) {
        Some(without_code) => without_code.to_owned(),
        None => text,
    }
}

/// An error's text followed by its causes', since HTTP clients' errors say only
/// "client error (Connect)" at the top and the useful part ("Connection refused") below.
pub(crate) fn describe_error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let cause_text = current.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        cause = current.source();
    }
    text
}
