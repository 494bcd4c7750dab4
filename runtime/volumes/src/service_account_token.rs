//! ServiceAccount tokens for projected volumes, as the kubelet's token manager gets them:
//! one TokenRequest per (account, audience, lifetime, pod), kept and handed out again
//! until 80% of its lifetime has passed or it is 24 hours old, then requested anew. A
//! failed refresh keeps serving the old token until it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

/// A token older than this is refreshed whatever its lifetime (the kubelet's `maxTTL`).
const MAX_TOKEN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// What a pod's `serviceAccountToken` projection asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceAccountTokenRequest {
    pub namespace: String,
    pub service_account: String,
    /// `None`: the API server's own audiences.
    pub audience: Option<String>,
    pub expiration_seconds: i64,
    /// The pod the token is bound to.
    pub pod_name: String,
    pub pod_uid: String,
}

/// Why a projection's token could not be had, in the kubelet's words.
#[derive(Debug, thiserror::Error)]
pub enum ServiceAccountTokenError {
    #[error("failed to fetch token: {message}")]
    Fetch { message: String },
    #[error(
        "token for service account {namespace}/{service_account} expired and refresh failed: {message}"
    )]
    ExpiredAndRefreshFailed {
        namespace: String,
        service_account: String,
        message: String,
    },
}

/// A token as the API server issued it.
#[derive(Clone, Debug)]
pub struct IssuedServiceAccountToken {
    pub token: String,
    pub expires_at: Timestamp,
    /// The lifetime the API server granted (the TokenRequest's `spec.expirationSeconds`).
    pub lifetime_seconds: i64,
}

impl IssuedServiceAccountToken {
    fn expired(&self, now: Timestamp) -> bool {
        now > self.expires_at
    }

    /// The kubelet's `requiresRefresh`: older than 24 hours, or within the last 20% of
    /// its lifetime.
    fn requires_refresh(&self, now: Timestamp) -> bool {
        let lifetime = jiff::SignedDuration::from_secs(self.lifetime_seconds.max(0));
        let Ok(issued_at) = self.expires_at.checked_sub(lifetime) else {
            return true;
        };
        let too_old = issued_at
            .checked_add(MAX_TOKEN_AGE)
            .is_ok_and(|limit| now > limit);
        let last_fifth = jiff::SignedDuration::from_secs(self.lifetime_seconds.max(0) / 5);
        let near_expiry = self
            .expires_at
            .checked_sub(last_fifth)
            .is_ok_and(|refresh_at| now > refresh_at);
        too_old || near_expiry
    }
}

/// The tokens handed out so far, per request.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<ServiceAccountTokenRequest, IssuedServiceAccountToken>>,
}

impl TokenCache {
    /// The token for `request`: the kept one while it needs no refresh, else a fresh one
    /// from `fetch` (an error text on failure), else the kept one while it is valid.
    pub(crate) async fn token<F>(
        &self,
        request: &ServiceAccountTokenRequest,
        fetch: F,
    ) -> Result<String, ServiceAccountTokenError>
    where
        F: Future<Output = Result<IssuedServiceAccountToken, String>>,
    {
        let now = Timestamp::now();
        let kept = self.kept(request);
        if let Some(kept) = &kept
            && !kept.requires_refresh(now)
        {
            return Ok(kept.token.clone());
        }
        match fetch.await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                self.keep(request, fresh);
                Ok(token)
            }
            Err(message) => match kept {
                None => Err(ServiceAccountTokenError::Fetch { message }),
                Some(kept) if kept.expired(Timestamp::now()) => {
                    Err(ServiceAccountTokenError::ExpiredAndRefreshFailed {
                        namespace: request.namespace.clone(),
                        service_account: request.service_account.clone(),
                        message,
                    })
                }
                Some(kept) => {
                    tracing::warn!(
                        namespace = %request.namespace,
                        service_account = %request.service_account,
                        pod = %request.pod_name,
                        %message,
                        "couldn't update token"
                    );
                    Ok(kept.token)
                }
            },
        }
    }

    fn kept(&self, request: &ServiceAccountTokenRequest) -> Option<IssuedServiceAccountToken> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(request)
            .cloned()
    }

    /// Keeps `token`, and forgets expired ones, so that the tokens of pods that are gone
    /// do not pile up (the kubelet's periodic cleanup).
    fn keep(&self, request: &ServiceAccountTokenRequest, token: IssuedServiceAccountToken) {
        let now = Timestamp::now();
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.retain(|_, kept| !kept.expired(now));
        tokens.insert(request.clone(), token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(
        token: &str,
        issued_seconds_ago: i64,
        lifetime_seconds: i64,
    ) -> IssuedServiceAccountToken {
        let now = Timestamp::now().as_second();
        IssuedServiceAccountToken {
            token: token.to_owned(),
            expires_at: Timestamp::from_second(now - issued_seconds_ago + lifetime_seconds)
                .expect("a time"),
            lifetime_seconds,
        }
    }

    fn request() -> ServiceAccountTokenRequest {
        ServiceAccountTokenRequest {
            namespace: "apps".to_owned(),
            service_account: "default".to_owned(),
            audience: None,
            expiration_seconds: 3607,
            pod_name: "web-0".to_owned(),
            pod_uid: "uid-1".to_owned(),
        }
    }

    #[test]
    fn a_token_is_refreshed_after_80_percent_of_its_lifetime_or_a_day() {
        let now = Timestamp::now();
        assert!(!issued("t", 0, 3600).requires_refresh(now));
        assert!(!issued("t", 2870, 3600).requires_refresh(now));
        assert!(issued("t", 2890, 3600).requires_refresh(now));
        let year = 365 * 24 * 3600;
        assert!(!issued("t", 23 * 3600, year).requires_refresh(now));
        assert!(issued("t", 24 * 3600 + 10, year).requires_refresh(now));
    }

    #[tokio::test]
    async fn the_cache_serves_kept_tokens_refreshes_old_ones_and_survives_a_failed_refresh() {
        let cache = TokenCache::default();
        let first = cache
            .token(&request(), async { Ok(issued("first", 0, 3600)) })
            .await
            .expect("fetched");
        assert_eq!(first, "first");
        let kept = cache
            .token(&request(), async { Err("must not be asked".to_owned()) })
            .await
            .expect("kept");
        assert_eq!(kept, "first");

        cache.keep(&request(), issued("old", 3000, 3600));
        let refreshed = cache
            .token(&request(), async { Ok(issued("second", 0, 3600)) })
            .await
            .expect("refreshed");
        assert_eq!(refreshed, "second");

        cache.keep(&request(), issued("old", 3000, 3600));
        let still_valid = cache
            .token(&request(), async {
                Err("the API server is away".to_owned())
            })
            .await
            .expect("the old token, still valid");
        assert_eq!(still_valid, "old");

        cache.keep(&request(), issued("expired", 3700, 3600));
        let error = cache
            .token(&request(), async {
                Err("the API server is away".to_owned())
            })
            .await
            .expect_err("expired and not refreshed");
        assert_eq!(
            error.to_string(),
            "token for service account apps/default expired and refresh failed: the API server is away"
        );
        let mut other_pod = request();
        other_pod.pod_uid = "uid-2".to_owned();
        let error = cache
            .token(&other_pod, async {
                Err("serviceaccounts \"default\" not found".to_owned())
            })
            .await
            .expect_err("never fetched");
        assert_eq!(
            error.to_string(),
            "failed to fetch token: serviceaccounts \"default\" not found"
        );
    }
}
