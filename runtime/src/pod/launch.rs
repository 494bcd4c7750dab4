//! Getting one container ready to start: its image pulled and compiled, its
//! environment, argv, mounts and limits. Each failure maps to the Waiting reason the
//! kubelet would show.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use wasmkube_images::{ImageError, ImageReference, PullPolicy};
use wasmkube_volumes::PodVolumes;

use super::NodeContext;
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

pub async fn prepare_container(
    context: &NodeContext,
    pod: &Pod,
    container: &Container,
    volumes: &PodVolumes,
    log_target: LogTarget<'_>,
    cpu_usage: Arc<CpuUsage>,
) -> Result<PreparedContainer, StartFailure> {
    let image = container.image.as_deref().unwrap_or_default();
    let reference = ImageReference::parse(image).map_err(|error| StartFailure::Image {
        reason: "InvalidImageName",
        message: format!("Failed to apply default image tag \"{image}\": {error}"),
    })?;
    let policy = PullPolicy::for_container(container.image_pull_policy.as_deref(), &reference)
        .map_err(|error| StartFailure::Config(error.to_string()))?;
    let pull = context
        .images
        .pull(image, policy, context.image_source.as_ref());
    let pulled = tokio::time::timeout(IMAGE_PULL_TIMEOUT, pull)
        .await
        .map_err(|_| StartFailure::Image {
            reason: "ErrImagePull",
            message: format!(
                "failed to pull image \"{image}\": no answer within {} seconds",
                IMAGE_PULL_TIMEOUT.as_secs()
            ),
        })?
        .map_err(|error: ImageError| StartFailure::Image {
            reason: error.reason(),
            message: error.to_string(),
        })?;
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

/// The image without its tag or digest, for `imageID` (`name@sha256:…`).
fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    }
}
