//! The token a node joins with, in k3s's secure format: `K10<CA hash>::<bootstrap token>`.
//! The CA hash (the SHA-256 of the cluster CA certificate) lets the node trust the server
//! before it has any credentials; the bootstrap token (`<id>.<secret>`, Kubernetes'
//! format) lets it ask for a client certificate and nothing more.

use std::fmt;
use std::str::FromStr;

use crate::{PkiError, random_bytes};

const PREFIX: &str = "K10";
const ID_LENGTH: usize = 6;
const SECRET_LENGTH: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// The SHA-256 of the cluster CA certificate's DER, in lowercase hex.
    pub ca_sha256_hex: String,
    /// The bootstrap token's public part, `[a-z0-9]{6}`.
    pub token_id: String,
    /// The bootstrap token's secret part, `[a-z0-9]{16}`.
    pub token_secret: String,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("JoinToken")
            .field("ca_sha256_hex", &self.ca_sha256_hex)
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// Random characters of `[a-z0-9]`, as kubeadm's token generator picks them.
pub fn random_token_characters(length: usize) -> Result<String, PkiError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut text = String::with_capacity(length);
    while text.len() < length {
        for byte in random_bytes::<32>()? {
            // Rejection sampling keeps every character equally likely.
            if usize::from(byte) < 252 && text.len() < length {
                text.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    Ok(text)
}

/// Whether text is a bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn parse_bootstrap_token(text: &str) -> Option<(&str, &str)> {
    let (id, secret) = text.split_once('.')?;
    let valid = |part: &str, length: usize| {
        part.len() == length
            && part
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
    };
    (valid(id, ID_LENGTH) && valid(secret, SECRET_LENGTH)).then_some((id, secret))
}

impl JoinToken {
    pub fn generate(ca_sha256_hex: &str) -> Result<Self, PkiError> {
        Ok(Self {
            ca_sha256_hex: ca_sha256_hex.to_owned(),
            token_id: random_token_characters(ID_LENGTH)?,
            token_secret: random_token_characters(SECRET_LENGTH)?,
        })
    }

    /// The bootstrap token, `<id>.<secret>`, as a bearer token.
    pub fn bootstrap_token(&self) -> String {
        format!("{}.{}", self.token_id, self.token_secret)
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{PREFIX}{}::{}",
            self.ca_sha256_hex,
            self.bootstrap_token()
        )
    }
}

impl FromStr for JoinToken {
    type Err = PkiError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            PkiError::Invalid(
                "the join token is not of the form K10<sha256 of the cluster CA>::<id>.<secret> \
                 (the content of the server's DIR/node-token)"
                    .to_owned(),
            )
        };
        let text = text.trim();
        let rest = text.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let (hash, token) = rest.split_once("::").ok_or_else(invalid)?;
        let hash_is_valid = hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit());
        let (id, secret) = parse_bootstrap_token(token).ok_or_else(invalid)?;
        if !hash_is_valid {
            return Err(invalid());
        }
        Ok(Self {
            ca_sha256_hex: hash.to_ascii_lowercase(),
            token_id: id.to_owned(),
            token_secret: secret.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_reads_back_the_same() {
        let token = JoinToken::generate(&"ab".repeat(32)).expect("a token");
        let text = token.to_string();
        assert!(text.starts_with("K10abab"), "{text}");
        assert_eq!(text.parse::<JoinToken>().expect("it parses"), token);
        assert!(parse_bootstrap_token(&token.bootstrap_token()).is_some());
    }

    #[test]
    fn malformed_tokens_are_refused_with_the_expected_form() {
        for text in [
            "",
            "abcdef.0123456789abcdef",
            "K10zz::abcdef.0123456789abcdef",
            &format!("K10{}::ABCDEF.0123456789abcdef", "a".repeat(64)),
            &format!("K10{}::abcdef.short", "a".repeat(64)),
        ] {
            let error = text.parse::<JoinToken>().expect_err(text).to_string();
            assert!(error.contains("K10<sha256"), "{error}");
        }
    }
}
