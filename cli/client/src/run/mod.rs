//! `run NAME --image=IMAGE [-i] [--rm] [--restart=…] [-- ARGS...]`: creates a Pod as
//! `kubectl run` builds it and, with `-i`, follows it as a one-shot: waits until it
//! runs, streams the container's output, exits with the container's exit code and, with
//! `--rm`, deletes the pod.
//!
//! Like kubectl, it attaches (`pods/attach` over a WebSocket, `attach`): this process's
//! stdin goes to the container's (whose end closes it, `stdinOnce`) and the container's
//! output comes back. The node replays an instance's output from its start to its first
//! attach, so a container that finishes before the attach opens loses nothing. A pod
//! that has already completed is answered with its whole log (`pods/log`), and an attach
//! that fails falls back to following the log, with kubectl's warning.

use std::io::Write;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};

mod attach;

use crate::error::ClientError;
use crate::logs::{copy_log, parse_duration_seconds};
use crate::options::Connection;

/// The field manager of the objects `kubectl run` creates.
const FIELD_MANAGER: &str = "kubectl-run";

/// Container waiting reasons after which a one-shot stops waiting: the kubelet keeps
/// retrying them, but a pod whose image cannot be pulled or whose container cannot be
/// created would otherwise keep the command waiting until its timeout.
const START_FAILURE_REASONS: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerError",
    "CreateContainerConfigError",
];

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The pod's name, which is also its container's.
    pub name: String,
    /// The image for the container to run.
    #[arg(long)]
    pub image: String,
    /// Keep stdin open on the container and attach to it: stream its output and exit
    /// with its exit code.
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Delete the pod after it exits (only with -i).
    #[arg(long)]
    pub rm: bool,
    /// The restart policy for this Pod: Always, OnFailure or Never (default: OnFailure
    /// with -i, else Always).
    #[arg(long)]
    pub restart: Option<String>,
    /// Environment variables to set in the container, as NAME=VALUE (repeatable).
    #[arg(long)]
    pub env: Vec<String>,
    /// Comma separated labels to apply to the pod; they replace the default `run=NAME`.
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// Annotations to apply to the pod, as KEY=VALUE (repeatable).
    #[arg(long)]
    pub annotations: Vec<String>,
    /// The container's image pull policy: Always, IfNotPresent or Never.
    #[arg(long)]
    pub image_pull_policy: Option<String>,
    /// The port that this container exposes.
    #[arg(long)]
    pub port: Option<i32>,
    /// The arguments after NAME are the container's `command` instead of its `args`.
    #[arg(long)]
    pub command: bool,
    /// How long to wait until the pod is running, as a duration like 30s or 2m.
    #[arg(long, default_value = "1m")]
    pub pod_running_timeout: String,
    /// The container's arguments (or command with --command), after `--`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub arguments: Vec<String>,
}

/// The restart policy kubectl picks: the flag, else OnFailure when attached, else Always.
pub fn restart_policy(
    restart: Option<&str>,
    interactive: bool,
) -> Result<&'static str, ClientError> {
    match restart {
        None | Some("") if interactive => Ok("OnFailure"),
        None | Some("") => Ok("Always"),
        Some("Always") => Ok("Always"),
        Some("OnFailure") => Ok("OnFailure"),
        Some("Never") => Ok("Never"),
        Some(other) => Err(ClientError::Usage(format!(
            "invalid restart policy: {other}"
        ))),
    }
}

/// `KEY=VALUE` pairs as kubectl parses `--env` and `--annotations`.
fn key_values(pairs: &[String], what: &str) -> Result<Vec<(String, String)>, ClientError> {
    pairs
        .iter()
        .flat_map(|pair| pair.split(',').filter(|part| !part.is_empty()))
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(ClientError::Usage(format!("invalid {what}: {pair:?}"))),
        })
        .collect()
}

