//! The calculator against the cases of Kubernetes' replica_calculator_test.go: plain
//! scale up and down, the tolerance, missing and unready pods, missing requests.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;

const SETTINGS: CalculatorSettings = CalculatorSettings {
    tolerance: 0.1,
    cpu_initialization_period: Duration::from_secs(300),
    initial_readiness_delay: Duration::from_secs(30),
};

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("a time")
}

fn ago(seconds: i64) -> String {
    (now() - SignedDuration::from_secs(seconds)).to_string()
}

/// A running pod with one container requesting `cpu`, started and ready long ago.
fn pod(name: &str, cpu_request: Option<&str>) -> Pod {
    pod_with(name, "Running", cpu_request, "True", 600, 600)
}

fn pod_with(
    name: &str,
    phase: &str,
    cpu_request: Option<&str>,
    ready: &str,
    started_seconds_ago: i64,
    ready_changed_seconds_ago: i64,
) -> Pod {
    let resources = match cpu_request {
        Some(cpu) => json!({"requests": {"cpu": cpu}}),
        None => json!({}),
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "testbox", "resources": resources}]},
        "status": {
            "phase": phase,
            "startTime": ago(started_seconds_ago),
            "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": ago(ready_changed_seconds_ago)}],
        },
    }))
    .expect("a pod")
}

fn metrics(values: &[(&str, i64)]) -> PodMetrics {
    values
        .iter()
        .map(|(pod, value)| {
            (
                (*pod).to_owned(),
                PodMetric {
                    timestamp: now() - SignedDuration::from_secs(5),
                    window: Duration::from_secs(15),
                    value: *value,
                },
            )
        })
        .collect()
}

fn input<'a>(pods: &'a [Pod], metrics: &'a PodMetrics, current: i32) -> CalculationInput<'a> {
    CalculationInput {
        settings: &SETTINGS,
        current_replicas: current,
        resource: "cpu",
        container: None,
        pods,
        metrics,
        now: now(),
    }
}

#[test]
fn utilization_above_target_scales_up_in_proportion() {
    let pods = [
        pod("a", Some("1")),
        pod("b", Some("1")),
        pod("c", Some("1")),
    ];
    let metrics = metrics(&[("a", 500), ("b", 500), ("c", 500)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 3), 30).expect("a count");
    assert_eq!(
        proposal,
        UtilizationProposal {
            replicas: 5,
            utilization: 50,
            raw_average: 500
        }
    );
}

#[test]
fn a_change_within_the_tolerance_keeps_the_count() {
    let pods = [pod("a", Some("1")), pod("b", Some("1"))];
    let metrics = metrics(&[("a", 520), ("b", 530)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 2), 50).expect("a count");
    assert_eq!((proposal.replicas, proposal.utilization), (2, 52));
}

#[test]
fn on_a_scale_down_a_pod_without_metrics_counts_as_using_its_whole_request() {
    let pods = [
        pod("a", Some("1")),
        pod("b", Some("1")),
        pod("c", Some("1")),
        pod("d", Some("1")),
    ];
    let metrics = metrics(&[("a", 100), ("b", 100), ("c", 100)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 4), 50).expect("a count");
    // (300m + 1000m) / 4000m = 32% of a 50% target: ceil(0.64 × 4) = 3, not the 1 the
    // three measured pods alone would give.
    assert_eq!((proposal.replicas, proposal.utilization), (3, 10));
}

#[test]
fn on_a_scale_up_unready_pods_count_as_using_nothing() {
    let pods = [
        pod("a", Some("1")),
        pod("b", Some("1")),
        pod_with("starting", "Running", Some("1"), "False", 10, 10),
    ];
    let metrics = metrics(&[("a", 1000), ("b", 1000), ("starting", 1000)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 3), 50).expect("a count");
    // The ready pods are at 100%; with the unready one at zero it is 66%: ceil(1.32 × 3).
    assert_eq!((proposal.replicas, proposal.utilization), (4, 100));
}

