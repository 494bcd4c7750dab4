//! The key that signs ServiceAccount tokens (kube-apiserver's
//! `--service-account-signing-key-file`, and the same key's public half as
//! `--service-account-key-file`): an ECDSA P-256 key, made on the first start and kept in
//! the data directory as a PKCS#8 PEM file readable by its owner only.

use std::path::{Path, PathBuf};

use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rcgen::{KeyPair, PublicKeyData};
use sha2::{Digest, Sha256};

/// Why the signing key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("cannot read the service account signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not an ECDSA P-256 private key in PKCS#8 PEM: {reason}; remove it to make a new one (tokens signed with it stop working)"
    )]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot make a service account signing key: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write the service account signing key: {0}")]
    Write(#[from] wasmkube_pki::PkiError),
}

/// The signing key in the two forms jsonwebtoken uses, and its key id.
pub(super) struct SigningKey {
    pub(super) encoding: EncodingKey,
    pub(super) decoding: DecodingKey,
    /// As kube-apiserver computes a token's `kid`: the unpadded base64url SHA-256 of the
    /// public key's DER SubjectPublicKeyInfo, so verifiers can pick the key.
    pub(super) key_id: String,
}

impl SigningKey {
    /// Loads the key kept at `path`, or makes one and writes it there.
    pub(super) fn load_or_create(path: &Path) -> Result<Self, SigningKeyError> {
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let key = KeyPair::from_pem(&pem).map_err(|error| SigningKeyError::Invalid {
                    path: path.to_path_buf(),
                    reason: error.to_string(),
                })?;
                if !key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
                    return Err(SigningKeyError::Invalid {
                        path: path.to_path_buf(),
                        reason: "the key is not on the P-256 curve".to_owned(),
                    });
                }
                Ok(Self::from_key_pair(&key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate()?;
                wasmkube_pki::authority::write_file_atomically(path, &key.serialize_pem(), true)?;
                Ok(Self::from_key_pair(&key))
            }
            Err(source) => Err(SigningKeyError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// A new key kept only in memory.
    pub(super) fn generate() -> Result<Self, SigningKeyError> {
        Ok(Self::from_key_pair(&KeyPair::generate()?))
    }

    fn from_key_pair(key: &KeyPair) -> Self {
        // jsonwebtoken signs through ring with the PKCS#8 document and verifies with the
        // raw (uncompressed) public point, which is what rcgen hands out.
        let digest = Sha256::digest(key.subject_public_key_info());
        Self {
            encoding: EncodingKey::from_ec_der(key.serialized_der()),
            decoding: DecodingKey::from_ec_der(key.public_key_raw()),
            key_id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        }
    }
}
