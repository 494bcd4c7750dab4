//! `wasmkube test FILE.wasm`: a Rust crate's test binary (built for wasm32-wasip2) run as
//! an Indexed Job sharded over N pods. The binary is pushed as an image, the Job created
//! (a finished one of the same name replaced), and once the Job has finished each shard's
//! pod is read: PASSED or FAILED, libtest's result line and the failing tests' names.
//! The exit code is 0 only when every shard passed.

mod job;
mod report;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use wasmkube_client::{ClientError, GlobalOptions};
use wasmkube_control_plane::images::{Digest, ImageReference};

use crate::controller_flags::parse_duration;
use job::{TestJobSpec, job_name_for_file, test_job};
use report::{ShardLog, ShardResult, ShardRow, shard_table};

/// The annotation that holds a pod's completion index.
const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// How often the Job's status is read while it runs.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How long a finished Job of the same name may take to go away before its replacement.
const REPLACE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The test binary, as `cargo test --no-run --target wasm32-wasip2` builds it
    /// (target/wasm32-wasip2/debug/deps/CRATE-HASH.wasm).
    file: PathBuf,
    /// How many shards (pods of the Indexed Job) the tests are dealt out to.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    shards: u32,
    /// The Job's name; by default the crate's name from the file name.
    #[arg(long)]
    name: Option<String>,
    /// An environment variable for the tests, NAME=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// How long the tests may run (the Job's activeDeadlineSeconds).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
    /// The memory limit of each shard's container, e.g. 128Mi.
    #[arg(long)]
    memory: Option<String>,
    /// The CPU limit of each shard's container, e.g. 500m.
    #[arg(long)]
    cpu: Option<String>,
    /// Arguments for libtest after `--`: filters, --skip NAME, --include-ignored.
    #[arg(last = true)]
    test_arguments: Vec<String>,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// Runs `wasmkube test`, writing its table to `out` and errors to `err`; returns the exit
