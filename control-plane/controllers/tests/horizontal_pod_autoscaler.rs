//! The horizontal pod autoscaler against real metrics: a control plane whose
//! metrics.k8s.io scrapes every second, the controller manager, and a real node agent
//! running testbox guests that burn CPU for a few seconds and then idle. The autoscaler
//! must scale their Deployment up while they burn and back down when they stop, and say
//! why in its status and events, as Kubernetes' does.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::eventually;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_controllers::{ControllerManager, ControllerManagerOptions};
use wasmkube_runtime::{NodeAgent, NodeAgentConfig};
use wasmkube_wasm_guests::{WasmTarget, guest};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A one-node cluster whose metrics are fresh every second and whose autoscalers are
/// evaluated every second.
struct MetricsCluster {
    client: Client,
    _agent: NodeAgent,
    _manager: ControllerManager,
    _control_plane: ControlPlane,
    _directory: tempfile::TempDir,
}

async fn start_cluster() -> MetricsCluster {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let control_plane = start(ControlPlaneOptions {
        data_dir: directory.path().join("server"),
        listen: "127.0.0.1:0".parse().expect("an address"),
        api: ApiOptions {
            resource_metrics_resolution: Duration::from_secs(1),
            ..ApiOptions::default()
        },
        compaction_interval: Duration::from_secs(300),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    let client = control_plane.client.clone();
    let manager = ControllerManager::start(
        client.clone(),
        ControllerManagerOptions {
            horizontal_pod_autoscaler_sync_period: Duration::from_secs(1),
            ..ControllerManagerOptions::default()
        },
    );
    let tls = wasmkube_runtime::NodeTls::issue(
        &control_plane.authority,
        "node-1",
        &[std::net::IpAddr::from([127, 0, 0, 1])],
    )
    .expect("the node's certificates");
    let mut config = NodeAgentConfig::new("node-1".to_owned(), directory.path().join("node"), tls);
    config.max_pods = 20;
    // The runtime's tests compile the same guests into the same cache.
    config.compilation_cache_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compiled");
    let agent = NodeAgent::start(config, client.clone())
        .await
        .expect("the node agent starts");
    MetricsCluster {
        client,
        _agent: agent,
        _manager: manager,
        _control_plane: control_plane,
        _directory: directory,
    }
}

fn testbox() -> String {
    format!("file://{}", guest("testbox", WasmTarget::P2).display())
}

async fn replicas_of(deployments: &Api<Deployment>, name: &str) -> Result<i32, String> {
    let deployment = deployments
        .get(name)
        .await
        .map_err(|error| error.to_string())?;
    Ok(deployment
        .spec
        .and_then(|spec| spec.replicas)
        .unwrap_or_default())
}

async fn event_messages(client: &Client, reason: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .map(|list| {
            list.items
                .into_iter()
                .filter(|event| event.reason.as_deref() == Some(reason))
                .filter_map(|event| event.message)
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for an event with this reason and message: events are written after the
/// change they tell of.
async fn wait_for_event(client: &Client, reason: &str, message: &str) {
    eventually(
        &format!("a {reason} event \"{message}\""),
        TIMEOUT,
        || async {
            let messages = event_messages(client, reason).await;
            if messages.iter().any(|seen| seen == message) {
                Ok(())
            } else {
                Err(format!("{messages:?}"))
            }
        },
    )
    .await;
}

fn condition(autoscaler: &HorizontalPodAutoscaler, type_: &str) -> (String, String) {
    autoscaler
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == type_))
        .map(|condition| {
            (
                condition.status.clone(),
                condition.reason.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaler_scales_a_cpu_burning_deployment_up_and_back_down() {
    let cluster = start_cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let autoscalers: Api<HorizontalPodAutoscaler> =
        Api::namespaced(cluster.client.clone(), "default");
    // Each pod burns half a core (four times its request) for 6 s, then idles.
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "burner"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "burner"}},
            "template": {
                "metadata": {"labels": {"app": "burner"}},
                "spec": {"containers": [{
                    "name": "burn",
                    "image": testbox(),
                    "args": ["spin-then-sleep", "6"],
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}},
                }]},
            },
        },
    }))
    .expect("a deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment is created");
    let autoscaler: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "burner"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burner"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 1}},
        },
    }))
    .expect("an autoscaler");
    autoscalers
        .create(&PostParams::default(), &autoscaler)
        .await
        .expect("the autoscaler is created");

    eventually("the autoscaler to scale up to 3", TIMEOUT, || async {
        match replicas_of(&deployments, "burner").await? {
            3 => Ok(()),
            other => Err(format!("{other} replicas")),
        }
    })
    .await;
    // The status is written after the scale.
    let scaled_up = eventually("the status to show the scale up", TIMEOUT, || async {
        let autoscaler = autoscalers
            .get("burner")
            .await
            .map_err(|error| error.to_string())?;
        let status = autoscaler.status.clone().unwrap_or_default();
        if status.desired_replicas == 3 && status.last_scale_time.is_some() {
            Ok(autoscaler)
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    let status = scaled_up.status.clone().expect("a status");
    let utilization = status
        .current_metrics
        .as_ref()
        .and_then(|metrics| metrics.first())
        .and_then(|metric| metric.resource.as_ref())
        .and_then(|resource| resource.current.average_utilization);
    assert!(
        utilization.is_some_and(|utilization| utilization > 50),
        "{status:?}"
    );
    assert_eq!(
        condition(&scaled_up, "ScalingActive"),
        ("True".to_owned(), "ValidMetricFound".to_owned())
    );
    assert_eq!(condition(&scaled_up, "AbleToScale").0, "True");
    wait_for_event(
        &cluster.client,
        "SuccessfulRescale",
        "New size: 3; reason: cpu resource utilization (percentage of request) above target",
    )
    .await;

    eventually(
        "the autoscaler to scale back down to 1",
        TIMEOUT,
        || async {
            match replicas_of(&deployments, "burner").await? {
                1 => Ok(()),
                other => Err(format!("{other} replicas")),
            }
        },
    )
    .await;
    wait_for_event(
        &cluster.client,
        "SuccessfulRescale",
        "New size: 1; reason: All metrics below target",
    )
    .await;
    let scaled_down = eventually("the status to show the scale down", TIMEOUT, || async {
        let autoscaler = autoscalers
            .get("burner")
            .await
            .map_err(|error| error.to_string())?;
        let status = autoscaler.status.clone().unwrap_or_default();
        if status.desired_replicas == 1 && status.current_replicas == Some(1) {
            Ok(autoscaler)
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
    // Idle pods ask for none at all: the count is held at minReplicas.
    assert_eq!(
        condition(&scaled_down, "ScalingLimited"),
        ("True".to_owned(), "TooFewReplicas".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_without_requests_leave_the_autoscaler_unable_to_compute() {
    let cluster = start_cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let autoscalers: Api<HorizontalPodAutoscaler> =
        Api::namespaced(cluster.client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "idle"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "idle"}},
            "template": {
                "metadata": {"labels": {"app": "idle"}},
                "spec": {"containers": [{"name": "sleeper", "image": testbox(), "args": ["sleep-forever"]}]},
            },
        },
    }))
    .expect("a deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment is created");
    let autoscaler: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "idle"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "idle"},
            "maxReplicas": 3,
        },
    }))
    .expect("an autoscaler");
    autoscalers
        .create(&PostParams::default(), &autoscaler)
        .await
        .expect("the autoscaler is created");
    let message = eventually(
        "the autoscaler to report the missing request",
        TIMEOUT,
        || async {
            let autoscaler = autoscalers
                .get("idle")
                .await
                .map_err(|error| error.to_string())?;
            let active = autoscaler
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .and_then(|conditions| {
                    conditions
                        .iter()
                        .find(|condition| condition.type_ == "ScalingActive")
                        .cloned()
                })
                .ok_or_else(|| format!("{:?}", autoscaler.status))?;
            match (active.status.as_str(), active.reason.as_deref()) {
                ("False", Some("FailedGetResourceMetric"))
                    if active
                        .message
                        .as_deref()
                        .is_some_and(|message| message.contains("missing request")) =>
                {
                    Ok(active.message.unwrap_or_default())
                }
                _ => Err(format!("{active:?}")),
            }
        },
    )
    .await;
    let pod = message
        .rsplit(" of Pod ")
        .next()
        .expect("the message names the pod");
    assert!(pod.starts_with("idle-"), "{message}");
    assert_eq!(
        message,
        format!(
            "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container sleeper of Pod {pod}"
        )
    );
    wait_for_event(
        &cluster.client,
        "FailedComputeMetricsReplicas",
        &format!(
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization: missing request for cpu in container sleeper of Pod {pod}"
        ),
    )
    .await;
    assert_eq!(replicas_of(&deployments, "idle").await, Ok(1));
}
