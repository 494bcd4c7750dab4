//! The cluster's image store over the API server's HTTP paths, with the node's
//! credentials:
//! - `GET /wasmkube/v1/images/{NAME}:{TAG}` answers `{"name", "tag", "digest"}`;
//! - `GET /wasmkube/v1/blobs/sha256:{hex}` answers the module's bytes;
//!
//! and either answers 404 with a Kubernetes Status when there is no such thing.

use bytes::Bytes;
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::client::Body;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::PullError;
use crate::module_bytes::{BodyReadError, read_body_up_to_limit};
use crate::source::{BoxFuture, ClusterImageSource};

/// The API server's answer to a tag lookup.
#[derive(Deserialize)]
struct ResolvedTag {
    name: String,
    tag: String,
    digest: String,
}

/// The cluster's image store reached through the API server.
#[derive(Clone)]
pub struct ApiServerImageSource {
    client: kube::Client,
}

impl ApiServerImageSource {
    /// A source that sends its requests with `client`, which carries the cluster's
    /// address and the node's credentials.
    pub fn new(client: kube::Client) -> Self {
        ApiServerImageSource { client }
    }

    /// Sends `GET path` and reads the whole answer; a 404 becomes `not_found`, any other
    /// non-success a refusal with the Status' message.
    async fn get(
        &self,
        path: &str,
        not_found: impl FnOnce() -> PullError,
    ) -> Result<Bytes, PullError> {
        let unreachable = |source| PullError::ApiServerUnreachable {
            path: path.to_owned(),
            source,
        };
        let request = http::Request::get(path)
            .body(Body::empty())
            .map_err(|error| unreachable(kube::Error::HttpError(error)))?;
        let response = self.client.send(request).await.map_err(unreachable)?;
        let status = response.status();
        let body =
            read_body_up_to_limit(response.into_body())
                .await
                .map_err(|error| match error {
                    BodyReadError::TooLarge => PullError::TooLarge {
                        limit_in_bytes: crate::module_bytes::MAXIMUM_MODULE_SIZE_IN_BYTES,
                    },
                    BodyReadError::Failed(problem) => PullError::InvalidApiServerAnswer {
                        path: path.to_owned(),
                        problem: format!("reading the answer failed: {problem}"),
                    },
                })?;
        if status == StatusCode::NOT_FOUND {
            return Err(not_found());
        }
        if !status.is_success() {
            // Every API error is a Status; a proxy in between may answer with text.
            let message = serde_json::from_slice::<Status>(&body)
                .ok()
                .and_then(|status| status.message)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(PullError::ApiServerRefused {
                path: path.to_owned(),
                status,
                message,
            });
        }
        Ok(body)
    }

    /// Resolves `NAME:TAG` through the API server.
    async fn resolve_tag(&self, name: &str, tag: &str) -> Result<Digest, PullError> {
        let path = format!("/wasmkube/v1/images/{name}:{tag}");
        let body = self
            .get(&path, || PullError::NotInClusterStore {
                image: format!("{name}:{tag}"),
            })
            .await?;
        let invalid = |problem: String| PullError::InvalidApiServerAnswer {
            path: path.clone(),
            problem,
        };
        let resolved: ResolvedTag =
            serde_json::from_slice(&body).map_err(|error| invalid(error.to_string()))?;
        if resolved.name != name || resolved.tag != tag {
            return Err(invalid(format!(
                "it describes {}:{} instead",
                resolved.name, resolved.tag
            )));
        }
        Digest::parse(&resolved.digest).map_err(|error| invalid(error.to_string()))
    }
}

impl ClusterImageSource for ApiServerImageSource {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<Digest, PullError>> {
        Box::pin(self.resolve_tag(name, tag))
    }

    fn fetch<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<Bytes, PullError>> {
        Box::pin(async move {
            let path = format!("/wasmkube/v1/blobs/{digest}");
            self.get(&path, || PullError::ModuleNotInClusterStore {
                digest: *digest,
            })
            .await
        })
    }
}
