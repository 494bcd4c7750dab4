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

use crate::api::{ApiOptions, ApiSecurity, ApiState, router};
use crate::auth::{Authenticator, AuthorizerChain, UserInfo};
use crate::images::{ImageStore, ImageStoreError};
use crate::kubeconfig::{KubeconfigCredential, kubeconfig_yaml};
use crate::listener::{ApiListener, ConnectionInfo};
use crate::security::{SecurityError, ServerSecurity};
use crate::store::{RedbStore, SharedStorage, StoreError};
use wasmkube_pki::ClusterAuthority;
use wasmkube_pki::tls::TlsIdentity;

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
    #[error("cannot set up the cluster's certificates and tokens: {0}")]
    Security(#[from] SecurityError),
    #[error("cannot keep the nodes' join token: {0}")]
    JoinToken(String),
    #[error("cannot start the authorizers: {0}")]
    Authorization(String),
    #[error("cannot open the audit log: {0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("cannot set up the ServiceAccount token signing key: {0}")]
    ServiceAccountKey(#[from] crate::auth::service_account_token::SigningKeyError),
}

#[derive(Clone, Debug)]
pub struct ControlPlaneOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub api: ApiOptions,
    /// History older than one interval is compacted every interval, as the Kubernetes API
    /// server does with etcd.
    pub compaction_interval: Duration,
    /// More names and addresses for the API server's certificate (k3s's `--tls-san`),
    /// for clients that reach it by a name or address it cannot know itself.
    pub tls_subject_alternative_names: Vec<String>,
    pub audit: AuditOptions,
}

/// The audit log's settings, as kube-apiserver's `--audit-log-*` flags.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// Where the log is written (`--audit-log-path`); None: DIR/audit.log.
    pub path: Option<PathBuf>,
    /// The size at which the log is rotated (`--audit-log-maxsize`, in bytes here).
    pub max_size_bytes: u64,
    /// How many rotated files are kept (`--audit-log-maxbackup`; 0 keeps all).
    pub max_backups: usize,
    /// Whether mutating requests are audited at all.
    pub enabled: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            path: None,
            max_size_bytes: crate::audit::DEFAULT_MAX_SIZE_BYTES,
            max_backups: 10,
            enabled: true,
        }
    }
}

pub struct ControlPlane {
    /// The address the API server listens on (the real port when 0 was asked for).
    pub address: SocketAddr,
    /// A client that reaches the API server in-process, with no socket, as the API
    /// server itself (all permissions).
    pub client: kube::Client,
    pub storage: SharedStorage,
    /// The cluster CA, which signed the API server's certificate.
    pub authority: Arc<ClusterAuthority>,
    /// The admin's bearer token (DIR/tokens.csv).
    pub admin_token: String,
    state: Arc<ApiState>,
    security: ServerSecurity,
}

impl ControlPlane {
    /// The URL clients reach the API server at.
    pub fn url(&self) -> String {
        let mut address = self.address;
        if address.ip().is_unspecified() {
            address.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        }
        format!("https://{address}")
    }

    /// A client that reaches the API server in-process as `user`, who is then
    /// authorized like any other: what `up` gives its node agent.
    pub fn client_as(&self, user: UserInfo) -> kube::Client {
        in_process_client(Arc::clone(&self.state), user)
    }

    /// A new client certificate for the admin (group system:masters).
    pub fn admin_identity(&self) -> Result<TlsIdentity, wasmkube_pki::PkiError> {
        self.security.admin_identity()
    }

    /// The admin's kubeconfig (a new client certificate, the CA, the server's URL).
    pub fn admin_kubeconfig(&self) -> Result<String, wasmkube_pki::PkiError> {
        let identity = self.admin_identity()?;
        Ok(kubeconfig_yaml(
            &self.url(),
            self.authority.certificate_pem(),
            "wasmkube",
            crate::auth::token_file::ADMIN_USER,
            KubeconfigCredential::ClientCertificate(&identity),
            "default",
        ))
    }
}

