//! Getting one container ready to start: its image pulled and compiled, its
//! environment, argv, mounts and limits. Each failure maps to the Waiting reason the
//! kubelet would show.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use wasmkube_images::{ImageError, ImageReference, PullPolicy, PulledImage};
use wasmkube_volumes::PodVolumes;

use super::NodeContext;
use super::probes::{ContainerReference, EventType, KubeletEvents};
use crate::attach::GuestStdin;
use crate::container::environment::{EnvironmentContext, container_argv, container_environment};
use crate::container::service_links::service_link_variables;
use crate::guest::{CompiledGuest, GuestLaunch, GuestMount};
use crate::limits::container_limits;
use crate::limits::cpu::CpuUsage;
use crate::limits::oom_score::container_memory_usage;

/// How long one image pull may take before it counts as failed (and is retried after a
/// back-off).
const IMAGE_PULL_TIMEOUT: Duration = Duration::from_secs(300);

/// A container ready to run.
pub struct PreparedContainer {
    pub compiled: Arc<CompiledGuest>,
    pub launch: GuestLaunch,
    pub image_id: String,
}

/// Why a container could not start, as the Waiting state shows it.
pub enum StartFailure {
    /// `ErrImagePull`, `ErrImageNeverPull` or `InvalidImageName`.
    Image {
        reason: &'static str,
        message: String,
    },
    /// `CreateContainerConfigError`: a missing ConfigMap, Secret or key, a bad mount.
    Config(String),
    /// `CreateContainerError`: the image is not a runnable WASI program.
    Create(String),
}

/// Where a run's output goes: the container's log under its name and restart count (a
/// lifecycle hook writes under a name of its own, so it never rotates the container's
/// log away).
pub struct LogTarget<'a> {
    pub name: &'a str,
    pub instance: i32,
}

/// Where a container's start records the kubelet's events about it (a lifecycle hook's
/// run records none).
pub struct StartEvents<'a> {
    pub events: &'a KubeletEvents,
    pub reference: ContainerReference,
}

impl StartEvents<'_> {
    pub fn record(&self, event_type: EventType, reason: &str, message: String) {
        self.events
            .record(&self.reference, event_type, reason, message);
    }
}

pub async fn prepare_container(
    context: &NodeContext,
    pod: &Pod,
    container: &Container,
    volumes: &PodVolumes,
    log_target: LogTarget<'_>,
    cpu_usage: Arc<CpuUsage>,
    events: Option<&StartEvents<'_>>,
) -> Result<PreparedContainer, StartFailure> {
    let image = container.image.as_deref().unwrap_or_default();
    let reference = match ImageReference::parse(image) {
        Ok(reference) => reference,
        Err(error) => {
            let message = format!("Failed to apply default image tag \"{image}\": {error}");
            if let Some(events) = events {
                events.record(EventType::Warning, "InspectFailed", message.clone());
                events.record(
                    EventType::Warning,
                    "Failed",
                    "Error: InvalidImageName".to_owned(),
                );
            }
            return Err(StartFailure::Image {
                reason: "InvalidImageName",
                message,
            });
        }
    };
    let policy = PullPolicy::for_container(container.image_pull_policy.as_deref(), &reference)
        .map_err(|error| StartFailure::Config(error.to_string()))?;
    let pulled = ensure_image(context, image, policy, events).await?;
    let digest = pulled.digest.to_string();
    let compiled = context
        .guests
        .compile(&digest, &pulled.path)
        .await
        .map_err(|error| StartFailure::Create(error.to_string()))?;

    let environment_context = EnvironmentContext {
        pod,
        node_name: &context.node_name,
        sources: context.volume_sources.as_ref(),
        node_allocatable: &context.allocatable,
        service_links: service_link_variables(pod, &context.network.cluster().snapshot()),
    };
    let environment = container_environment(&environment_context, container)
        .await
        .map_err(|error| StartFailure::Config(error.0))?;
    let argv = container_argv(container, &environment);
    let mounts = volumes
        .mounts(container, environment.as_map())
        .map_err(|error| StartFailure::Config(error.to_string()))?
        .into_iter()
        .map(|mount| GuestMount {
            guest_path: mount.guest_path,
            host_dir: mount.host_dir,
            read_only: mount.read_only,
        })
        .collect();
    let limits = container_limits(container, &context.default_limits)
        .map_err(|error| StartFailure::Config(error.to_string()))?;
    let metadata = &pod.metadata;
    let log = context
        .logs
        .create_writer(
            metadata.namespace.as_deref().unwrap_or_default(),
            metadata.name.as_deref().unwrap_or_default(),
            metadata.uid.as_deref().unwrap_or_default(),
            log_target.name,
            u32::try_from(log_target.instance).unwrap_or_default(),
        )
        .map_err(|error| {
            StartFailure::Create(format!("cannot open the container's log: {error}"))
        })?;
    Ok(PreparedContainer {
        compiled,
        launch: GuestLaunch {
            argv,
            env: environment.variables,
            working_dir: container.working_dir.clone(),
            mounts,
            output: log.into(),
            memory_limit_bytes: limits.memory_bytes,
            cpu_quota: limits.cpu,
            cpu_usage,
            memory_usage: Arc::new(container_memory_usage(pod, container, &context.allocatable)),
            network: None,
            http_port: Some(crate::guest::container_http_port(container)),
            stdin: container_stdin(context, pod, container, &log_target),
        },
        image_id: format!("{}@{digest}", image_name(image)),
    })
}

