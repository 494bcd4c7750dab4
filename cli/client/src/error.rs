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
    /// A request body is over the API server's size limit, so it is not sent.
    #[error("error: {}", too_large_message(*.bytes, *.limit))]
    TooLarge { bytes: usize, limit: usize },
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

    /// The error as kubectl words it, with `context` (e.g. `error when applying
    /// "app.yaml" (document 2)`) placed before the problem itself.
    pub fn with_context(&self, context: &str) -> String {
        if let ClientError::Server(status) = self {
            let mut status = (**status).clone();
            status.message = format!("{context}: {}", status.message);
            return format_server_error(&status);
        }
        let text = self.to_string();
        let problem = text.strip_prefix("error: ").unwrap_or(&text);
        format!("error: {context}: {problem}")
    }
}

fn too_large_message(bytes: usize, limit: usize) -> String {
    format!(
        "Request entity too large: the request body would be {bytes} bytes, the limit is {limit}"
    )
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
    fn context_goes_before_the_problem() {
        let status = Status::failure("Pod \"x\" is invalid", "Invalid").with_code(422);
        let context = "error when applying \"app.yaml\" (document 2)";
        assert_eq!(
            ClientError::Server(status.boxed()).with_context(context),
            "Error from server (Invalid): error when applying \"app.yaml\" (document 2): Pod \"x\" is invalid"
        );
        let too_large = ClientError::TooLarge {
            bytes: 10,
            limit: 5,
        };
        assert_eq!(
            too_large.with_context(context),
            "error: error when applying \"app.yaml\" (document 2): Request entity too large: the request body would be 10 bytes, the limit is 5"
        );
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
