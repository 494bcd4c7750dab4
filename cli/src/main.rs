//! The `wasmkube` binary: thin wiring of the cluster verbs (up, server, node) and the
//! kubectl-shaped client verbs.

mod backup;
mod bench;
mod certificate_request;
mod cluster;
mod controller_flags;
mod demo;
mod image;
mod kubeconfig;
mod mint_kubeconfig;
mod node_credentials;
mod test_shards;

use clap::{Parser, Subcommand};
use wasmkube_client::{ClientCommand, GlobalOptions};

#[derive(Parser)]
#[command(
    name = "wasmkube",
    version,
    about = "A Kubernetes-compatible cluster in one binary whose containers are WebAssembly programs"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole cluster (control plane and a node agent) in this process.
    Up(cluster::UpArgs),
    /// Run the control plane only: API server, store, scheduler and controllers.
    Server(cluster::ServerArgs),
    /// Join this machine to a cluster as a node.
    Node(cluster::NodeArgs),
    /// Benchmark the control plane (durable creates per second, watch delivery latency),
    /// or with `node` the node agent (pod start-up, fuel cost, CPU limits, idle pods).
    Bench(bench::BenchArgs),
    /// Back up the running cluster (its store and images) to a file, restore a data
    /// directory from one, or check one.
    Backup(backup::BackupArgs),
    /// Push WebAssembly binaries into the cluster's image store and list them.
    Image(image::ImageArgs),
    /// Mint a kubeconfig for a user (a client certificate) or a ServiceAccount (a token),
    /// optionally bound to a Role or ClusterRole.
    Kubeconfig(mint_kubeconfig::MintKubeconfigArgs),
    /// Run a Rust test binary (built for wasm32-wasip2) as an Indexed Job sharded over
    /// pods, and show each shard's result.
    Test(test_shards::TestArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // The cluster verbs log their progress; the client verbs, like kubectl, print only
    // their results and errors unless WASMKUBE_LOG asks for more.
    let default_filter = match cli.command {
        Command::Client(_) | Command::Image(_) | Command::Kubeconfig(_) | Command::Test(_) => {
            "warn"
        }
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASMKUBE_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = match cli.command {
        Command::Up(arguments) => cluster::up(arguments).await?,
        Command::Server(arguments) => cluster::server(arguments).await?,
        Command::Node(arguments) => cluster::node(arguments).await?,
        Command::Bench(arguments) => bench::run(arguments).await?,
        Command::Backup(arguments) => backup::run(&cli.global, arguments).await?,
        Command::Kubeconfig(arguments) => mint_kubeconfig::run(&cli.global, arguments).await?,
        Command::Image(arguments) => {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            image::run(&cli.global, arguments, &mut out, &mut err).await?
        }
        Command::Test(arguments) => {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            test_shards::run(&cli.global, arguments, &mut out, &mut err).await?
        }
        Command::Client(command) => {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            wasmkube_client::run(&cli.global, command, &mut out, &mut err).await?
        }
    };
    Ok(std::process::ExitCode::from(
        u8::try_from(code).unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command's definition (duplicate flags between a verb and the global
    /// options, say) only when it is used; this uses every verb's definition at once.
    #[test]
    fn every_verb_and_flag_is_well_defined() {
        super::Cli::command().debug_assert();
    }
}
