//! `wasmkube bench node`: the node agent's benchmark. It measures pod start-up latency
//! through a control plane and a node agent in this process, what fuel metering costs a
//! CPU-bound guest, how closely CPU limits hold, and how many idle pods a node runs and
//! at what memory per pod.
//!
//! The guests are the examples' release builds, taken from `--guest-dir`: the benchmark
//! does not build them (a build is no part of what it measures, and the binary may run
//! where no Rust toolchain is), so `cargo build --release --manifest-path
//! examples/Cargo.toml --target wasm32-wasip2` comes first.

pub(super) mod cluster;
mod cpu_limits;
mod deployment;
mod direct;
mod fuel;
mod idle_pods;
mod latency;
mod memory;
mod running_watch;
mod server_process;
mod startup;
mod tables;

#[cfg(test)]
mod tests;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use wasmkube_runtime::guest::{FuelMetering, HostBudget};

use super::parse_duration;
use cluster::{BenchCluster, ControlPlaneHome};
use running_watch::RunningWatch;
use startup::POD_START_TIMEOUT;

/// Where `cargo build --release --manifest-path examples/Cargo.toml --target
/// wasm32-wasip2` puts the guests, in the checkout this binary was built from.
pub(super) const DEFAULT_GUEST_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/target/wasm32-wasip2/release"
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Measurement {
    /// Pod creation to Running seen on a watch.
    Startup,
    /// Fuel metering's cost on a CPU-bound guest.
    Fuel,
    /// The share of a core a CPU-bound guest gets under each limit.
    CpuLimits,
    /// Idle pods on one node and the memory each one takes.
    IdlePods,
    /// A Deployment's replicas, from its create until all of them run.
    Deployment,
}

#[derive(clap::Args)]
pub struct NodeBenchArgs {
    /// The measurements to run, in this order. Idle pods come first by default: memory
    /// that an earlier measurement freed would be reused and flatter the figures per pod.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "idle-pods,startup,fuel,cpu-limits"
    )]
    measure: Vec<Measurement>,
    /// The directory holding testbox.wasm, built for wasm32-wasip2.
    #[arg(long, default_value = DEFAULT_GUEST_DIR)]
    guest_dir: PathBuf,
    /// Pods created at each start-up concurrency.
    #[arg(long, default_value_t = 200)]
    startup_pods: usize,
    /// The start-up benchmark's creator counts; each creator creates a pod and waits
    /// until it is Running before it creates the next.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    startup_concurrency: Vec<NonZeroUsize>,
    /// The start-up node's pod capacity, which sizes its instance pool (default: the pods
    /// the benchmark creates); 10000 starts pods as a node sized for 10,000 does.
    #[arg(long)]
    startup_max_pods: Option<u32>,
    /// The fuel benchmark's shortest loop: `testbox spin-count N` (0 skips it).
    #[arg(long, default_value_t = 1_000_000_000)]
    fuel_spin_iterations: u64,
    /// The fuel benchmark's ordinary compute: `testbox hash-count N` (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    fuel_hash_rounds: u64,
    /// How many times each engine does each piece of the fuel benchmark's work.
    #[arg(long, default_value_t = 5)]
    fuel_rounds: usize,
    /// The address space the fuel benchmark's engines may reserve for memories, in GiB
    /// (default: a node's). Below 33 their memory slots are smaller than 4 GiB and their
    /// compiled code checks bounds, as a node's does when its slots outgrow the budget.
    #[arg(long, default_value_t = HostBudget::DEFAULT_ADDRESS_SPACE_BYTES >> 30)]
    fuel_address_space_gib: u64,
    /// The CPU limits to check, in millicores.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000")]
    cpu_limits: Vec<u64>,
    /// How long the guest spins under each CPU limit, like 3s.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    cpu_limit_duration: Duration,
    /// The idle pods to reach on the node.
    #[arg(long, default_value_t = 1000)]
    idle_pods: usize,
    /// Idle pods created at once.
    #[arg(long, default_value_t = 100)]
    idle_batch: usize,
    /// The node's pod capacity, which sizes its instance pool (default: --idle-pods).
    #[arg(long)]
    idle_max_pods: Option<u32>,
    /// The Deployments' replica counts, each on a fresh cluster whose node holds as many
    /// pods.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    deployment_replicas: Vec<u32>,
    /// How long a Deployment's replicas may take to run, like 120s.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    deployment_timeout: Duration,
}

/// The testbox guest in `guest_dir`, or what to build to get it.
fn testbox(guest_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = guest_dir.join("testbox.wasm");
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist: build the example guests first with `cargo build --release --manifest-path examples/Cargo.toml --target wasm32-wasip2`, or pass --guest-dir",
        path.display()
    );
    std::path::absolute(&path).with_context(|| format!("cannot make {} absolute", path.display()))
}

pub(super) fn file_image(path: &Path) -> String {
    format!("file://{}", path.display())
}

