//! The volumes whose files the node writes itself, with the atomic writer: configMap, secret,
//! downwardAPI and projected (with configMap, secret, downwardAPI and serviceAccountToken
//! sources). They are always mounted read-only, as in Kubernetes, and rewritten on refresh so
//! that running containers see updates, including a ServiceAccount token renewed before it
//! expires.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, DownwardAPIVolumeSource, Pod, ProjectedVolumeSource, Secret,
    SecretVolumeSource, ServiceAccountTokenProjection, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use crate::atomic_writer::{AtomicWriteError, DEFAULT_FILE_MODE, FileProjection, Payload};
use crate::downward_api::{DownwardApiError, downward_api_payload};
use crate::error::VolumeError;
use crate::key_projection::{KeyProjectionError, config_map_payload, secret_payload};
use crate::service_account_token::{ServiceAccountTokenError, ServiceAccountTokenRequest};
use crate::sources::VolumeSourceReader;

/// A token projection's lifetime when it names none (`SetDefaults_ServiceAccountTokenProjection`).
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60;

/// Why the files of a configMap, secret, downwardAPI or projected volume could not be made.
/// The not-found texts are the kubelet's.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("configmap {name:?} not found")]
    ConfigMapNotFound { name: String },
    #[error("secret {name:?} not found")]
    SecretNotFound { name: String },
    #[error("secret volume has no secretName")]
    MissingSecretName,
    #[error("{projection} projections are not supported by wasmkube yet")]
    UnsupportedProjection { projection: &'static str },
    #[error(transparent)]
    Keys(#[from] KeyProjectionError),
    #[error(transparent)]
    DownwardApi(#[from] DownwardApiError),
    #[error(transparent)]
    ServiceAccountToken(#[from] ServiceAccountTokenError),
    #[error(transparent)]
    File(#[from] AtomicWriteError),
    #[error(transparent)]
    Source(Box<VolumeError>),
}

/// A volume written by the atomic writer, with the source it is computed from.
#[derive(Debug, Clone)]
pub(crate) enum ProjectionVolume {
    ConfigMap(ConfigMapVolumeSource),
    Secret(SecretVolumeSource),
    DownwardApi(DownwardAPIVolumeSource),
    Projected(ProjectedVolumeSource),
}

/// What computing a payload needs besides the volume's own source.
pub(crate) struct ProjectionContext<'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) namespace: &'a str,
    pub(crate) node_allocatable: &'a BTreeMap<String, ApiQuantity>,
    pub(crate) sources: &'a dyn VolumeSourceReader,
}

impl ProjectionVolume {
    /// The files the volume should hold now.
    pub(crate) async fn payload(
        &self,
        context: &ProjectionContext<'_>,
    ) -> Result<Payload, ProjectionError> {
        match self {
            ProjectionVolume::ConfigMap(source) => {
                let default_mode = source.default_mode.unwrap_or(DEFAULT_FILE_MODE);
                let optional = source.optional.unwrap_or(false);
                let config_map = read_config_map(context, &source.name, optional).await?;
                Ok(config_map_payload(
                    config_map.as_ref(),
                    source.items.as_deref(),
                    default_mode,
                    optional,
                )?)
            }
            ProjectionVolume::Secret(source) => {
                let name = source
                    .secret_name
                    .as_deref()
                    .ok_or(ProjectionError::MissingSecretName)?;
                let default_mode = source.default_mode.unwrap_or(DEFAULT_FILE_MODE);
                let optional = source.optional.unwrap_or(false);
                let secret = read_secret(context, name, optional).await?;
                Ok(secret_payload(
                    secret.as_ref(),
                    source.items.as_deref(),
                    default_mode,
                    optional,
                )?)
            }
            ProjectionVolume::DownwardApi(source) => {
                let default_mode = source.default_mode.unwrap_or(DEFAULT_FILE_MODE);
                let items = source.items.as_deref().unwrap_or_default();
                Ok(downward_api_payload(
                    items,
                    default_mode,
                    context.pod,
                    context.node_allocatable,
                )?)
            }
            ProjectionVolume::Projected(source) => projected_payload(source, context).await,
        }
    }
}

/// The kubelet's projected `collectData`: each source's files with the volume's `defaultMode`,
/// a later source's file replacing an earlier one at the same path. The sources are read
/// at once (the `kube-api-access` volume's token request and its `kube-root-ca.crt`
/// read overlap), and the first failing source in order is the error, as when they are
/// read one by one.
async fn projected_payload(
    source: &ProjectedVolumeSource,
    context: &ProjectionContext<'_>,
) -> Result<Payload, ProjectionError> {
    let default_mode = source.default_mode.unwrap_or(DEFAULT_FILE_MODE);
    let payloads = futures::future::join_all(
        source
            .sources
            .iter()
            .flatten()
            .map(|projection| projection_payload(projection, default_mode, context)),
    )
    .await;
    let mut payload = Payload::new();
    for source_payload in payloads {
        payload.extend(source_payload?);
    }
    Ok(payload)
}

async fn projection_payload(
    projection: &VolumeProjection,
    default_mode: i32,
    context: &ProjectionContext<'_>,
) -> Result<Payload, ProjectionError> {
    if let Some(config_map) = &projection.config_map {
        let optional = config_map.optional.unwrap_or(false);
        let object = read_config_map(context, &config_map.name, optional).await?;
        return Ok(config_map_payload(
            object.as_ref(),
            config_map.items.as_deref(),
            default_mode,
            optional,
        )?);
    }
    if let Some(secret) = &projection.secret {
        let optional = secret.optional.unwrap_or(false);
        let object = read_secret(context, &secret.name, optional).await?;
        return Ok(secret_payload(
            object.as_ref(),
            secret.items.as_deref(),
            default_mode,
            optional,
        )?);
    }
    if let Some(downward_api) = &projection.downward_api {
        let items = downward_api.items.as_deref().unwrap_or_default();
        return Ok(downward_api_payload(
            items,
            default_mode,
            context.pod,
            context.node_allocatable,
        )?);
    }
    if let Some(token) = &projection.service_account_token {
        return service_account_token_payload(token, default_mode, context).await;
    }
    if projection.cluster_trust_bundle.is_some() {
        return Err(ProjectionError::UnsupportedProjection {
            projection: "clusterTrustBundle",
        });
    }
    Ok(Payload::new())
}

/// The token file: a token for the pod's ServiceAccount, bound to the pod, for the
/// projection's audience (the API server's when it names none) and lifetime.
async fn service_account_token_payload(
    projection: &ServiceAccountTokenProjection,
    default_mode: i32,
    context: &ProjectionContext<'_>,
) -> Result<Payload, ProjectionError> {
    let metadata = &context.pod.metadata;
    let request = ServiceAccountTokenRequest {
        namespace: context.namespace.to_owned(),
        service_account: context
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.service_account_name.clone())
            .unwrap_or_default(),
        audience: projection
            .audience
            .clone()
            .filter(|audience| !audience.is_empty()),
        expiration_seconds: projection
            .expiration_seconds
            .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
        pod_name: metadata.name.clone().unwrap_or_default(),
        pod_uid: metadata.uid.clone().unwrap_or_default(),
    };
    if request.service_account.is_empty() {
        return Err(ServiceAccountTokenError::Fetch {
            message: "the pod names no serviceAccountName".to_owned(),
        }
        .into());
    }
    let token = context.sources.service_account_token(&request).await?;
    let file = FileProjection::new(&projection.path, token.into_bytes(), default_mode)?;
    Ok(Payload::from([(projection.path.clone(), file)]))
}

/// The configMap, or `None` if it is missing and the volume is optional.
async fn read_config_map(
    context: &ProjectionContext<'_>,
    name: &str,
    optional: bool,
) -> Result<Option<ConfigMap>, ProjectionError> {
    let found = context
        .sources
        .config_map(context.namespace, name)
        .await
        .map_err(|error| ProjectionError::Source(Box::new(error)))?;
    match found {
        None if !optional => Err(ProjectionError::ConfigMapNotFound {
            name: name.to_string(),
        }),
        found => Ok(found),
    }
}

/// The secret, or `None` if it is missing and the volume is optional.
async fn read_secret(
    context: &ProjectionContext<'_>,
    name: &str,
    optional: bool,
) -> Result<Option<Secret>, ProjectionError> {
    let found = context
        .sources
        .secret(context.namespace, name)
        .await
        .map_err(|error| ProjectionError::Source(Box::new(error)))?;
    match found {
        None if !optional => Err(ProjectionError::SecretNotFound {
            name: name.to_string(),
        }),
        found => Ok(found),
    }
}