/// code. Only a failure to write to `out` or `err` is an `Err`.
pub async fn run(
    global: &GlobalOptions,
    arguments: TestArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<i32> {
    let result = run_tests(global, &arguments, out).await;
    out.flush()?;
    match result {
        Ok(all_passed) => Ok(if all_passed { 0 } else { 1 }),
        Err(ClientError::Output(error)) => Err(error),
        Err(error) => {
            writeln!(err, "{error}")?;
            Ok(1)
        }
    }
}

async fn run_tests(
    global: &GlobalOptions,
    arguments: &TestArgs,
    out: &mut dyn Write,
) -> Result<bool, ClientError> {
    let file = &arguments.file;
    let content = crate::image::read_webassembly_file(file)?;
    let name = match &arguments.name {
        Some(name) => name.clone(),
        None => job_name_for_file(
            &file
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let connection = wasmkube_client::connect(global).await?;
    let client = connection.client;
    let namespace = connection.namespace;

    // The tag names the content, so that every pod runs exactly the binary pushed now.
    let digest = Digest::of_bytes(&content);
    let image = format!("{name}-tests:sha-{}", &digest.hex()[..12]);
    let reference = ImageReference::parse_with_default_tag(&image)
        .map_err(|error| ClientError::Usage(error.to_string()))?;
    crate::image::upload(&client, content, &reference).await?;
    writeln!(out, "pushed {image} ({digest})")?;

    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    replace_finished_job(&jobs, &name).await?;
    let job = test_job(&TestJobSpec {
        name: &name,
        image: &image,
        shards: arguments.shards,
        env: &arguments.env,
        test_arguments: &arguments.test_arguments,
        active_deadline_seconds: arguments.timeout.as_secs().max(1),
        memory: arguments.memory.as_deref(),
        cpu: arguments.cpu.as_deref(),
    })
    .map_err(|error| ClientError::Usage(format!("cannot build the Job: {error}")))?;
    let created = jobs.create(&PostParams::default(), &job).await?;
    writeln!(
        out,
        "job.batch/{name} created: {} shards of {image}",
        arguments.shards
    )?;
    out.flush()?;

    // The Job's own deadline ends it; a little more is allowed for the controller to
    // say so.
    let finished =
        wait_for_finish(&jobs, &name, arguments.timeout + Duration::from_secs(30)).await?;
    let uid = created.metadata.uid.clone().unwrap_or_default();
    let rows = shard_rows(&client, &namespace, &uid, arguments.shards).await?;
    write!(out, "{}", shard_table(&rows))?;
    let all_passed = rows.iter().all(|row| row.result == ShardResult::Passed);
    match &finished {
        Some((condition, reason, message)) => writeln!(
            out,
            "job.batch/{name} {condition}{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}: {message}")
            }
        )?,
        None => writeln!(out, "job.batch/{name} did not finish in time")?,
    }
    Ok(all_passed && matches!(&finished, Some((condition, _, _)) if condition == "Complete"))
}

/// Deletes a finished Job of this name (and, in the foreground, its pods) and waits for
/// it to be gone; a Job still running is left alone and reported.
async fn replace_finished_job(jobs: &Api<Job>, name: &str) -> Result<(), ClientError> {
    let Some(existing) = jobs.get_opt(name).await? else {
        return Ok(());
    };
    if finished_condition(&existing).is_none() {
        return Err(ClientError::Usage(format!(
            "job {name} is still running: wait for it, delete it, or choose another --name"
        )));
    }
    jobs.delete(name, &DeleteParams::foreground()).await?;
    let deadline = tokio::time::Instant::now() + REPLACE_TIMEOUT;
    while jobs.get_opt(name).await?.is_some() {
        if tokio::time::Instant::now() > deadline {
            return Err(ClientError::Usage(format!(
                "the finished job {name} was not deleted within {} seconds",
                REPLACE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

/// The Job's `Complete` or `Failed` condition when it is true: type, reason, message.
fn finished_condition(job: &Job) -> Option<(String, String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| {
            (condition.type_ == "Complete" || condition.type_ == "Failed")
                && condition.status == "True"
        })
        .map(|condition| {
            (
                condition.type_.clone(),
                condition.reason.clone().unwrap_or_default(),
                condition.message.clone().unwrap_or_default(),
            )
        })
}

async fn wait_for_finish(
    jobs: &Api<Job>,
    name: &str,
    timeout: Duration,
) -> Result<Option<(String, String, String)>, ClientError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(finished) = finished_condition(&jobs.get(name).await?) {
            return Ok(Some(finished));
        }
        if tokio::time::Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One row per completion index: the index's finished pod (the newest, should there be
/// several), its result, and what its log says.
async fn shard_rows(
    client: &kube::Client,
    namespace: &str,
    job_uid: &str,
    shards: u32,
) -> Result<Vec<ShardRow>, ClientError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let owned: Vec<Pod> = pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.uid == job_uid)
        })
        .collect();
    let mut by_index: BTreeMap<usize, Vec<&Pod>> = BTreeMap::new();
    for pod in &owned {
        let index = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(COMPLETION_INDEX_ANNOTATION))
            .and_then(|index| index.parse::<usize>().ok());
        if let Some(index) = index {
            by_index.entry(index).or_default().push(pod);
        }
    }
    let mut rows = Vec::new();
    for index in 0..usize::try_from(shards).unwrap_or(usize::MAX) {
        let candidates = by_index.remove(&index).unwrap_or_default();
        let chosen = candidates.into_iter().max_by_key(|pod| {
            (
                shard_result(pod) != ShardResult::NotFinished,
                pod.metadata.creation_timestamp.clone(),
            )
        });
        let Some(pod) = chosen else {
            rows.push(ShardRow {
                index,
                pod: String::new(),
                result: ShardResult::NotFinished,
                log: ShardLog::default(),
            });
            continue;
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let log_params = LogParams {
            container: Some("tests".to_owned()),
            ..LogParams::default()
        };
        // A pod whose log cannot be read still has its phase to report.
        let log = pods.logs(&pod_name, &log_params).await.unwrap_or_default();
        rows.push(ShardRow {
            index,
            pod: pod_name,
            result: shard_result(pod),
            log: ShardLog::parse(&log),
        });
    }
    Ok(rows)
}

fn shard_result(pod: &Pod) -> ShardResult {
    match pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
    {
        Some("Succeeded") => ShardResult::Passed,
        Some("Failed") => ShardResult::Failed,
        _ => ShardResult::NotFinished,
    }
}
