//! Checks on a module's bytes before the node keeps them, and reading them off the wire
//! with a size limit.

use std::error::Error;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::digest::Digest;
use crate::error::{PullError, describe_error_chain};

/// The largest module a node accepts from any source. Modules are held in memory while
/// they are verified, so without a bound a hostile or broken server could exhaust the
/// node's memory; real modules and components, interpreters included, stay far below it.
pub const MAXIMUM_MODULE_SIZE_IN_BYTES: u64 = 512 * 1024 * 1024;

/// The magic number that opens every WebAssembly core module and component.
const WEBASSEMBLY_MAGIC: &[u8; 4] = b"\0asm";

/// Checks the bytes against the digest that names them (when the source named one), then
/// that they are WebAssembly, and gives their digest.
pub(crate) fn verify_module(bytes: &[u8], expected: Option<Digest>) -> Result<Digest, PullError> {
    let actual = Digest::of_bytes(bytes);
    if let Some(expected) = expected
        && expected != actual
    {
        return Err(PullError::DigestMismatch { expected, actual });
    }
    if !bytes.starts_with(WEBASSEMBLY_MAGIC) {
        return Err(PullError::NotWebAssembly);
    }
    Ok(actual)
}

/// Why a body could not be read in full.
#[derive(Debug)]
pub(crate) enum BodyReadError {
    /// The body is larger than [`MAXIMUM_MODULE_SIZE_IN_BYTES`].
    TooLarge,
    /// The connection failed; the text has the causes.
    Failed(String),
}

impl BodyReadError {
    /// The pull error for this failure while reading from `url`.
    pub(crate) fn into_download_error(self, url: &str) -> PullError {
        match self {
            BodyReadError::TooLarge => PullError::TooLarge {
                limit_in_bytes: MAXIMUM_MODULE_SIZE_IN_BYTES,
            },
            BodyReadError::Failed(message) => PullError::Download {
                url: url.to_owned(),
                message,
            },
        }
    }
}

/// Reads a whole body, refusing one larger than [`MAXIMUM_MODULE_SIZE_IN_BYTES`].
pub(crate) async fn read_body_up_to_limit<B>(body: B) -> Result<Bytes, BodyReadError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    // The limit is far below usize::MAX on 64-bit targets; on a 32-bit one the address
    // space is the tighter bound anyway.
    let limit = usize::try_from(MAXIMUM_MODULE_SIZE_IN_BYTES).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(BodyReadError::TooLarge),
        Err(error) => Err(BodyReadError::Failed(describe_error_chain(error.as_ref()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_without_the_magic_number_are_not_webassembly() {
        let text = b"#!/bin/sh\necho hello\n";
        assert!(matches!(
            verify_module(text, Some(Digest::of_bytes(text))),
            Err(PullError::NotWebAssembly)
        ));
        assert!(matches!(
            verify_module(b"", None),
            Err(PullError::NotWebAssembly)
        ));
    }

    #[test]
    fn the_digest_is_checked_before_the_content() {
        let expected = Digest::of_bytes(b"\0asm\x01\0\0\0");
        let error = verify_module(b"not wasm", Some(expected)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "digest mismatch: expected {expected}, got {}",
                Digest::of_bytes(b"not wasm")
            )
        );
    }

    #[test]
    fn a_module_is_named_by_its_digest() {
        let module = b"\0asm\x01\0\0\0";
        assert_eq!(
            verify_module(module, None).unwrap(),
            Digest::of_bytes(module)
        );
    }
}