/// The Pod `kubectl run` generates (its `run-pod/v1` generator).
pub fn run_pod(args: &RunArgs) -> Result<Value, ClientError> {
    if args.image.is_empty() {
        return Err(ClientError::Usage("--image is required".to_owned()));
    }
    let restart_policy = restart_policy(args.restart.as_deref(), args.stdin)?;
    let labels: serde_json::Map<String, Value> = match &args.labels {
        Some(labels) => key_values(std::slice::from_ref(labels), "label spec")?
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect(),
        None => [("run".to_owned(), Value::String(args.name.clone()))]
            .into_iter()
            .collect(),
    };
    let mut container = json!({"name": args.name, "image": args.image, "resources": {}});
    if !args.arguments.is_empty() {
        let field = if args.command { "command" } else { "args" };
        container[field] = json!(args.arguments);
    }
    let env = key_values(&args.env, "env")?;
    if !env.is_empty() {
        container["env"] = env
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
    }
    if let Some(policy) = &args.image_pull_policy {
        if !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never") {
            return Err(ClientError::Usage(format!(
                "invalid image pull policy: {policy}"
            )));
        }
        container["imagePullPolicy"] = json!(policy);
    }
    if let Some(port) = args.port {
        container["ports"] = json!([{"containerPort": port}]);
    }
    if args.stdin {
        container["stdin"] = json!(true);
        container["stdinOnce"] = json!(true);
    }
    let mut metadata = json!({"name": args.name, "labels": labels});
    let annotations = key_values(&args.annotations, "annotation")?;
    if !annotations.is_empty() {
        metadata["annotations"] = annotations
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [container],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": restart_policy,
        },
        "status": {},
    }))
}

/// Where a pod stands for a one-shot that waits for it.
#[derive(Debug, PartialEq)]
pub enum PodProgress {
    /// Not yet running (scheduling, pulling, starting).
    Starting,
    /// Its container runs, so its log can be followed.
    Running,
    /// It has finished (Succeeded or Failed).
    Completed,
    /// It cannot start: the reason and message of its container's waiting state.
    CannotStart { reason: String, message: String },
    /// It is gone.
    Deleted,
}

pub fn pod_progress(pod: Option<&Pod>) -> PodProgress {
    let Some(pod) = pod else {
        return PodProgress::Deleted;
    };
    let status = pod.status.as_ref();
    match status.and_then(|status| status.phase.as_deref()) {
        Some("Succeeded" | "Failed") => return PodProgress::Completed,
        Some("Running") => return PodProgress::Running,
        _ => {}
    }
    let waiting = status
        .and_then(|status| status.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|container| container.state.as_ref()?.waiting.as_ref())
        .find(|waiting| {
            waiting
                .reason
                .as_deref()
                .is_some_and(|reason| START_FAILURE_REASONS.contains(&reason))
        });
    match waiting {
        Some(waiting) => PodProgress::CannotStart {
            reason: waiting.reason.clone().unwrap_or_default(),
            message: waiting.message.clone().unwrap_or_default(),
        },
        None => PodProgress::Starting,
    }
}

/// How a one-shot ended, before `--rm` cleans up: the process's exit code and what is
/// written on stderr after the pod is deleted.
#[derive(Debug, PartialEq)]
pub struct RunOutcome {
    pub exit_code: i32,
    pub message: Option<String>,
}

impl RunOutcome {
    fn success() -> RunOutcome {
        RunOutcome {
            exit_code: 0,
            message: None,
        }
    }

    fn failure(error: &ClientError) -> RunOutcome {
        RunOutcome {
            exit_code: 1,
            message: Some(error.to_string()),
        }
    }
}

/// kubectl's verdict on a finished pod: success, the container's exit code with
/// `pod NS/NAME terminated (REASON)`, or an unknown exit code.
pub fn completed_outcome(pod: &Pod, namespace: &str, name: &str) -> RunOutcome {
    let status = pod.status.as_ref();
    match status.and_then(|status| status.phase.as_deref()) {
        Some("Succeeded") => RunOutcome::success(),
        Some("Failed") => {
            let terminated = status
                .and_then(|status| status.container_statuses.as_ref())
                .and_then(|containers| containers.first())
                .and_then(|container| container.state.as_ref()?.terminated.as_ref());
            match terminated {
                Some(terminated) if terminated.exit_code != 0 => RunOutcome {
                    exit_code: terminated.exit_code,
                    message: Some(format!(
                        "pod {namespace}/{name} terminated ({})\n{}",
                        terminated.reason.as_deref().unwrap_or_default(),
                        terminated.message.as_deref().unwrap_or_default()
                    )),
                },
                _ => RunOutcome {
                    exit_code: 1,
                    message: Some(format!(
                        "error: pod {namespace}/{name} failed with unknown exit code"
                    )),
                },
            }
        }
        phase => RunOutcome {
            exit_code: 1,
            message: Some(format!(
                "error: pod {namespace}/{name} left in phase {}",
                phase.unwrap_or_default()
            )),
        },
    }
}

