//! The cluster verbs: `up` (control plane and node agent in one process), `server` and
//! `node`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use anyhow::Context;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlaneOptions, start};

use crate::kubeconfig::write_admin_kubeconfig;

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the cluster keeps its store and kubeconfig (default: the platform's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The API server's address.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// How often history older than one interval is compacted, in seconds.
    #[arg(long, default_value_t = 300)]
    compaction_interval_seconds: u64,
}

#[derive(clap::Args)]
pub struct NodeArgs {
    /// The API server to join, like https://HOST:6443.
    #[arg(long)]
    server: String,
    /// A file holding the cluster's join token.
    #[arg(long)]
    token_file: PathBuf,
    /// The node's name (default: the host name).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("dev", "wasmkube", "wasmkube")
        .map(|directories| directories.data_dir().to_path_buf())
        .context("no home directory to keep the cluster's data in: pass --data-dir")
}

async fn run_control_plane(arguments: UpArgs) -> anyhow::Result<i32> {
    let data_dir = match arguments.data_dir {
        Some(directory) => directory,
        None => default_data_dir()?,
    };
    let options = ControlPlaneOptions {
        data_dir: data_dir.clone(),
        listen: arguments.listen,
        api: ApiOptions::default(),
        compaction_interval: Duration::from_secs(arguments.compaction_interval_seconds.max(1)),
    };
    let control_plane = start(options).await?;
    let kubeconfig = data_dir.join("kubeconfig");
    write_admin_kubeconfig(&kubeconfig, control_plane.address)?;
    // Whoever started us may have stopped reading stdout; the cluster runs on regardless.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "wasmkube is up: API server at http://{}",
        control_plane.address
    );
    let _ = writeln!(
        stdout,
        "try: kubectl --kubeconfig {} get namespaces",
        kubeconfig.display()
    );
    let _ = stdout.flush();
    tokio::signal::ctrl_c().await?;
    Ok(0)
}

pub async fn up(arguments: UpArgs) -> anyhow::Result<i32> {
    run_control_plane(arguments).await
}

pub async fn server(arguments: UpArgs) -> anyhow::Result<i32> {
    run_control_plane(arguments).await
}

pub fn node(arguments: NodeArgs) -> anyhow::Result<i32> {
    anyhow::bail!(
        "joining {} as a node needs the cluster's TLS and join tokens, which are not built yet; run `wasmkube up` for a one-machine cluster (token file {}, name {:?}, data dir {:?})",
        arguments.server,
        arguments.token_file.display(),
        arguments.name,
        arguments.data_dir
    )
}