#[test]
fn a_sample_from_before_a_whole_window_of_readiness_is_not_trusted() {
    // Ready 10 s ago, but the 15 s window of its sample (taken 5 s ago) began before.
    let pods = [
        pod("a", Some("1")),
        pod_with("fresh", "Running", Some("1"), "True", 60, 10),
    ];
    let metrics = metrics(&[("a", 200), ("fresh", 5000)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 2), 50).expect("a count");
    // Only "a" counts, at 20% of a 50% target: one pod is enough.
    assert_eq!((proposal.replicas, proposal.utilization), (1, 20));
}

#[test]
fn pending_failed_and_deleted_pods_are_not_counted() {
    let mut deleted = pod("deleted", Some("1"));
    deleted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let pods = [
        pod("a", Some("1")),
        pod_with("failed", "Failed", Some("1"), "False", 600, 600),
        pod_with("pending", "Pending", Some("1"), "False", 1, 1),
        deleted,
    ];
    let metrics = metrics(&[("a", 1000), ("failed", 0), ("deleted", 0)]);
    let proposal = utilization_replicas(&input(&pods, &metrics, 2), 50).expect("a count");
    // Only "a" is measured (100%, twice the target); the pending pod counts as zero on
    // the way up: 1000m / 2000m = 50%, within the tolerance, so the count stays.
    assert_eq!((proposal.replicas, proposal.utilization), (2, 100));
}

#[test]
fn a_container_without_a_request_is_named_in_the_error() {
    let pods = [pod("a", Some("1")), pod("no-request", None)];
    let metrics = metrics(&[("a", 500), ("no-request", 500)]);
    assert_eq!(
        utilization_replicas(&input(&pods, &metrics, 2), 50)
            .unwrap_err()
            .to_string(),
        "missing request for cpu in container app of Pod no-request"
    );
}

#[test]
fn without_pods_or_ready_metrics_there_is_no_count() {
    let no_metrics = PodMetrics::new();
    assert_eq!(
        utilization_replicas(&input(&[], &no_metrics, 1), 50).unwrap_err(),
        CalculationError::NoPods
    );
    let pods = [pod_with("starting", "Running", Some("1"), "False", 10, 10)];
    let metrics = metrics(&[("starting", 500)]);
    assert_eq!(
        utilization_replicas(&input(&pods, &metrics, 1), 50)
            .unwrap_err()
            .to_string(),
        "did not receive metrics for targeted pods (pods might be unready)"
    );
}

#[test]
fn an_average_value_target_divides_the_average_by_it() {
    let pods = [pod("a", None), pod("b", None)];
    let metrics = metrics(&[("a", 200), ("b", 400)]);
    let proposal = average_value_replicas(&input(&pods, &metrics, 2), 100).expect("a count");
    assert_eq!(
        proposal,
        AverageValueProposal {
            replicas: 6,
            average: 300
        }
    );
}

#[test]
fn a_named_container_uses_only_its_own_request() {
    let mut with_sidecar = pod("a", Some("500m"));
    if let Some(spec) = with_sidecar.spec.as_mut() {
        spec.containers.push(
            serde_json::from_value(
                json!({"name": "sidecar", "resources": {"requests": {"cpu": "100m"}}}),
            )
            .expect("a container"),
        );
    }
    let pods = [with_sidecar];
    let metrics = metrics(&[("a", 500)]);
    let whole_pod = utilization_replicas(&input(&pods, &metrics, 1), 100).expect("a count");
    assert_eq!(whole_pod.utilization, 83);
    let app_only = CalculationInput {
        container: Some("app"),
        ..input(&pods, &metrics, 1)
    };
    assert_eq!(
        utilization_replicas(&app_only, 100)
            .expect("a count")
            .utilization,
        100
    );
    let unknown = CalculationInput {
        container: Some("nope"),
        ..input(&pods, &metrics, 1)
    };
    assert_eq!(
        utilization_replicas(&unknown, 100).unwrap_err().to_string(),
        "container nope not found in Pod a"
    );
}
