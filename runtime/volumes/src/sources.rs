//! Where configMap and secret volumes get their objects from, and projected volumes
//! their ServiceAccount tokens.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::Api;
use kube::api::PostParams;

use crate::error::VolumeError;
use crate::service_account_token::{
    IssuedServiceAccountToken, ServiceAccountTokenError, ServiceAccountTokenRequest, TokenCache,
};

/// Reads the configMaps and secrets that a pod's volumes project. `Ok(None)` means the object
/// does not exist (which an `optional` volume tolerates); `Err` means it could not be read.
pub trait VolumeSourceReader: Send + Sync {
    /// The configMap `name` in `namespace`, if it exists.
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<ConfigMap>, VolumeError>>;

    /// The secret `name` in `namespace`, if it exists.
    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<Secret>, VolumeError>>;

    /// A token for the pod's ServiceAccount, bound to the pod (TokenRequest).
    fn service_account_token<'a>(
        &'a self,
        request: &'a ServiceAccountTokenRequest,
    ) -> BoxFuture<'a, Result<String, ServiceAccountTokenError>>;
}

/// Reads configMaps and secrets from the API server, one GET each, as the kubelet's
/// `Get`-strategy configMap and secret managers do, and requests ServiceAccount tokens
/// through TokenRequest, keeping each until it needs a refresh (the kubelet's token
/// manager); clones share the kept tokens.
#[derive(Clone)]
pub struct ApiServerVolumeSources {
    client: kube::Client,
    tokens: Arc<TokenCache>,
}

impl ApiServerVolumeSources {
    /// Reads through `client`, which the node agent authenticates as its node.
    pub fn new(client: kube::Client) -> Self {
        ApiServerVolumeSources {
            client,
            tokens: Arc::default(),
        }
    }
}

/// One TokenRequest for the pod's ServiceAccount, bound to the pod.
async fn request_token(
    client: kube::Client,
    request: &ServiceAccountTokenRequest,
) -> Result<IssuedServiceAccountToken, String> {
    let api = Api::<ServiceAccount>::namespaced(client, &request.namespace);
    let token_request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: request.audience.iter().cloned().collect(),
            expiration_seconds: Some(request.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(request.pod_name.clone()),
                uid: Some(request.pod_uid.clone()),
            }),
        },
        ..TokenRequest::default()
    };
    let answer: TokenRequest = api
        .create_subresource(
            "token",
            &request.service_account,
            &PostParams::default(),
            &token_request,
        )
        .await
        .map_err(|error| match error {
            kube::Error::Api(status) => status.message,
            other => other.to_string(),
        })?;
    let status = answer
        .status
        .ok_or_else(|| "the API server answered without a token".to_owned())?;
    Ok(IssuedServiceAccountToken {
        token: status.token,
        expires_at: status.expiration_timestamp.0,
        lifetime_seconds: answer
            .spec
            .expiration_seconds
            .unwrap_or(request.expiration_seconds),
    })
}

impl VolumeSourceReader for ApiServerVolumeSources {
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<ConfigMap>, VolumeError>> {
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), namespace);
        let (namespace, name) = (namespace.to_string(), name.to_string());
        async move {
            api.get_opt(&name)
                .await
                .map_err(|error| VolumeError::SourceRead {
                    resource: "configmap",
                    namespace,
                    name,
                    message: error.to_string(),
                })
        }
        .boxed()
    }

    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<Secret>, VolumeError>> {
        let api = Api::<Secret>::namespaced(self.client.clone(), namespace);
        let (namespace, name) = (namespace.to_string(), name.to_string());
        async move {
            api.get_opt(&name)
                .await
                .map_err(|error| VolumeError::SourceRead {
                    resource: "secret",
                    namespace,
                    name,
                    message: error.to_string(),
                })
        }
        .boxed()
    }

    fn service_account_token<'a>(
        &'a self,
        request: &'a ServiceAccountTokenRequest,
    ) -> BoxFuture<'a, Result<String, ServiceAccountTokenError>> {
        self.tokens
            .token(request, request_token(self.client.clone(), request))
            .boxed()
    }
}
