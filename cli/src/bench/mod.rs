//! `wasmkube bench`: the control plane's benchmark. It starts the control plane in this
//! process on a fresh store and measures, over real HTTPS as the admin, durable creates
//! per second at several client counts and how fast watch events reach many watchers.
//! `wasmkube bench node` measures the node agent instead (see `node`), `wasmkube bench
//! scheduler` the scheduler (see `scheduler`), and `wasmkube bench network` the pod
//! network (see `network`).

mod connection;
mod creates;
mod network;
mod node;
mod samples;
mod scheduler;
mod tables;
mod watchers;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{AuditOptions, ControlPlane, ControlPlaneOptions, start};

use connection::ApiServerEndpoint;
use creates::{CreateLoad, Stop};
use watchers::{WatchLoad, WatchTransport};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: Option<BenchTarget>,
    /// The create benchmark's client counts; each client has its own keep-alive connection
    /// (0 skips the create benchmark).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// How long each client count runs, like 10s or 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Each client stops after this many creates instead of after --duration.
    #[arg(long)]
    creates_per_client: Option<usize>,
    /// The watch benchmark's watcher counts; each watch has its own connection (0 skips
    /// the watch benchmark).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    watchers: Vec<usize>,
    /// How the watchers connect: 0 puts each watch on its own HTTP/1.1 connection; N
    /// spreads them over N HTTP/2 connections (ALPN "h2"), as client-go multiplexes the
    /// watches of one process over one connection.
    #[arg(long, default_value_t = 0)]
    watch_connections: usize,
    /// How many objects the watch benchmark creates.
    #[arg(long, default_value_t = 200)]
    watch_events: usize,
    /// How many objects per second the watch benchmark creates.
    #[arg(long, default_value = "40")]
    watch_rate: NonZeroU32,
    /// Where the store is kept; it must be new, since every run creates the same names
    /// (default: a temporary directory, removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Runs the API server without its audit log (on by default, as in `wasmkube
    /// server`), to measure what the log costs.
    #[arg(long)]
    no_audit_log: bool,
}

#[derive(clap::Subcommand)]
enum BenchTarget {
    /// Benchmark the node agent: pod start-up latency, fuel metering's cost, CPU-limit
    /// accuracy, and idle pods per node with their memory.
    Node(node::NodeBenchArgs),
    /// Benchmark the scheduler: hollow nodes registered through the API, then pods created
    /// without a node, timed until every one is seen bound.
    Scheduler(scheduler::SchedulerBenchArgs),
    /// Benchmark the pod network: an echo server's requests per second and latency
    /// through a Service, to its pod IP and natively, and loopback throughput in a pod.
    Network(network::NetworkBenchArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|error| format!("not a duration like 10s or 1m: {error}"))?;
    Duration::try_from(signed).map_err(|_| "a duration cannot be negative".to_owned())
}

/// Starts a control plane that listens on a free loopback port, with the audit log that
/// `wasmkube server` keeps by default.
async fn start_control_plane(data_dir: PathBuf) -> anyhow::Result<ControlPlane> {
    start_control_plane_with(data_dir, AuditOptions::default()).await
}

async fn start_control_plane_with(
    data_dir: PathBuf,
    audit: AuditOptions,
) -> anyhow::Result<ControlPlane> {
    let options = ControlPlaneOptions {
        data_dir,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        api: ApiOptions::default(),
        compaction_interval: Duration::from_secs(300),
        tls_subject_alternative_names: Vec::new(),
        audit,
    };
    Ok(start(options).await?)
}

/// Every watcher and client holds two descriptors in this process, its socket and the
/// server's; the rest covers the store, the listener and the runtime.
fn descriptors_needed(arguments: &BenchArgs) -> u64 {
    let connections = arguments
        .watchers
        .iter()
        .chain(&arguments.clients)
        .copied()
        .max()
        .unwrap_or(0)
        + 1;
    u64::try_from(connections * 2 + 64).unwrap_or(u64::MAX)
}

/// A single process with a thousand watchers needs more descriptors than the usual soft
/// limit of 1024, so the soft limit is raised as far as the hard limit allows.
fn raise_descriptor_limit(needed: u64) -> anyhow::Result<()> {
    let limit =
        rlimit::increase_nofile_limit(u64::MAX).context("cannot raise the limit on open files")?;
    anyhow::ensure!(
        limit >= needed,
        "the benchmark needs {needed} open files but the hard limit is {limit}: raise it (ulimit -Hn) or pass fewer --watchers"
    );
    Ok(())
}

pub async fn run(arguments: BenchArgs) -> anyhow::Result<i32> {
    match arguments.target {
        Some(BenchTarget::Node(node_arguments)) => return node::run(node_arguments).await,
        Some(BenchTarget::Scheduler(scheduler_arguments)) => {
            return scheduler::run(scheduler_arguments).await;
        }
        Some(BenchTarget::Network(network_arguments)) => {
            return network::run(network_arguments).await;
        }
        None => {}
    }
    raise_descriptor_limit(descriptors_needed(&arguments))?;
    let temporary = tempfile::tempdir()?;
    let data_dir = arguments
        .data_dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    let audit = AuditOptions {
        enabled: !arguments.no_audit_log,
        ..AuditOptions::default()
    };
    let control_plane = start_control_plane_with(data_dir, audit).await?;
    let endpoint = ApiServerEndpoint::admin_of(&control_plane)?;
    let mut out = std::io::stdout();
    let clients: Vec<usize> = arguments
        .clients
        .iter()
        .copied()
        .filter(|count| *count > 0)
        .collect();
    if !clients.is_empty() {
        tables::create_header(&mut out)?;
    }
    for clients in clients {
        let load = CreateLoad {
            clients,
            stop: arguments
                .creates_per_client
                .map_or(Stop::After(arguments.duration), Stop::Count),
            name_prefix: format!("bench-{clients}-"),
        };
        let report = creates::run(&endpoint, load).await?;
        tables::create_row(&mut out, &report)?;
    }
    let watchers: Vec<usize> = arguments
        .watchers
        .iter()
        .copied()
        .filter(|count| *count > 0)
        .collect();
    let transport = NonZeroUsize::new(arguments.watch_connections)
        .map_or(WatchTransport::Http1PerWatcher, WatchTransport::Http2);
    if !watchers.is_empty() {
        tables::watch_header(&mut out, arguments.watch_events, arguments.watch_rate)?;
    }
    for watchers in watchers {
        let load = WatchLoad {
            watchers,
            transport,
            events: arguments.watch_events,
            rate: arguments.watch_rate,
            name_prefix: format!("bench-watch-{watchers}-"),
            resource_version: control_plane.storage.current_revision(),
        };
        let report = watchers::run(&endpoint, load).await?;
        tables::watch_row(&mut out, &report)?;
    }
    Ok(0)
}
