//! Where configMap and secret volumes get their objects from.

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

use crate::error::VolumeError;

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
}

/// Reads configMaps and secrets from the API server, one GET each, as the kubelet's
/// `Get`-strategy configMap and secret managers do.
#[derive(Clone)]
pub struct ApiServerVolumeSources {
    client: kube::Client,
}

impl ApiServerVolumeSources {
    /// Reads through `client`, which the node agent authenticates as its node.
    pub fn new(client: kube::Client) -> Self {
        ApiServerVolumeSources { client }
    }
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
}
