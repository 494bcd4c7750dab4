//! `wasmkube bench network`: the pod network's benchmark. A control plane, the controller
//! manager and one node agent run in this process, as `wasmkube up` runs them, and the
//! benchmark reaches the pods from the node's side through the node's own pod network
//! API, as a NodePort or a probe does. It measures:
//!
//! - `echo`: requests per second and latency of the echo example, through its Service's
//!   cluster IP, straight to its pod IP, and, for comparison, the same crate built for
//!   the host and reached over the host's TCP loopback; with a new connection per request
//!   and with one keep-alive connection;
//! - `loopback`: the throughput between two containers of one pod over 127.0.0.1
//!   (`testbox tcp-source` into `testbox tcp-sink`), against the same applets built for
//!   the host over the host's loopback.
//!
//! Neither the guests nor the native builds are built here (see `bench node` for why):
//! `cargo build --release --manifest-path examples/Cargo.toml --target wasm32-wasip2`
//! and `cargo build --release --manifest-path examples/Cargo.toml -p echo -p testbox`
//! come first.

mod echo;
mod loopback;
mod native;
mod requests;
mod statistics;
mod tables;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::Context;
use wasmkube_controllers::{ControllerManager, ControllerManagerOptions};

use super::node::cluster::{BenchCluster, ControlPlaneHome};
use super::node::{DEFAULT_GUEST_DIR, file_image};
use native::NativeBinaries;
use requests::ConnectionMode;

/// Where `cargo build --release --manifest-path examples/Cargo.toml -p echo -p testbox`
/// puts the host builds of the examples, in the checkout this binary was built from.
const DEFAULT_NATIVE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/target/release");

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Measurement {
    /// The echo server's requests per second and latency: Service, pod IP, native.
    Echo,
    /// Throughput between two containers of a pod over loopback, against native.
    Loopback,
    /// The http example, a wasi:http component (a fresh instance per request), reached
    /// like echo: through its Service and at its pod IP.
    Http,
}

#[derive(clap::Args)]
pub struct NetworkBenchArgs {
    /// The measurements to run, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "echo,loopback"
    )]
    measure: Vec<Measurement>,
    /// The directory holding echo.wasm, testbox.wasm and http.wasm, built for wasm32-wasip2.
    #[arg(long, default_value = DEFAULT_GUEST_DIR)]
    guest_dir: PathBuf,
    /// The directory holding echo and testbox built for this host.
    #[arg(long, default_value = DEFAULT_NATIVE_DIR)]
    native_dir: PathBuf,
    /// How many times each measurement is repeated; the targets take turns in each round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Requests per target and connection mode in each round.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests sent to each target before the first round, not counted.
    #[arg(long, default_value_t = 200)]
    warm_up_requests: usize,
    /// Mebibytes the loopback measurement sends in each round.
    #[arg(long, default_value_t = 1024)]
    loopback_mebibytes: u64,
}

/// The guests' images, as `file://` URLs.
struct GuestImages {
    echo: String,
    testbox: String,
    http: String,
}

fn guest_image(guest_dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = guest_dir.join(format!("{name}.wasm"));
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist: build the example guests first with `cargo build --release --manifest-path examples/Cargo.toml --target wasm32-wasip2`, or pass --guest-dir",
        path.display()
    );
    let absolute = std::path::absolute(&path)
        .with_context(|| format!("cannot make {} absolute", path.display()))?;
    Ok(file_image(&absolute))
}

pub async fn run(arguments: NetworkBenchArgs) -> anyhow::Result<i32> {
    let images = GuestImages {
        echo: guest_image(&arguments.guest_dir, "echo")?,
        testbox: guest_image(&arguments.guest_dir, "testbox")?,
        http: guest_image(&arguments.guest_dir, "http")?,
    };
    let native = NativeBinaries::find(&arguments.native_dir)?;
    let rounds = arguments.rounds.max(1);
    // The echo pod and one loopback pod per round, with room to spare.
    let max_pods = u32::try_from(rounds.saturating_add(4)).context("--rounds is too many")?;
    let cluster = BenchCluster::start(max_pods, ControlPlaneHome::ThisProcess).await?;
    let controllers_client = cluster
        .in_process_client()
        .context("the control plane does not run in this process")?;
    // Declared after the cluster, so dropped before it: the controllers stop first. The
    // EndpointSlice controller is what puts the echo pod behind its Service.
    let _controller_manager =
        ControllerManager::start(controllers_client, ControllerManagerOptions::default());
    let mut out = std::io::stdout();
    let request_load = echo::EchoLoad {
        rounds,
        requests: arguments.requests.max(1),
        warm_up_requests: arguments.warm_up_requests,
        modes: vec![
            ConnectionMode::NewConnectionPerRequest,
            ConnectionMode::KeepAlive,
        ],
    };
    for measurement in &arguments.measure {
        match measurement {
            Measurement::Echo => {
                let endpoints =
                    echo::EchoEndpoints::start(&cluster, echo::ECHO, &images.echo, Some(&native))
                        .await?;
                echo::run(&endpoints, &request_load, &mut out).await?;
            }
            Measurement::Http => {
                let endpoints =
                    echo::EchoEndpoints::start(&cluster, echo::HTTP_COMPONENT, &images.http, None)
                        .await?;
                echo::run(&endpoints, &request_load, &mut out).await?;
            }
            Measurement::Loopback => {
                let load = loopback::LoopbackLoad {
                    rounds,
                    mebibytes: arguments.loopback_mebibytes.max(1),
                    image: images.testbox.clone(),
                };
                loopback::run(&cluster, &load, Some(&native), &mut out).await?;
            }
        }
    }
    Ok(0)
}
