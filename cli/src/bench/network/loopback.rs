//! The loopback measurement: a pod of two containers, `testbox tcp-source` sending to
//! `testbox tcp-sink` over the pod's 127.0.0.1, against the same applets built for the
//! host over the host's loopback. The sink times the transfer, from its accept to the end
//! of the stream. Each round has a fresh pod and a fresh pair of processes.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use kube::runtime::wait::await_condition;

use super::super::node::cluster::{BenchCluster, NAMESPACE, NODE_NAME};
use super::native::{self, NativeBinaries};
use super::statistics::{Transfer, median, parse_sink_report};
use super::tables;

/// The port the sink listens on inside the pod.
const SINK_PORT: u16 = 9000;

/// How long one transfer may take, start-up included.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the loopback measurement does.
#[derive(Clone, Debug)]
pub struct LoopbackLoad {
    pub rounds: usize,
    pub mebibytes: u64,
    /// testbox's image, as a `file://` URL.
    pub image: String,
}

/// Where a transfer ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackSide {
    /// Two containers of one pod over the pod's loopback.
    Pod,
    /// Two host processes over the host's loopback.
    Native,
}

impl LoopbackSide {
    pub fn label(self) -> &'static str {
        match self {
            LoopbackSide::Pod => "pod",
            LoopbackSide::Native => "native",
        }
    }
}

/// One transfer's outcome.
#[derive(Clone, Copy, Debug)]
pub struct LoopbackReport {
    pub round: usize,
    pub side: LoopbackSide,
    pub transfer: Transfer,
}

fn loopback_pod(name: &str, image: &str, mebibytes: u64) -> anyhow::Result<Pod> {
    // No resources: each container gets the node's default of one CPU, no quota.
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "nodeName": NODE_NAME,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "sink",
                    "image": image,
                    "command": ["testbox", "tcp-sink", SINK_PORT.to_string()],
                },
                {
                    "name": "source",
                    "image": image,
                    "command": [
                        "testbox",
                        "tcp-source",
                        format!("127.0.0.1:{SINK_PORT}"),
                        mebibytes.to_string(),
                    ],
                },
            ],
        },
    });
    serde_json::from_value(manifest).context("the loopback pod's manifest does not decode")
}

fn phase(pod: Option<&Pod>) -> Option<&str> {
    pod?.status.as_ref()?.phase.as_deref()
}

fn has_finished(pod: Option<&Pod>) -> bool {
    matches!(phase(pod), Some("Succeeded" | "Failed"))
}

async fn container_log(pods: &Api<Pod>, name: &str, container: &str) -> String {
    let parameters = LogParams {
        container: Some(container.to_owned()),
        ..LogParams::default()
    };
    pods.logs(name, &parameters)
        .await
        .unwrap_or_else(|error| format!("(its log cannot be read: {error})"))
}

/// Runs one transfer in a fresh pod and returns what the sink measured.
pub async fn in_pod(
    cluster: &BenchCluster,
    name: &str,
    image: &str,
    mebibytes: u64,
) -> anyhow::Result<Transfer> {
    let pods = &cluster.pods;
    pods.create(
        &PostParams::default(),
        &loopback_pod(name, image, mebibytes)?,
    )
    .await
    .with_context(|| format!("cannot create pod {name}"))?;
    let finished = tokio::time::timeout(
        TRANSFER_TIMEOUT,
        await_condition(pods.clone(), name, has_finished),
    )
    .await
    .with_context(|| {
        format!(
            "pod {name} did not finish within {} s",
            TRANSFER_TIMEOUT.as_secs()
        )
    })??;
    let sink_log = container_log(pods, name, "sink").await;
    let outcome = if phase(finished.as_ref()) == Some("Succeeded") {
        parse_sink_report(&sink_log)
            .with_context(|| format!("pod {name}'s sink reported no transfer:\n{sink_log}"))
    } else {
        let source_log = container_log(pods, name, "source").await;
        Err(anyhow::anyhow!(
            "pod {name} failed; sink:\n{sink_log}\nsource:\n{source_log}"
        ))
    };
    pods.delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("cannot delete pod {name}"))?;
    outcome
}

/// Runs the rounds, pod then native in each, printing a row per transfer and the medians
/// at the end. Without `native` only the pod side runs.
pub async fn run(
    cluster: &BenchCluster,
    load: &LoopbackLoad,
    native: Option<&NativeBinaries>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Vec<LoopbackReport>> {
    tables::loopback_header(out, load.mebibytes)?;
    let mut reports = Vec::new();
    for round in 1..=load.rounds {
        let name = format!("loopback-{round}");
        let transfer = in_pod(cluster, &name, &load.image, load.mebibytes).await?;
        let report = LoopbackReport {
            round,
            side: LoopbackSide::Pod,
            transfer,
        };
        tables::loopback_row(out, &report)?;
        reports.push(report);
        if let Some(native) = native {
            let output =
                native::loopback_transfer(&native.testbox, load.mebibytes, TRANSFER_TIMEOUT)
                    .await?;
            let transfer = parse_sink_report(&output)
                .with_context(|| format!("the native sink reported no transfer:\n{output}"))?;
            let report = LoopbackReport {
                round,
                side: LoopbackSide::Native,
                transfer,
            };
            tables::loopback_row(out, &report)?;
            reports.push(report);
        }
    }
    let median_of = |side: LoopbackSide| {
        median(
            &reports
                .iter()
                .filter(|report| report.side == side)
                .map(|report| report.transfer.mebibytes_per_second())
                .collect::<Vec<_>>(),
        )
    };
    tables::loopback_summary(
        out,
        median_of(LoopbackSide::Pod),
        median_of(LoopbackSide::Native),
    )?;
    Ok(reports)
}
