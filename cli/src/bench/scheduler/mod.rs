//! `wasmkube bench scheduler`: the scheduler's throughput. For each node count it starts
//! a control plane in this process on a fresh store (API server, store, scheduler: what
//! `wasmkube server` runs, without controllers or a node agent), registers that many
//! hollow nodes through the API, then creates the pods without a node and measures how
//! long until a watch has seen every one of them bound.
//!
//! The pods are created while the scheduler runs, as kube-scheduler's scheduler_perf
//! does, so the figure covers the whole path a pod takes: its create, the scheduler's
//! watch and decision, the binding write and the Scheduled event, all through the one
//! store. Everything, the creators included, uses the in-process client, as the
//! scheduler itself does.

mod hollow_nodes;
mod load;

use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use super::samples::milliseconds;
use super::start_control_plane;
use hollow_nodes::NodeShape;
use load::{LoadReport, PodLoad};

#[derive(clap::Args)]
pub struct SchedulerBenchArgs {
    /// The node counts to measure, each with a control plane of its own.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    nodes: Vec<usize>,
    /// Pods created at each node count.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Tasks creating pods at once, each one create after another.
    #[arg(long, default_value_t = 64)]
    creators: usize,
    /// Each hollow node's allocatable cpu.
    #[arg(long, default_value = "32")]
    node_cpu: String,
    /// Each hollow node's allocatable memory.
    #[arg(long, default_value = "256Gi")]
    node_memory: String,
    /// Each hollow node's pod capacity (default: room for every pod, with a margin).
    #[arg(long)]
    node_pods: Option<u32>,
    /// Each pod's cpu request.
    #[arg(long, default_value = "10m")]
    pod_cpu: String,
    /// Each pod's memory request.
    #[arg(long, default_value = "16Mi")]
    pod_memory: String,
}

struct RunReport {
    nodes: usize,
    registering: Duration,
    load: LoadReport,
}

fn header(out: &mut impl Write, arguments: &SchedulerBenchArgs) -> std::io::Result<()> {
    writeln!(
        out,
        "Scheduler: {} pods created by {} tasks without a node; times from the first create sent to the last pod seen bound on a watch (bound s) and to the last Scheduled event (events s)",
        arguments.pods, arguments.creators
    )?;
    writeln!(
        out,
        "{:>6} {:>9} | {:>7} {:>9} | {:>8} {:>7} {:>9} | {:>10} {:>10} {:>10} | {:>10}",
        "nodes",
        "nodes s",
        "pods",
        "creates/s",
        "bound s",
        "pods/s",
        "events s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "per node",
    )
}

fn row(out: &mut impl Write, report: &RunReport) -> std::io::Result<()> {
    let load = &report.load;
    writeln!(
        out,
        "{:>6} {:>9.2} | {:>7} {:>9.0} | {:>8.2} {:>7.0} {:>9.2} | {:>10} {:>10} {:>10} | {:>4}..{:<4}",
        report.nodes,
        report.registering.as_secs_f64(),
        load.created,
        load.creates_per_second(),
        load.all_bound.as_secs_f64(),
        load.pods_per_second(),
        load.all_events.as_secs_f64(),
        milliseconds(load.to_bound.p50),
        milliseconds(load.to_bound.p99),
        milliseconds(load.to_bound.max),
        load.per_node.0,
        load.per_node.1,
    )?;
    if load.nodes_used < report.nodes {
        writeln!(
            out,
            "  only {} of {} nodes got pods",
            load.nodes_used, report.nodes
        )?;
    }
    out.flush()
}

async fn measure(arguments: &SchedulerBenchArgs, nodes: usize) -> anyhow::Result<RunReport> {
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let control_plane = start_control_plane(directory.path().join("server")).await?;
    let per_node = arguments.pods.div_ceil(nodes.max(1));
    let shape = NodeShape {
        cpu: arguments.node_cpu.clone(),
        memory: arguments.node_memory.clone(),
        pods: match arguments.node_pods {
            Some(pods) => pods,
            None => {
                u32::try_from(per_node + per_node / 10 + 10).context("too many pods per node")?
            }
        },
    };
    let registering = hollow_nodes::register_all(&control_plane.client, nodes, &shape).await?;
    let load = PodLoad {
        pods: arguments.pods,
        creators: arguments.creators,
        cpu: arguments.pod_cpu.clone(),
        memory: arguments.pod_memory.clone(),
    };
    let load = load::run(&control_plane.client, &load).await?;
    Ok(RunReport {
        nodes,
        registering,
        load,
    })
}

pub async fn run(arguments: SchedulerBenchArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(
        arguments.nodes.iter().all(|nodes| *nodes > 0),
        "every node count must be at least 1"
    );
    let mut out = std::io::stdout();
    header(&mut out, &arguments)?;
    for nodes in &arguments.nodes {
        let report = measure(&arguments, *nodes).await?;
        row(&mut out, &report)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_run_binds_every_pod_and_sees_every_scheduled_event() {
        let arguments = SchedulerBenchArgs {
            nodes: vec![3],
            pods: 30,
            creators: 4,
            node_cpu: "2".to_owned(),
            node_memory: "4Gi".to_owned(),
            node_pods: None,
            pod_cpu: "10m".to_owned(),
            pod_memory: "16Mi".to_owned(),
        };
        let report = measure(&arguments, 3).await.expect("the run completes");
        assert_eq!(report.load.created, 30);
        assert_eq!(report.load.to_bound.count, 30);
        assert!(
            report.load.per_node.1 <= 21,
            "each node holds at most its capacity"
        );
        let mut out = Vec::new();
        row(&mut out, &report).expect("a row");
        let printed = String::from_utf8(out).expect("text");
        assert!(printed.trim_start().starts_with("3 "), "{printed}");
    }
}
