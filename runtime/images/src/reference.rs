//! What a container's `image:` may name, and the rules that parse it.
//!
//! - `NAME[:TAG]` or `NAME@sha256:<hex>`: a module pushed into the cluster's built-in image
//!   store. NAME is Docker's repository grammar: lowercase letters and digits, components
//!   separated by `/`, each component's words separated by `.`, `_`, `__` or dashes. TAG
//!   defaults to `latest`.
//! - `file:///absolute/path.wasm`: a file on the node.
//! - `https://host/path.wasm@sha256:<hex>`: a download, pinned by digest so that the bytes
//!   that run are the bytes that were meant. Plain `http://` is accepted only to
//!   127.0.0.1, `::1` and localhost, which serve tests and local development without
//!   certificates; anything else over plain HTTP could be altered on the way, and while
//!   the digest would catch that, it would also make pulls fail for no good reason.
//! - A first name component that looks like a registry host (it contains `.` or `:`, or
//!   is `localhost`) is an OCI registry reference, which is not supported yet.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, DigestError};

/// The tag of a cluster-store image that names none, as Docker and Kubernetes default it.
pub const DEFAULT_TAG: &str = "latest";

/// The longest repository name Docker's reference grammar allows.
const MAXIMUM_NAME_LENGTH: usize = 255;

/// The longest tag Docker's reference grammar allows.
const MAXIMUM_TAG_LENGTH: usize = 128;

/// A parsed `image:` of a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageReference {
    /// `NAME[:TAG]`: a tag in the cluster's image store, resolved to a digest by the API
    /// server.
    ClusterStore {
        /// The repository name, such as `team/hello`.
        name: String,
        /// The tag, `latest` when the image names none.
        tag: String,
    },
    /// `NAME@sha256:<hex>`: a module in the cluster's image store pinned by its digest.
    ClusterStoreDigest {
        /// The repository name, such as `team/hello`.
        name: String,
        /// The digest of the module's bytes.
        digest: Digest,
    },
    /// `file:///absolute/path.wasm`: a file on the node, whose digest is that of its
    /// current content.
    File {
        /// The absolute path of the module on the node.
        path: PathBuf,
    },
    /// `https://host/path.wasm@sha256:<hex>` (or `http://` to a loopback host): a download
    /// verified against its digest.
    Https {
        /// The URL to download, without the `@sha256:` suffix.
        url: String,
        /// The digest the downloaded bytes must have.
        digest: Digest,
    },
}

/// Why an `image:` is not a reference wasmkube can pull; the kubelet's reason for these
/// is `InvalidImageName`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageReferenceError {
    /// The image is the empty string.
    #[error("image reference is empty")]
    Empty,
    /// The digest after `@` is malformed.
    #[error(transparent)]
    InvalidDigest(#[from] DigestError),
    /// The repository name breaks Docker's grammar.
    #[error("invalid reference format: repository name {name:?} {problem}")]
    InvalidName {
        /// The repository name that was given.
        name: String,
        /// What is wrong with it, as the end of a sentence.
        problem: String,
    },
    /// The tag breaks Docker's grammar.
    #[error(
        "invalid reference format: tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
    )]
    InvalidTag {
        /// The tag that was given.
        tag: String,
    },
    /// The first name component is a registry host.
    #[error(
        "image {image:?} names the registry {registry:?}: OCI registries are not supported yet; push the module into the cluster's image store with `wasmkube image push`, or use file:///path or https://...@sha256:<digest>"
    )]
    OciRegistryNotSupported {
        /// The image that was given.
        image: String,
        /// Its first component, which names a registry host.
        registry: String,
    },
    /// A `file://` image does not name an absolute path.
    #[error("{image:?} must name an absolute path on the node, as file:///path/to/module.wasm")]
    FileNotAbsolute {
        /// The image that was given.
        image: String,
    },
    /// An `https://` image lacks the `@sha256:` suffix that pins its content.
    #[error(
        "{url:?} is not pinned by digest: an https image must end in @sha256:<digest of the module>"
    )]
    UrlNotPinned {
        /// The URL that was given.
        url: String,
    },
    /// A plain `http://` URL names a host other than a loopback one.
    #[error("{url:?}: plain http is only allowed to 127.0.0.1, ::1 and localhost; use https")]
    PlainHttpNotLoopback {
        /// The URL that was given.
        url: String,
    },
    /// The URL does not parse, or has no host.
    #[error("invalid URL {url:?}: {problem}")]
    InvalidUrl {
        /// The URL that was given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The image uses a scheme wasmkube cannot pull from.
    #[error(
        "unsupported image scheme \"{scheme}://\": use NAME[:TAG], file:///path or https://...@sha256:<digest>"
    )]
    UnsupportedScheme {
        /// The scheme that was given.
        scheme: String,
    },
}

impl ImageReference {
    /// Parses a container's `image:` by wasmkube's rules (see the module documentation).
    pub fn parse(image: &str) -> Result<Self, ImageReferenceError> {
        if image.is_empty() {
            return Err(ImageReferenceError::Empty);
        }
        if let Some(path) = image.strip_prefix("file://") {
            return parse_file(image, path);
        }
        if image.starts_with("https://") || image.starts_with("http://") {
            return parse_url(image);
        }
        if let Some((scheme, _)) = image.split_once("://") {
            return Err(ImageReferenceError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        }
        parse_cluster_store(image)
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageReference::ClusterStore { name, tag } => write!(formatter, "{name}:{tag}"),
            ImageReference::ClusterStoreDigest { name, digest } => {
                write!(formatter, "{name}@{digest}")
            }
            ImageReference::File { path } => write!(formatter, "file://{}", path.display()),
            ImageReference::Https { url, digest } => write!(formatter, "{url}@{digest}"),
        }
    }
}