pub async fn run(arguments: NodeBenchArgs) -> anyhow::Result<i32> {
    let testbox = testbox(&arguments.guest_dir)?;
    let mut out = std::io::stdout();
    for measurement in &arguments.measure {
        match measurement {
            Measurement::Startup => measure_startup(&arguments, &testbox, &mut out).await?,
            Measurement::Fuel => measure_fuel(&arguments, &testbox, &mut out).await?,
            Measurement::CpuLimits => measure_cpu_limits(&arguments, &testbox, &mut out).await?,
            Measurement::IdlePods => measure_idle_pods(&arguments, &testbox, &mut out).await?,
            Measurement::Deployment => {
                measure_deployments(&arguments, &testbox, &mut out).await?;
            }
        }
    }
    Ok(0)
}

async fn measure_startup(
    arguments: &NodeBenchArgs,
    testbox: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let levels = arguments.startup_concurrency.len();
    let max_pods = match arguments.startup_max_pods {
        Some(max_pods) => max_pods,
        None => u32::try_from(arguments.startup_pods.saturating_mul(levels) + 1)
            .context("--startup-pods times the concurrency levels is too many pods")?,
    };
    let cluster = BenchCluster::start(max_pods, ControlPlaneHome::ThisProcess).await?;
    let watch = RunningWatch::start(cluster.pods.clone()).await?;
    let image = file_image(testbox);
    // The first pod pulls the image and compiles it; the ones measured find it cached.
    let warm_up = cluster::sleeping_pod("startup-warm-up", &image)?;
    watch
        .create_and_wait(&cluster.pods, &warm_up, POD_START_TIMEOUT)
        .await
        .context("the warm-up pod does not run")?;
    tables::startup_header(out)?;
    for (level, concurrency) in arguments.startup_concurrency.iter().enumerate() {
        let load = startup::StartupLoad {
            concurrency: concurrency.get(),
            pods: arguments.startup_pods,
            name_prefix: format!("startup-{level}-"),
            image: image.clone(),
        };
        let report = startup::run(&cluster.pods, &watch, &load).await?;
        tables::startup_row(out, &report)?;
    }
    Ok(())
}

async fn measure_fuel(
    arguments: &NodeBenchArgs,
    testbox: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let address_space_bytes = arguments.fuel_address_space_gib.saturating_mul(1 << 30);
    let runtimes = fuel::FuelRuntimes::start(testbox, address_space_bytes).await?;
    let rounds = arguments.fuel_rounds.max(1);
    tables::fuel_header(out, rounds, runtimes.pool_sizing())?;
    let work = [
        (arguments.fuel_spin_iterations > 0).then_some(fuel::FuelWork::Spin {
            iterations: arguments.fuel_spin_iterations,
        }),
        (arguments.fuel_hash_rounds > 0).then_some(fuel::FuelWork::Hash {
            rounds: arguments.fuel_hash_rounds,
        }),
    ];
    for work in work.into_iter().flatten() {
        let report = fuel::run(&runtimes, &fuel::FuelLoad { work, rounds }).await?;
        tables::fuel_row(out, &report)?;
    }
    Ok(())
}

async fn measure_cpu_limits(
    arguments: &NodeBenchArgs,
    testbox: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let runtime = direct::DirectRuntime::start(testbox, FuelMetering::YieldEverySlice).await?;
    tables::cpu_limit_header(out, arguments.cpu_limit_duration)?;
    for millicores in &arguments.cpu_limits {
        let report = cpu_limits::run(&runtime, *millicores, arguments.cpu_limit_duration).await?;
        tables::cpu_limit_row(out, &report)?;
    }
    Ok(())
}

async fn measure_idle_pods(
    arguments: &NodeBenchArgs,
    testbox: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let target = arguments.idle_pods.max(1);
    let max_pods = match arguments.idle_max_pods {
        Some(max_pods) => max_pods,
        None => u32::try_from(target).context("--idle-pods is too many pods")?,
    };
    // Each pod holds a file open (its container's log), so the soft limit on open files
    // goes as high as the hard limit allows.
    rlimit::increase_nofile_limit(u64::MAX).context("cannot raise the limit on open files")?;
    // The API server runs apart so that the agent's memory per pod is its own.
    let cluster = BenchCluster::start(max_pods, ControlPlaneHome::ChildProcess).await?;
    let watch = RunningWatch::start(cluster.pods.clone()).await?;
    let batch = arguments.idle_batch.max(1);
    tables::idle_header(out, target, batch)?;
    let load = idle_pods::IdleLoad {
        target,
        batch,
        report_every: (target / 10).max(batch),
        name_prefix: "idle-".to_owned(),
        image: file_image(testbox),
    };
    let report = idle_pods::run(&cluster, &watch, &load, |checkpoint| {
        Ok(tables::idle_row(out, checkpoint)?)
    })
    .await?;
    tables::idle_summary(out, &report)?;
    Ok(())
}

async fn measure_deployments(
    arguments: &NodeBenchArgs,
    testbox: &Path,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    // Each replica holds a file open (its container's log).
    rlimit::increase_nofile_limit(u64::MAX).context("cannot raise the limit on open files")?;
    tables::deployment_header(out)?;
    for replicas in &arguments.deployment_replicas {
        let load = deployment::DeploymentLoad {
            name: format!("idle-{replicas}"),
            replicas: *replicas,
            image: file_image(testbox),
            timeout: arguments.deployment_timeout,
        };
        let report = deployment::run_on_a_fresh_cluster(&load).await?;
        tables::deployment_row(out, &report)?;
    }
    Ok(())
}
