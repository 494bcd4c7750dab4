//! The cluster verbs: `up` (control plane and node agent in one process), `server` and
//! `node`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use anyhow::Context;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{AuditOptions, ControlPlaneOptions, start};
use wasmkube_controllers::ControllerManager;
use wasmkube_runtime::limits::NodeDefaultLimits;
use wasmkube_runtime::limits::node_memory::parse_node_memory;
use wasmkube_runtime::{BackoffSettings, NodeAgent, NodeAgentConfig, NodeTls};

use crate::controller_flags::ControllerManagerArgs;
use crate::kubeconfig::write_admin_kubeconfig;

#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    node: NodeAgentArgs,
    /// Once the cluster is up, push the example images into its image store, deploy the
    /// example shop (namespace `shop`) and print the address to open.
    #[arg(long)]
    demo: bool,
}

#[derive(clap::Args)]
pub struct ServerArgs {
    /// Where the cluster keeps its store and kubeconfig (default: the platform's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The API server's address.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// How often history older than one interval is compacted, in seconds.
    #[arg(long, default_value_t = 300)]
    compaction_interval_seconds: u64,
    /// The tolerationSeconds of the `node.kubernetes.io/not-ready:NoExecute` toleration
    /// that pods without one get: how long they stay on a node that turned NotReady.
    #[arg(long, default_value_t = 300)]
    default_not_ready_toleration_seconds: i64,
    /// The same for `node.kubernetes.io/unreachable:NoExecute`: how long pods stay on a
    /// node that stopped renewing its Lease.
    #[arg(long, default_value_t = 300)]
    default_unreachable_toleration_seconds: i64,
    /// How often the resource metrics (metrics.k8s.io, `kubectl top`) are scraped from
    /// the nodes, as metrics-server's flag.
    #[arg(long, default_value = "5s", value_parser = crate::controller_flags::parse_duration)]
    metric_resolution: Duration,
    /// Lets every pod open connections outside the cluster. Without it, only pods of
    /// namespaces labelled `wasmkube.dev/egress=allowed` may.
    #[arg(long)]
    allow_egress: bool,
    /// The longest lifetime of a ServiceAccount token from the TokenRequest API; longer
    /// requests are shortened, with a warning (default: no limit, as kube-apiserver's).
    #[arg(long, value_parser = crate::controller_flags::parse_duration)]
    service_account_max_token_expiration: Option<Duration>,
    /// Another name or address for the API server's certificate, for clients that reach
    /// it by one the server cannot know (repeatable), as k3s's flag.
    #[arg(long = "tls-san")]
    tls_san: Vec<String>,
    /// The address nodes and pods reach the API server at, which the `kubernetes`
    /// Service's endpoints name (default: the listen address, or when listening on every
    /// address the host's, from the default route's interface), as kube-apiserver's flag.
    #[arg(long)]
    advertise_address: Option<std::net::IpAddr>,
    /// Where the audit log of mutating requests is written (default: DIR/audit.log);
    /// "none" turns auditing off.
    #[arg(long)]
    audit_log_path: Option<PathBuf>,
    /// The size in megabytes at which the audit log is rotated.
    #[arg(long, default_value_t = 100)]
    audit_log_maxsize: u64,
    /// How many rotated audit logs are kept (0 keeps them all).
    #[arg(long, default_value_t = 10)]
    audit_log_maxbackup: usize,
    #[command(flatten)]
    controllers: ControllerManagerArgs,
}

#[derive(clap::Args)]
pub struct NodeArgs {
    /// Where the node keeps its credentials, images, logs and volumes (default: the
    /// platform's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The API server's URL, `https://HOST:PORT`.
    #[arg(long)]
    server: String,
    /// The file holding the join token (the server's DIR/node-token).
    #[arg(long)]
    token_file: PathBuf,
    #[command(flatten)]
    node: NodeAgentArgs,
}

/// The data directory, made absolute: the compilation cache and the kubeconfig's paths
/// must not depend on the directory the process was started in.
fn data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let directory = match flag {
        Some(directory) => directory,
        None => default_data_dir()?,
    };
    std::path::absolute(&directory).with_context(|| {
        format!(
            "cannot make the data directory {} absolute",
            directory.display()
        )
    })
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("dev", "wasmkube", "wasmkube")
        .map(|directories| directories.data_dir().to_path_buf())
        .context("no home directory to keep the cluster's data in: pass --data-dir")
}