/// The namespaces every Kubernetes cluster has.
const BUILT_IN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// A client that reaches the API server in-process as `user`. The user is set on each
/// request before it enters the router, which nothing from the network can do.
pub fn in_process_client(state: Arc<ApiState>, user: UserInfo) -> kube::Client {
    let service = router(state).map_request(move |request: http::Request<kube::client::Body>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(user.clone());
        request
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
    // Nodes dial the advertise address, so the certificate names it too.
    let mut certificate_names = options.tls_subject_alternative_names.clone();
    certificate_names.extend(
        options
            .api
            .advertise_address
            .map(|address| address.to_string()),
    );
    let security = ServerSecurity::prepare(&options.data_dir, options.listen, &certificate_names)?;
    let node_client_tls = wasmkube_pki::tls::client_config(
        security.authority.certificate_pem(),
        Some(&security.node_client_identity),
        &[],
    )
    .map_err(SecurityError::from)?;
    let service_account_tokens = Arc::new(
        crate::auth::service_account_token::ServiceAccountTokenIssuer::load_or_create(
            &options.data_dir.join("tls"),
        )?,
    );
    let authenticator = Authenticator::default()
        .with_token_authenticator(Arc::new(security.static_tokens.clone()))
        .with_token_authenticator(Arc::new(crate::auth::authenticate::BootstrapTokens::new(
            Arc::clone(&storage),
        )))
        .with_token_authenticator(Arc::new(
            crate::auth::service_account_token::ServiceAccountTokenAuthenticator::new(
                Arc::clone(&service_account_tokens),
                Arc::clone(&storage),
            ),
        ));
    let node_authorizer = crate::auth::node_authorizer::NodeAuthorizer::start(Arc::clone(&storage))
        .map_err(|error| ControlPlaneError::Authorization(error.to_string()))?;
    let rbac = Arc::new(
        crate::auth::rbac::RbacAuthorizer::start(&storage)
            .map_err(|error| ControlPlaneError::Authorization(error.to_string()))?,
    );
    let authorizer = AuthorizerChain::default()
        .with(Arc::new(node_authorizer))
        .with(Arc::clone(&rbac) as Arc<dyn crate::auth::Authorizer>);
    let audit_log = if options.audit.enabled {
        let path = options
            .audit
            .path
            .clone()
            .unwrap_or_else(|| options.data_dir.join("audit.log"));
        Some(crate::audit::AuditLog::open(
            &path,
            options.audit.max_size_bytes,
            options.audit.max_backups,
        )?)
    } else {
        None
    };
    let state = ApiState::new(
        Arc::clone(&storage),
        options.api.clone(),
        images,
        ApiSecurity {
            authenticator,
            authorizer,
            rbac,
            node_client_tls,
            audit_log,
            service_account_tokens,
        },
    );
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
    let listener =
        ApiListener::new(listener, Arc::clone(&security.serving_tls)).map_err(|source| {
            ControlPlaneError::Listen {
                address: options.listen,
                source,
            }
        })?;
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<ConnectionInfo>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    tokio::spawn(crate::metrics_server::scrape_periodically(
        Arc::clone(&state),
        options.api.resource_metrics_resolution,
    ));
    let client = in_process_client(Arc::clone(&state), UserInfo::api_server());
    bootstrap(&client).await?;
    let advertised = SocketAddr::new(
        crate::kubernetes_service::advertise_address(address.ip(), options.api.advertise_address),
        address.port(),
    );
    crate::kubernetes_service::reconcile(&client, advertised).await?;
    tokio::spawn(crate::kubernetes_service::run(client.clone(), advertised));
    crate::auth::rbac::ensure_bootstrap_policy(&client).await?;
    crate::pod_network::bootstrap(&client, options.api.allow_egress).await?;
    crate::certificates::ensure_join_token(&client, &security.authority, &options.data_dir)
        .await
        .map_err(|error| ControlPlaneError::JoinToken(error.to_string()))?;
    tokio::spawn(compact_periodically(
        Arc::clone(&storage),
        options.compaction_interval,
    ));
    tokio::spawn(crate::controllers::namespace::run(client.clone()));
    tokio::spawn(crate::controllers::resource_quota::run(client.clone()));
    tokio::spawn(crate::controllers::service_account::run(
        client.clone(),
        security.authority.certificate_pem().to_owned(),
    ));
    tokio::spawn(crate::scheduler::run(client.clone()));
    tokio::spawn(crate::certificates::approver::run(client.clone()));
    tokio::spawn(crate::certificates::signer::run(
        client.clone(),
        Arc::clone(&security.authority),
    ));
    tracing::info!(%address, "API server listening");
    Ok(ControlPlane {
        address,
        client,
        storage,
        authority: Arc::clone(&security.authority),
        admin_token: security.admin_token.clone(),
        state,
        security,
    })
}
