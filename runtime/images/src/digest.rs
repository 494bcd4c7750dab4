//! Content digests: `sha256:<64 lowercase hex digits>`, the name of a module's bytes.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// The only digest algorithm wasmkube accepts, as written before the colon.
const SHA256_ALGORITHM: &str = "sha256";

/// The length of a sha256 digest in bytes.
const SHA256_LENGTH_IN_BYTES: usize = 32;

/// A sha256 digest of a module's bytes, written `sha256:<64 lowercase hex digits>` as in
/// OCI image references.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    sha256: [u8; SHA256_LENGTH_IN_BYTES],
}

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The string has no `algorithm:` prefix.
    #[error("invalid digest {digest:?}: expected sha256:<64 lowercase hex digits>")]
    MissingAlgorithm {
        /// The string that was given.
        digest: String,
    },
    /// The algorithm is not sha256.
    #[error("unsupported digest algorithm {algorithm:?} in {digest:?}: only sha256 is supported")]
    UnsupportedAlgorithm {
        /// The algorithm that was given.
        algorithm: String,
        /// The string that was given.
        digest: String,
    },
    /// The hex part is not exactly 64 lowercase hex digits.
    #[error(
        "invalid digest {digest:?}: a sha256 digest is 64 lowercase hex digits after \"sha256:\""
    )]
    InvalidHex {
        /// The string that was given.
        digest: String,
    },
}

impl Digest {
    /// Computes the sha256 digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest {
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// Parses `sha256:<64 lowercase hex digits>`. Upper-case hex is refused, as OCI
    /// requires, so that one digest has exactly one spelling (it names files on disk).
    pub fn parse(digest: &str) -> Result<Digest, DigestError> {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return Err(DigestError::MissingAlgorithm {
                digest: digest.to_owned(),
            });
        };
        if algorithm != SHA256_ALGORITHM {
            return Err(DigestError::UnsupportedAlgorithm {
                algorithm: algorithm.to_owned(),
                digest: digest.to_owned(),
            });
        }
        Self::from_hex(hex).ok_or_else(|| DigestError::InvalidHex {
            digest: digest.to_owned(),
        })
    }

    /// Reads 64 lowercase hex digits (the part after `sha256:`), as blob file names are
    /// written; anything else gives `None`.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        let hex = hex.as_bytes();
        if hex.len() != SHA256_LENGTH_IN_BYTES * 2 {
            return None;
        }
        let mut sha256 = [0u8; SHA256_LENGTH_IN_BYTES];
        for (byte, pair) in sha256.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = lowercase_hex_value(pair[0])? << 4 | lowercase_hex_value(pair[1])?;
        }
        Some(Digest { sha256 })
    }

    /// The 64 lowercase hex digits after `sha256:`.
    pub fn hex(&self) -> String {
        const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(SHA256_LENGTH_IN_BYTES * 2);
        for byte in self.sha256 {
            hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

/// The value of one lowercase hex digit, or `None` for any other byte.
fn lowercase_hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{SHA256_ALGORITHM}:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(digest: &str) -> Result<Self, Self::Err> {
        Digest::parse(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_known_bytes_matches_sha256sum() {
        assert_eq!(
            Digest::of_bytes(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_digest_round_trips_through_its_text() {
        let digest = Digest::of_bytes(b"\0asm");
        assert_eq!(Digest::parse(&digest.to_string()), Ok(digest));
        assert_eq!(Digest::from_hex(&digest.hex()), Some(digest));
    }

    #[test]
    fn malformed_digests_are_refused_with_the_reason() {
        let upper_case = format!("sha256:{}", "A".repeat(64));
        assert_eq!(
            Digest::parse(&upper_case),
            Err(DigestError::InvalidHex { digest: upper_case })
        );
        assert_eq!(
            Digest::parse("sha256:abc").unwrap_err().to_string(),
            "invalid digest \"sha256:abc\": a sha256 digest is 64 lowercase hex digits after \"sha256:\""
        );
        assert_eq!(
            Digest::parse("sha512:00").unwrap_err().to_string(),
            "unsupported digest algorithm \"sha512\" in \"sha512:00\": only sha256 is supported"
        );
        assert_eq!(
            Digest::parse("deadbeef").unwrap_err().to_string(),
            "invalid digest \"deadbeef\": expected sha256:<64 lowercase hex digits>"
        );
    }
}