/// A stdin pipe for a container with `stdin: true`; a lifecycle hook's run, logged under
/// a name of its own, gets none.
fn container_stdin(
    context: &NodeContext,
    pod: &Pod,
    container: &Container,
    log_target: &LogTarget<'_>,
) -> Option<Arc<GuestStdin>> {
    let wants_stdin = container.stdin == Some(true) && log_target.name == container.name;
    wants_stdin.then(|| {
        Arc::new(context.stdins.open(
            pod.metadata.uid.as_deref().unwrap_or_default(),
            &container.name,
            container.stdin_once == Some(true),
        ))
    })
}

/// Makes the image ready as the kubelet's image manager does, with its events: a cached
/// image under `IfNotPresent` or `Never` is "already present on machine"; otherwise it
/// is pulled (`Pulling`, then `Pulled` with the time taken, or `Failed`).
async fn ensure_image(
    context: &NodeContext,
    image: &str,
    policy: PullPolicy,
    events: Option<&StartEvents<'_>>,
) -> Result<PulledImage, StartFailure> {
    let record = |event_type, reason: &str, message: String| {
        if let Some(events) = events {
            events.record(event_type, reason, message);
        }
    };
    let source = context.image_source.as_ref();
    if policy != PullPolicy::Always {
        match context.images.pull(image, PullPolicy::Never, source).await {
            Ok(pulled) => {
                record(
                    EventType::Normal,
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                );
                return Ok(pulled);
            }
            Err(error) if policy == PullPolicy::Never => {
                let message = error.to_string();
                record(EventType::Warning, "ErrImageNeverPull", message.clone());
                record(
                    EventType::Warning,
                    "Failed",
                    format!("Error: {}", error.reason()),
                );
                return Err(StartFailure::Image {
                    reason: error.reason(),
                    message,
                });
            }
            Err(_) => {}
        }
    }
    record(
        EventType::Normal,
        "Pulling",
        format!("Pulling image \"{image}\""),
    );
    let started = std::time::Instant::now();
    let pull = context.images.pull(image, policy, source);
    let (reason, message, cause) = match tokio::time::timeout(IMAGE_PULL_TIMEOUT, pull).await {
        Ok(Ok(pulled)) => {
            let took = go_duration_in_milliseconds(started.elapsed());
            record(
                EventType::Normal,
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {} bytes.",
                    pulled.size_in_bytes
                ),
            );
            return Ok(pulled);
        }
        Ok(Err(error)) => {
            let cause = match &error {
                ImageError::Pull { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            (error.reason(), error.to_string(), cause)
        }
        Err(_) => {
            let cause = format!("no answer within {} seconds", IMAGE_PULL_TIMEOUT.as_secs());
            let message = format!("failed to pull image \"{image}\": {cause}");
            ("ErrImagePull", message, cause)
        }
    };
    record(
        EventType::Warning,
        "Failed",
        format!("Failed to pull image \"{image}\": {cause}"),
    );
    record(EventType::Warning, "Failed", format!("Error: {reason}"));
    Err(StartFailure::Image { reason, message })
}

/// A duration as Go prints one truncated to milliseconds (`12ms`, `1.5s`, `2m3.25s`), as
/// the kubelet's `Pulled` event shows the pull's time.
pub fn go_duration_in_milliseconds(duration: Duration) -> String {
    let milliseconds = duration.as_millis();
    if milliseconds == 0 {
        return "0s".to_owned();
    }
    if milliseconds < 1000 {
        return format!("{milliseconds}ms");
    }
    let minutes = milliseconds / 60_000;
    let seconds = (milliseconds % 60_000) / 1000;
    let fraction = format!("{:03}", milliseconds % 1000);
    let fraction = fraction.trim_end_matches('0');
    let seconds = if fraction.is_empty() {
        format!("{seconds}s")
    } else {
        format!("{seconds}.{fraction}s")
    };
    if minutes > 0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

/// The image without its tag or digest, for `imageID` (`name@sha256:…`).
fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_times_read_as_go_prints_them() {
        let cases = [
            (0, "0s"),
            (12, "12ms"),
            (999, "999ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (1661, "1.661s"),
            (123_250, "2m3.25s"),
        ];
        for (milliseconds, expected) in cases {
            assert_eq!(
                go_duration_in_milliseconds(Duration::from_millis(milliseconds)),
                expected
            );
        }
    }
}
