//! Content digests (`sha256:<64 lowercase hex digits>`, as OCI writes them) and the
//! WebAssembly magic that every stored blob starts with.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// The four bytes every WebAssembly binary, core module or component, starts with.
pub(crate) const WEBASSEMBLY_MAGIC: &[u8; 4] = b"\0asm";

/// True when `bytes` start like a WebAssembly core module or component.
pub fn is_webassembly(bytes: &[u8]) -> bool {
    bytes.starts_with(WEBASSEMBLY_MAGIC)
}

const SHA256_PREFIX: &str = "sha256:";
const SHA256_HEX_LENGTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(
        "invalid digest {0:?}: a digest is \"sha256:\" followed by 64 lowercase hexadecimal digits"
    )]
    Malformed(String),
}

/// The sha256 digest of a blob's content, which is also the blob's name in the store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    /// Always 64 lowercase hexadecimal digits, so it is safe as a file name.
    hex: String,
}

impl Digest {
    /// Parses `sha256:<hex>`. Uppercase hex digits are refused, as OCI refuses them, so
    /// that one content has exactly one name.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let hex = text
            .strip_prefix(SHA256_PREFIX)
            .filter(|hex| {
                hex.len() == SHA256_HEX_LENGTH
                    && hex
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
            })
            .ok_or_else(|| DigestError::Malformed(text.to_owned()))?;
        Ok(Self {
            hex: hex.to_owned(),
        })
    }

    /// The digest of `bytes` held in memory.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let mut hasher = DigestHasher::new();
        hasher.update(bytes);
        hasher.finish()
    }

    /// The 64 hexadecimal digits without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{SHA256_PREFIX}{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Computes a digest over content that arrives in pieces, such as a request body.
pub(crate) struct DigestHasher(Sha256);

impl DigestHasher {
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Digest {
        Digest {
            hex: format!("{:x}", self.0.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_known_content_matches_sha256sum() {
        let digest = Digest::of_bytes(b"abc");
        assert_eq!(
            digest.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut pieces = DigestHasher::new();
        pieces.update(b"a");
        pieces.update(b"bc");
        assert_eq!(pieces.finish(), digest);
        assert_eq!(Digest::parse(&digest.to_string()).ok(), Some(digest));
    }

    #[test]
    fn only_sha256_with_64_lowercase_hex_digits_parses() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for bad in [
            hex.to_owned(),
            format!("sha512:{hex}"),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}../", &hex[3..]),
        ] {
            let error = Digest::parse(&bad).err().map(|error| error.to_string());
            assert!(
                error.as_deref().is_some_and(|text| text.contains(&bad)),
                "{bad} is refused with a message naming it: {error:?}"
            );
        }
    }

    #[test]
    fn webassembly_is_recognised_by_its_magic() {
        assert!(is_webassembly(b"\0asm\x01\0\0\0"));
        assert!(is_webassembly(b"\0asm\x0d\0\x01\0"));
        assert!(!is_webassembly(b"\0as"));
        assert!(!is_webassembly(b"#!/bin/sh\n"));
    }
}
