//! Starting the control plane: the store, the image store, the API server on its
//! listener, the in-process client that co-located components use, the built-in
//! namespaces, compaction and the controllers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, PostParams};
use tower::ServiceExt;

use crate::api::{ApiOptions, ApiState, router};
use crate::images::{ImageStore, ImageStoreError};
use crate::listener::ApiListener;
use crate::store::{RedbStore, SharedStorage, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store in {path}: {source}")]
    Store { path: PathBuf, source: StoreError },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the image store: {0}")]
    Images(#[from] ImageStoreError),
    #[error("cannot set up the cluster's built-in objects: {0}")]
    Bootstrap(#[from] kube::Error),
}

#[derive(Clone, Debug)]
pub struct ControlPlaneOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub api: ApiOptions,
    /// History older than one interval is compacted every interval, as the Kubernetes API
    /// server does with etcd.
    pub compaction_interval: Duration,
}

pub struct ControlPlane {
    /// The address the API server listens on (the real port when 0 was asked for).
    pub address: SocketAddr,
    /// A client that reaches the API server in-process, with no socket.
    pub client: kube::Client,
    pub storage: SharedStorage,
}

/// The namespaces every Kubernetes cluster has.
const BUILT_IN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub fn in_process_client(state: Arc<ApiState>) -> kube::Client {
    let service = router(state).map_request(|request: http::Request<kube::client::Body>| {
        request.map(axum::body::Body::new)
    });
    kube::Client::new(service, "default")
}

async fn bootstrap(client: &kube::Client) -> Result<(), kube::Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in BUILT_IN_NAMESPACES {
        if namespaces.get_opt(name).await?.is_none() {
            let namespace = Namespace {
                metadata: ObjectMeta {
                    name: Some((*name).to_owned()),
                    ..Default::default()
                },
                ..Default::default()
            };
            namespaces
                .create(&PostParams::default(), &namespace)
                .await?;
        }
    }
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    if services.get_opt("kubernetes").await?.is_none() {
        let service = Service {
            metadata: ObjectMeta {
                name: Some("kubernetes".to_owned()),
                labels: Some(
                    [
                        ("component".to_owned(), "apiserver".to_owned()),
                        ("provider".to_owned(), "kubernetes".to_owned()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(crate::api::KUBERNETES_SERVICE_IP.to_string()),
                ports: Some(vec![ServicePort {
                    name: Some("https".to_owned()),
                    port: 443,
                    target_port: Some(
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(6443),
                    ),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        services.create(&PostParams::default(), &service).await?;
    }
    // Kubernetes' scheduling/bootstrap-system-priority-classes post-start hook.
    let priority_classes: Api<PriorityClass> = Api::all(client.clone());
    for class in wasmkube_admission::priority::system_priority_classes() {
        if priority_classes.get_opt(&class.name_any()).await?.is_none() {
            priority_classes
                .create(&PostParams::default(), &class)
                .await?;
        }
    }
    Ok(())
}

async fn compact_periodically(storage: SharedStorage, interval: Duration) {
    let mut previous_revision = storage.current_revision();
    loop {
        tokio::time::sleep(interval).await;
        if let Err(error) = storage.compact(previous_revision).await {
            tracing::warn!(%error, "compaction failed");
        }
        previous_revision = storage.current_revision();
    }
}

pub async fn start(options: ControlPlaneOptions) -> Result<ControlPlane, ControlPlaneError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| {
        ControlPlaneError::DataDirectory {
            path: options.data_dir.clone(),
            source,
        }
    })?;
    let store_path = options.data_dir.join("store.redb");
    let storage: SharedStorage =
        Arc::new(
            RedbStore::open(&store_path).map_err(|source| ControlPlaneError::Store {
                path: store_path,
                source,
            })?,
        );
    let images = ImageStore::open(
        &options.data_dir.join("images"),
        options.api.max_image_blob_bytes,
    )
    .await?;
    let state = ApiState::new(Arc::clone(&storage), options.api.clone(), images);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ControlPlaneError::Listen {
            address: options.listen,
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| ControlPlaneError::Listen {
            address: options.listen,
            source,
        })?;
    let app = router(Arc::clone(&state));
    let listener = ApiListener::new(listener);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    tokio::spawn(crate::metrics_server::scrape_periodically(
        Arc::clone(&state),
        options.api.resource_metrics_resolution,
    ));
    let client = in_process_client(state);
    bootstrap(&client).await?;
    crate::pod_network::bootstrap(&client, options.api.allow_egress).await?;
    tokio::spawn(compact_periodically(
        Arc::clone(&storage),
        options.compaction_interval,
    ));
    tokio::spawn(crate::controllers::namespace::run(client.clone()));
    tokio::spawn(crate::controllers::resource_quota::run(client.clone()));
    tokio::spawn(crate::scheduler::run(client.clone()));
    tracing::info!(%address, "API server listening");
    Ok(ControlPlane {
        address,
        client,
        storage,
    })
}