/// Parses the path after `file://`, which must be absolute (`file:///...`).
fn parse_file(image: &str, path: &str) -> Result<ImageReference, ImageReferenceError> {
    // A Windows path is written file:///C:/dir/module.wasm; the slash before the drive
    // letter belongs to the URL, not to the path.
    let path = match path.as_bytes() {
        [b'/', _, b':', ..] if cfg!(windows) => &path[1..],
        _ => path,
    };
    if !Path::new(path).is_absolute() {
        return Err(ImageReferenceError::FileNotAbsolute {
            image: image.to_owned(),
        });
    }
    Ok(ImageReference::File {
        path: PathBuf::from(path),
    })
}

/// Parses `https://...@sha256:<hex>` (or `http://` to a loopback host).
fn parse_url(image: &str) -> Result<ImageReference, ImageReferenceError> {
    // The digest follows the last `@`. An `@` of user information in the URL is followed
    // by a host and then a path, so a suffix with a `/` is not a digest, and neither is
    // one without the colon of `sha256:`.
    let (url, digest) = match image.rsplit_once('@') {
        Some((url, suffix)) if suffix.contains(':') && !suffix.contains('/') => {
            (url, Digest::parse(suffix)?)
        }
        _ => {
            return Err(ImageReferenceError::UrlNotPinned {
                url: image.to_owned(),
            });
        }
    };
    check_download_url(url)?;
    Ok(ImageReference::Https {
        url: url.to_owned(),
        digest,
    })
}

/// Checks that `url` is one wasmkube downloads from: https to any host, or plain http to
/// a loopback host. Redirects are held to the same rule.
pub(crate) fn check_download_url(url: &str) -> Result<http::Uri, ImageReferenceError> {
    let invalid = |problem: &str| ImageReferenceError::InvalidUrl {
        url: url.to_owned(),
        problem: problem.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
    let host = uri.host().ok_or_else(|| invalid("it has no host"))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback_host(host) => Ok(uri),
        Some("http") => Err(ImageReferenceError::PlainHttpNotLoopback {
            url: url.to_owned(),
        }),
        Some(scheme) => Err(ImageReferenceError::UnsupportedScheme {
            scheme: scheme.to_owned(),
        }),
        None => Err(invalid("it has no scheme")),
    }
}

/// Whether `host` (as `http::Uri::host` gives it) is this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

/// Parses `NAME[:TAG]` or `NAME[:TAG]@sha256:<hex>` (a tag beside a digest is ignored, as
/// containerd ignores it: the digest names the content).
fn parse_cluster_store(image: &str) -> Result<ImageReference, ImageReferenceError> {
    if let Some((first_component, _)) = image.split_once('/')
        && (first_component.contains(['.', ':']) || first_component == "localhost")
    {
        return Err(ImageReferenceError::OciRegistryNotSupported {
            image: image.to_owned(),
            registry: first_component.to_owned(),
        });
    }
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(Digest::parse(digest)?)),
        None => (image, None),
    };
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    check_repository_name(name)?;
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    Ok(match digest {
        Some(digest) => ImageReference::ClusterStoreDigest {
            name: name.to_owned(),
            digest,
        },
        None => ImageReference::ClusterStore {
            name: name.to_owned(),
            tag: tag.unwrap_or(DEFAULT_TAG).to_owned(),
        },
    })
}

/// Checks a repository name against Docker's grammar: `/`-separated components, each
/// lowercase letters and digits with single `.`, `_`, a double `__` or dashes between.
fn check_repository_name(name: &str) -> Result<(), ImageReferenceError> {
    let invalid = |problem: String| ImageReferenceError::InvalidName {
        name: name.to_owned(),
        problem,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty".to_owned()));
    }
    if name.len() > MAXIMUM_NAME_LENGTH {
        return Err(invalid(format!(
            "must not be more than {MAXIMUM_NAME_LENGTH} characters"
        )));
    }
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Err(invalid("must be lowercase".to_owned()));
    }
    match name
        .split('/')
        .find(|component| !is_valid_name_component(component))
    {
        Some("") => Err(invalid("has an empty component".to_owned())),
        Some(component) => Err(invalid(format!(
            "has the component {component:?}, which is not lowercase letters and digits separated by '.', '_', '__' or '-'"
        ))),
        None => Ok(()),
    }
}

/// Whether `component` matches `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_valid_name_component(component: &str) -> bool {
    let is_word_byte = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut position = 0;
    let mut after_separator = true;
    while position < bytes.len() {
        if is_word_byte(&bytes[position]) {
            position += 1;
            after_separator = false;
            continue;
        }
        if after_separator {
            return false;
        }
        let separator_start = position;
        while position < bytes.len() && !is_word_byte(&bytes[position]) {
            position += 1;
        }
        let separator = &component[separator_start..position];
        let is_allowed_separator =
            matches!(separator, "." | "_" | "__") || separator.bytes().all(|byte| byte == b'-');
        if !is_allowed_separator {
            return false;
        }
        after_separator = true;
    }
    !after_separator
}

/// Checks a tag against Docker's grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), ImageReferenceError> {
    let is_word_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let valid = match tag.as_bytes() {
        [first, rest @ ..] => {
            tag.len() <= MAXIMUM_TAG_LENGTH
                && is_word_byte(*first)
                && rest
                    .iter()
                    .all(|&byte| is_word_byte(byte) || byte == b'.' || byte == b'-')
        }
        [] => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ImageReferenceError::InvalidTag {
            tag: tag.to_owned(),
        })
    }
}