/// The node agent's settings, for `up` (and later `node`).
#[derive(clap::Args)]
pub struct NodeAgentArgs {
    /// The node's name (default: the host's name).
    #[arg(long, alias = "name")]
    node_name: Option<String>,
    /// Where the node endpoint (the kubelet's port: logs) listens; port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    node_endpoint: SocketAddr,
    /// Where the pod network's tunnel (pod-to-pod traffic from other nodes) listens
    /// (default: the node endpoint's address, any free port).
    #[arg(long)]
    pod_network_tunnel: Option<SocketAddr>,
    /// How many pods the node runs at most (its `pods` capacity).
    #[arg(long, default_value_t = 1000)]
    max_pods: u32,
    /// The first delay before restarting a crashed container again, in seconds (the
    /// kubelet's is 10).
    #[arg(long, default_value_t = 10.0)]
    restart_backoff_initial_seconds: f64,
    /// The longest delay between restarts, in seconds (the kubelet's is 300).
    #[arg(long, default_value_t = 300.0)]
    restart_backoff_max_seconds: f64,
    /// The CPU limit of a container that has none and no LimitRange default, in millicores.
    #[arg(long, default_value_t = 1000)]
    default_cpu_limit_millicores: u64,
    /// The memory limit of a container that has none and no LimitRange default, in MiB.
    #[arg(long, default_value_t = 512)]
    default_memory_limit_mebibytes: u64,
    /// A host directory pods may mount with hostPath (repeatable; none by default).
    #[arg(long = "allow-host-path")]
    allowed_host_paths: Vec<PathBuf>,
    /// The node's memory, a quantity such as 2Gi: its capacity and allocatable memory,
    /// and what all its containers together may hold; past it the node's OOM killer
    /// ends the container with the highest OOM score (default: the host's memory).
    #[arg(long, value_parser = parse_node_memory)]
    node_memory: Option<u64>,
}

fn default_node_name() -> String {
    let host = sysinfo::System::host_name()
        .unwrap_or_default()
        .to_lowercase();
    let name: String = host
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '.' {
                character
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|character| character == '-' || character == '.');
    if name.is_empty() {
        "wasmkube-node".to_owned()
    } else {
        name.to_owned()
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        anyhow::anyhow!("--{flag} must be a non-negative number of seconds, not {value}")
    })
}

fn node_agent_config(
    arguments: NodeAgentArgs,
    node_name: String,
    data_dir: &std::path::Path,
    tls: NodeTls,
) -> anyhow::Result<NodeAgentConfig> {
    let mut config = NodeAgentConfig::new(node_name, data_dir.join("node"), tls);
    config.endpoint_listen = arguments.node_endpoint;
    config.node_ip = arguments.node_endpoint.ip();
    config.tunnel_listen = arguments
        .pod_network_tunnel
        .unwrap_or_else(|| SocketAddr::new(config.node_ip, 0));
    config.max_pods = arguments.max_pods;
    config.backoff = BackoffSettings {
        initial: seconds(
            arguments.restart_backoff_initial_seconds,
            "restart-backoff-initial-seconds",
        )?,
        maximum: seconds(
            arguments.restart_backoff_max_seconds,
            "restart-backoff-max-seconds",
        )?,
    };
    config.default_limits = NodeDefaultLimits {
        cpu_millicores: arguments.default_cpu_limit_millicores,
        memory_bytes: arguments
            .default_memory_limit_mebibytes
            .saturating_mul(1024 * 1024),
    };
    config.allowed_host_paths = arguments.allowed_host_paths;
    config.node_memory_bytes = arguments.node_memory;
    Ok(config)
}

