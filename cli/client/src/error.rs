//! The error type of the client verbs. Its `Display` is exactly the text kubectl writes
//! on stderr, so callers can print it unchanged.

use kube::core::Status;

use crate::manifests::ManifestError;
use crate::resolve::ResolveError;

/// Everything that can stop a client verb.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig could not be found, read or used.
    #[error("error: {0}")]
    Configuration(String),
    /// The API server answered with a failure `Status`.
    #[error("{}", format_server_error(.0))]
    Server(Box<Status>),
    /// The request never got an answer from the API server (connection, TLS, decoding).
    #[error("error: {0}")]
    Transport(String),
    /// A manifest given with `-f` could not be read or is not a valid object.
    #[error("error: {0}")]
    Manifest(#[from] ManifestError),
    /// A resource type name or an object's kind is not served by the API server.
    #[error("error: {0}")]
    Resolve(#[from] ResolveError),
    /// The command line asks for something impossible (kubectl's usage errors).
    #[error("error: {0}")]
    Usage(String),
    /// Writing to the output or error stream failed.
    #[error("error: writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<kube::Error> for ClientError {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => ClientError::Server(status),
            other => ClientError::Transport(other.to_string()),
        }
    }
}

impl From<kube::core::request::Error> for ClientError {
    fn from(error: kube::core::request::Error) -> Self {
        ClientError::Transport(error.to_string())
    }
}

impl ClientError {
    /// True when the server said the object does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Server(status) if status.code == 404)
    }
}

/// Formats a failure `Status` like kubectl's `StandardErrorMessage`:
/// `Error from server (NotFound): pods "x" not found`.
pub fn format_server_error(status: &Status) -> String {
    if status.reason.is_empty() || status.reason == "Unknown" {
        format!("Error from server: {}", status.message)
    } else {
        format!("Error from server ({}): {}", status.reason, status.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_read_like_kubectl() {
        let status = Status::failure("pods \"x\" not found", "NotFound").with_code(404);
        let error = ClientError::Server(status.boxed());
        assert_eq!(
            error.to_string(),
            "Error from server (NotFound): pods \"x\" not found"
        );
        assert!(error.is_not_found());
    }

    #[test]
    fn server_errors_without_a_reason_omit_the_parentheses() {
        let status = Status::failure("boom", "").with_code(500);
        assert_eq!(
            ClientError::Server(status.boxed()).to_string(),
            "Error from server: boom"
        );
    }
}
