//! Authentication, as kube-apiserver's union of authenticators: a client certificate
//! signed by the cluster CA (checked by the TLS listener), else a bearer token that one
//! of the token authenticators recognizes (the static token file, bootstrap tokens,
//! ServiceAccount tokens), else the anonymous user.

use std::sync::Arc;

use http::HeaderMap;
use wasmkube_pki::Subject;

use super::UserInfo;

/// Recognizes some bearer tokens. `Ok(None)` means "not mine", so the next one is
/// asked; `Err` means "mine, but invalid" (expired, revoked), with the reason.
pub trait TokenAuthenticator: Send + Sync {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, String>;
}

/// What authentication concluded about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Authentication {
    User(UserInfo),
    /// No credentials at all.
    Anonymous,
    /// Credentials that no authenticator accepts: 401, whatever the path.
    Rejected(String),
}

#[derive(Default)]
pub struct Authenticator {
    token_authenticators: Vec<Arc<dyn TokenAuthenticator>>,
}

impl Authenticator {
    pub fn with_token_authenticator(mut self, authenticator: Arc<dyn TokenAuthenticator>) -> Self {
        self.token_authenticators.push(authenticator);
        self
    }

    pub fn authenticate(
        &self,
        client_certificate: Option<&Subject>,
        headers: &HeaderMap,
    ) -> Authentication {
        if let Some(subject) = client_certificate
            && !subject.common_name.is_empty()
        {
            let groups: Vec<&str> = subject.organizations.iter().map(String::as_str).collect();
            return Authentication::User(UserInfo::authenticated(
                subject.common_name.clone(),
                &groups,
            ));
        }
        let Some(authorization) = headers.get(http::header::AUTHORIZATION) else {
            return Authentication::Anonymous;
        };
        let token = authorization
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty());
        let Some(token) = token else {
            return Authentication::Rejected(
                "the Authorization header is not a bearer token".to_owned(),
            );
        };
        let mut reasons = Vec::new();
        for authenticator in &self.token_authenticators {
            match authenticator.authenticate_token(token) {
                Ok(Some(user)) => return Authentication::User(user),
                Ok(None) => {}
                Err(reason) => reasons.push(reason),
            }
        }
        if reasons.is_empty() {
            Authentication::Rejected("invalid bearer token".to_owned())
        } else {
            Authentication::Rejected(reasons.join(", "))
        }
    }
}

impl TokenAuthenticator for super::token_file::StaticTokens {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, String> {
        Ok(self.authenticate(token))
    }
}

/// Kubernetes' bootstrap tokens (`<id>.<secret>`, kept as Secrets in kube-system), which
/// joining nodes use to ask for their certificates.
pub struct BootstrapTokens {
    storage: crate::store::SharedStorage,
}

impl BootstrapTokens {
    pub fn new(storage: crate::store::SharedStorage) -> Self {
        Self { storage }
    }
}

impl TokenAuthenticator for BootstrapTokens {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, String> {
        if wasmkube_pki::join_token::parse_bootstrap_token(token).is_none() {
            return Ok(None);
        }
        crate::certificates::authenticate_bootstrap_token(token, &self.storage)
            .map(Some)
            .ok_or_else(|| "invalid bootstrap token".to_owned())
    }
}