pub async fn run_run(
    connection: &Connection,
    args: RunArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    if args.rm && !args.stdin {
        return Err(ClientError::Usage(
            "--rm should only be used for attached containers".to_owned(),
        ));
    }
    let timeout = Duration::from_secs(
        u64::try_from(parse_duration_seconds(&args.pod_running_timeout)?).unwrap_or_default(),
    );
    let pod = run_pod(&args)?;
    let namespace = connection.namespace.as_str();
    let pods: Api<Pod> = Api::namespaced(connection.client.clone(), namespace);
    let body = serde_json::from_value::<Pod>(pod)
        .map_err(|error| ClientError::Transport(format!("the pod: {error}")))?;
    let parameters = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    pods.create(&parameters, &body).await?;
    if !args.stdin {
        writeln!(out, "pod/{} created", args.name)?;
        return Ok(0);
    }
    let outcome = match attach_and_wait(connection, &pods, &args, timeout, out, err).await {
        Ok(outcome) => outcome,
        Err(ClientError::Output(error)) => return Err(ClientError::Output(error)),
        Err(error) => RunOutcome::failure(&error),
    };
    if args.rm {
        match pods.delete(&args.name, &DeleteParams::default()).await {
            Ok(_) => writeln!(out, "pod \"{}\" deleted", args.name)?,
            Err(error) => {
                let error = ClientError::from(error);
                if !error.is_not_found() {
                    writeln!(err, "{error}")?;
                }
            }
        }
    }
    out.flush()?;
    if let Some(message) = outcome.message {
        writeln!(err, "{}", message.trim_end_matches('\n'))?;
    }
    Ok(outcome.exit_code)
}

/// Waits until the pod runs, streams its output until the container ends, then waits
/// for the exit code as kubectl does for the restart policies that have one.
async fn attach_and_wait(
    connection: &Connection,
    pods: &Api<Pod>,
    args: &RunArgs,
    timeout: Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<RunOutcome, ClientError> {
    let namespace = connection.namespace.as_str();
    let name = args.name.as_str();
    let started = wait_for(pods, name, timeout, |progress| {
        !matches!(progress, PodProgress::Starting)
    })
    .await?;
    match pod_progress(started.as_ref()) {
        PodProgress::Deleted => return Err(pod_gone(name)),
        PodProgress::CannotStart { reason, message } => {
            return Err(ClientError::Usage(format!(
                "pod {namespace}/{name} cannot start: {reason}: {message}"
            )));
        }
        // A pod that has completed already has all its output in its log.
        PodProgress::Completed => stream_output(connection, name, out).await?,
        PodProgress::Starting | PodProgress::Running => {
            match attach::attach(connection, name, name, out).await {
                Ok(()) => {}
                Err(ClientError::Output(error)) => return Err(ClientError::Output(error)),
                Err(error) => {
                    let problem = error.to_string();
                    let problem = problem.strip_prefix("error: ").unwrap_or(&problem);
                    writeln!(
                        err,
                        "warning: couldn't attach to pod/{name}, falling back to streaming logs: {problem}"
                    )?;
                    stream_output(connection, name, out).await?;
                }
            }
        }
    }
    let restart_policy = restart_policy(args.restart.as_deref(), args.stdin)?;
    if restart_policy == "Always" {
        return Ok(RunOutcome::success());
    }
    let finished = wait_for(pods, name, timeout, |progress| {
        matches!(progress, PodProgress::Completed | PodProgress::Deleted)
    })
    .await?;
    let Some(finished) = finished else {
        return Err(pod_gone(name));
    };
    Ok(completed_outcome(&finished, namespace, name))
}

fn pod_gone(name: &str) -> ClientError {
    ClientError::Usage(format!("pods \"{name}\" not found"))
}

/// Watches the pod until `done` accepts its progress, for at most `timeout`.
async fn wait_for(
    pods: &Api<Pod>,
    name: &str,
    timeout: Duration,
    done: impl Fn(&PodProgress) -> bool + Send + 'static,
) -> Result<Option<Pod>, ClientError> {
    let condition = move |pod: Option<&Pod>| done(&pod_progress(pod));
    let waited = tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(pods.clone(), name, condition),
    )
    .await
    .map_err(|_| ClientError::Usage("timed out waiting for the condition".to_owned()))?;
    waited.map_err(|error| ClientError::Transport(format!("watching pod {name}: {error}")))
}

/// Follows the container's log to its end, which comes when the container exits.
async fn stream_output(
    connection: &Connection,
    name: &str,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let uri = format!(
        "/api/v1/namespaces/{}/pods/{name}/log?container={name}&follow=true",
        connection.namespace
    );
    copy_log(connection, uri, out).await
}

#[cfg(test)]
mod tests;
