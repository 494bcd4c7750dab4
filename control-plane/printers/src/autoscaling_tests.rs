use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn autoscaler(metrics: Value, current_metrics: Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": metrics
        },
        "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": current_metrics}
    })
}

#[test]
fn cpu_utilization_target() {
    let web = autoscaler(
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "210m"}}}]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&web, now()),
        [
            json!("web"),
            json!("Deployment/web"),
            json!("cpu: 42%/80%"),
            json!("1"),
            json!(10),
            json!(3),
            json!("60m")
        ]
    );
}

#[test]
fn metrics_without_status_are_unknown() {
    let web = autoscaler(
        json!([
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}
        ]),
        json!([]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&web, now())[2],
        json!("memory: <unknown>/500Mi, cpu: <unknown>/<auto>")
    );
}

#[test]
fn pods_object_and_external_metrics_with_more() {
    let web = autoscaler(
        json!([
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {"type": "Object", "object": {"metric": {"name": "hits"}, "target": {"type": "Value", "value": "10k"}}},
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}}
        ]),
        json!([
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "900"}}},
            {"type": "Object", "object": {"metric": {"name": "hits"}, "current": {"value": "12k"}}}
        ]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&web, now())[2],
        json!("900/1k, 12k/10k + 1 more...")
    );
    let external_only = autoscaler(
        json!([{"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}}]),
        json!([{"type": "External", "external": {"current": {"averageValue": "12"}}}]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&external_only, now())[2],
        json!("12/30 (avg)")
    );
}

#[test]
fn container_resource_and_unknown_metric_types() {
    let web = autoscaler(
        json!([
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}},
            {"type": "Custom"}
        ]),
        json!([{"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "current": {"averageUtilization": 30}}}]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&web, now())[2],
        json!("cpu: 30%/60%, <unknown type>")
    );
}

#[test]
fn malformed_metrics_do_not_panic() {
    let web = autoscaler(
        json!([{"type": "Pods"}, {"type": "Object"}]),
        json!([{"type": "Pods", "pods": {}}]),
    );
    assert_eq!(
        horizontal_pod_autoscaler_cells(&web, now())[2],
        json!("<nil>/<nil>, <unknown>/<nil>")
    );
}

#[test]
fn empty_autoscaler_prints_zero_values() {
    assert_eq!(
        horizontal_pod_autoscaler_cells(&json!({}), now()),
        [
            json!(""),
            json!("/"),
            json!("<none>"),
            json!("<unset>"),
            json!(0),
            json!(0),
            json!("<unknown>")
        ]
    );
    let names: Vec<&str> = horizontal_pod_autoscaler_columns()
        .iter()
        .map(|column| column.name)
        .collect();
    assert_eq!(
        names,
        [
            "Name",
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age"
        ]
    );
}
