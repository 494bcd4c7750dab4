//! The ServiceAccount controller and the root CA publisher (kube-controller-manager's
//! `serviceaccount` and `root-ca-cert-publisher` controllers): every active namespace has
//! a `default` ServiceAccount, made again if deleted, and a `kube-root-ca.crt` ConfigMap
//! whose `ca.crt` is the cluster CA, put back if deleted or changed. Pods find the CA
//! there through their API access volume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use wasmkube_admission::service_account::ROOT_CA_CONFIG_MAP;

/// The account every namespace has.
const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ConfigMap's key holding the CA bundle.
const CA_KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

#[derive(Debug, thiserror::Error)]
pub enum ServiceAccountControllerError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

pub struct Context {
    pub client: Client,
    /// The cluster CA certificate in PEM (kube-controller-manager's `--root-ca-file`).
    pub root_ca_pem: String,
}

/// Whether a create failed only because the object is already there or its namespace
/// is gone or going away, which the next reconcile of the namespace sorts out.
fn is_harmless_create_error(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if matches!(status.code, 403 | 404 | 409))
}

async fn ensure_default_service_account(
    client: &Client,
    namespace: &str,
) -> Result<(), kube::Error> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if api.get_opt(DEFAULT_SERVICE_ACCOUNT).await?.is_some() {
        return Ok(());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_SERVICE_ACCOUNT.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &account).await {
        Err(error) if !is_harmless_create_error(&error) => Err(error),
        _ => Ok(()),
    }
}

async fn publish_root_ca(
    client: &Client,
    namespace: &str,
    root_ca_pem: &str,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let data = BTreeMap::from([(CA_KEY.to_owned(), root_ca_pem.to_owned())]);
    let Some(mut config_map) = api.get_opt(ROOT_CA_CONFIG_MAP).await? else {
        let config_map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(ROOT_CA_CONFIG_MAP.to_owned()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_owned(),
                    DESCRIPTION.to_owned(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        return match api.create(&PostParams::default(), &config_map).await {
            Err(error) if !is_harmless_create_error(&error) => Err(error),
            _ => Ok(()),
        };
    };
    let described = config_map
        .annotations()
        .get(DESCRIPTION_ANNOTATION)
        .is_some_and(|description| !description.is_empty());
    if config_map.data.as_ref() == Some(&data) && described {
        return Ok(());
    }
    // The update carries the resourceVersion just read: a concurrent change makes it a
    // 409, and the namespace is reconciled again.
    config_map.data = Some(data);
    config_map
        .annotations_mut()
        .insert(DESCRIPTION_ANNOTATION.to_owned(), DESCRIPTION.to_owned());
    api.replace(ROOT_CA_CONFIG_MAP, &PostParams::default(), &config_map)
        .await?;
    Ok(())
}

pub async fn reconcile(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> Result<Action, ServiceAccountControllerError> {
    let active = namespace.metadata.deletion_timestamp.is_none()
        && namespace
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            .is_none_or(|phase| phase == "Active");
    if !active {
        return Ok(Action::await_change());
    }
    let name = namespace.name_any();
    ensure_default_service_account(&context.client, &name).await?;
    publish_root_ca(&context.client, &name, &context.root_ca_pem).await?;
    Ok(Action::await_change())
}

fn error_policy(
    _namespace: Arc<Namespace>,
    error: &ServiceAccountControllerError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(%error, "service account reconcile failed");
    Action::requeue(Duration::from_secs(1))
}

/// The namespace of a watched object, to reconcile.
fn its_namespace<K: kube::Resource>(object: K) -> Option<ObjectRef<Namespace>> {
    object
        .namespace()
        .map(|namespace| ObjectRef::new(&namespace))
}

/// Runs the controller; `root_ca_pem` is the cluster CA certificate to publish.
pub async fn run(client: Client, root_ca_pem: String) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let accounts: Api<ServiceAccount> = Api::all(client.clone());
    let config_maps: Api<ConfigMap> = Api::all(client.clone());
    Controller::new(namespaces, watcher::Config::default())
        .watches(
            accounts,
            watcher::Config::default().fields(&format!("metadata.name={DEFAULT_SERVICE_ACCOUNT}")),
            its_namespace,
        )
        .watches(
            config_maps,
            watcher::Config::default().fields(&format!("metadata.name={ROOT_CA_CONFIG_MAP}")),
            its_namespace,
        )
        .run(
            reconcile,
            error_policy,
            Arc::new(Context {
                client,
                root_ca_pem,
            }),
        )
        .for_each(|_| futures::future::ready(()))
        .await;
}