async fn run_control_plane(
    arguments: ServerArgs,
    node: Option<NodeAgentArgs>,
    demo: bool,
) -> anyhow::Result<i32> {
    let data_dir = data_dir(arguments.data_dir)?;
    let options = ControlPlaneOptions {
        data_dir: data_dir.clone(),
        listen: arguments.listen,
        api: ApiOptions {
            default_not_ready_toleration_seconds: arguments.default_not_ready_toleration_seconds,
            default_unreachable_toleration_seconds: arguments
                .default_unreachable_toleration_seconds,
            resource_metrics_resolution: arguments.metric_resolution,
            allow_egress: arguments.allow_egress,
            advertise_address: arguments.advertise_address,
            service_account_max_token_expiration_seconds: arguments
                .service_account_max_token_expiration
                .map(|maximum| i64::try_from(maximum.as_secs()).unwrap_or(i64::MAX)),
            ..ApiOptions::default()
        },
        compaction_interval: Duration::from_secs(arguments.compaction_interval_seconds.max(1)),
        tls_subject_alternative_names: arguments.tls_san,
        audit: AuditOptions {
            enabled: arguments.audit_log_path.as_deref() != Some(std::path::Path::new("none")),
            path: arguments.audit_log_path,
            max_size_bytes: arguments.audit_log_maxsize.saturating_mul(1024 * 1024),
            max_backups: arguments.audit_log_maxbackup,
        },
    };
    let control_plane = start(options).await?;
    let _controller_manager = ControllerManager::start(
        control_plane.client.clone(),
        arguments.controllers.options(),
    );
    // `up` is `server` and `node` in one process: the agent reaches the API server
    // in-process, with no socket, as its node's identity (so the node authorizer limits
    // it as it does a remote node), and its certificates come straight from the CA.
    let node_address = node.as_ref().map(|node| node.node_endpoint.ip());
    let _node_agent = match node {
        Some(node) => {
            let node_name = node.node_name.clone().unwrap_or_else(default_node_name);
            let (client_identity, serving_identity) = control_plane
                .authority
                .issue_node_identities(&node_name, &[node.node_endpoint.ip()])?;
            let tls = NodeTls {
                authority_pem: control_plane.authority.certificate_pem().to_owned(),
                serving: serving_identity,
                client: client_identity,
            };
            let config = node_agent_config(node, node_name.clone(), &data_dir, tls)?;
            let client =
                control_plane.client_as(wasmkube_control_plane::auth::UserInfo::node(&node_name));
            Some(
                NodeAgent::start(config, client)
                    .await
                    .context("cannot start the node agent")?,
            )
        }
        None => None,
    };
    let kubeconfig = data_dir.join("kubeconfig");
    write_admin_kubeconfig(&kubeconfig, &control_plane)?;
    // Whoever started us may have stopped reading stdout; the cluster runs on regardless.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "wasmkube is up: API server at {}",
        control_plane.url()
    );
    let _ = writeln!(
        stdout,
        "try: kubectl --kubeconfig {} get namespaces",
        kubeconfig.display()
    );
    let _ = stdout.flush();
    if let (true, Some(node_address)) = (demo, node_address) {
        // A demo that cannot be deployed leaves a working cluster to look into.
        if let Err(error) =
            crate::demo::deploy(&control_plane.client, &data_dir, node_address, &mut stdout).await
        {
            eprintln!("the demo could not be deployed: {error:#}");
        }
    }
    tokio::signal::ctrl_c().await?;
    Ok(0)
}

/// A node agent holds a few files per pod (its log, its volumes' directories) and the API
/// server a connection per client, so the soft limit on open files is raised to the hard
/// one, as kubelet and containerd run with a raised LimitNOFILE.
fn raise_open_files_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "cannot raise the limit on open files");
    }
}

pub async fn up(arguments: UpArgs) -> anyhow::Result<i32> {
    raise_open_files_limit();
    run_control_plane(arguments.server, Some(arguments.node), arguments.demo).await
}

pub async fn server(arguments: ServerArgs) -> anyhow::Result<i32> {
    raise_open_files_limit();
    run_control_plane(arguments, None, false).await
}

/// Joins the cluster whose server and join token the flags name, as k3s's agent does:
/// the token pins the cluster CA and lets the node ask for its certificates once; after
/// that the node's client certificate is its credential (kept in DIR/node/credentials).
pub async fn node(arguments: NodeArgs) -> anyhow::Result<i32> {
    raise_open_files_limit();
    let data_dir = data_dir(arguments.data_dir)?;
    let token_text = std::fs::read_to_string(&arguments.token_file).with_context(|| {
        format!(
            "cannot read the join token file {}",
            arguments.token_file.display()
        )
    })?;
    let join_token: wasmkube_pki::JoinToken = token_text.parse()?;
    let node_name = arguments
        .node
        .node_name
        .clone()
        .unwrap_or_else(default_node_name);
    let node_ip = arguments.node.node_endpoint.ip();
    let credentials = crate::node_credentials::obtain(
        &arguments.server,
        &join_token,
        &node_name,
        &[node_ip],
        &data_dir.join("node").join("credentials"),
    )
    .await
    .context("cannot obtain the node's credentials")?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&credentials.kubeconfig_path)?;
    let client_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(client_config)?;
    let tls = NodeTls {
        authority_pem: credentials.authority_pem,
        serving: credentials.serving_identity,
        client: credentials.client_identity,
    };
    let config = node_agent_config(arguments.node, node_name.clone(), &data_dir, tls)?;
    let _node_agent = NodeAgent::start(config, client)
        .await
        .context("cannot start the node agent")?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "wasmkube node {node_name} joined the cluster");
    let _ = stdout.flush();
    tokio::signal::ctrl_c().await?;
    Ok(0)
}
