//! The autoscaling/v1 ↔ v2 conversion of HorizontalPodAutoscalers, against what
//! Kubernetes' conversion produces.

use serde_json::{Value, json};

use super::horizontal_pod_autoscaler::{
    BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION, METRIC_SPECS_ANNOTATION,
    METRIC_STATUSES_ANNOTATION, v1_to_v2, v2_to_v1,
};

fn scale_target_ref() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "echo"})
}

fn annotation(object: &Value, key: &str) -> Value {
    let text = object["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no annotation {key} in {object}"));
    serde_json::from_str(text).expect("the annotation is JSON")
}

#[test]
fn a_v1_cpu_target_becomes_a_resource_metric_with_a_utilization_target() {
    let v1 = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "echo", "namespace": "demo"},
        "spec": {"scaleTargetRef": scale_target_ref(), "minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 50},
    });
    let v2 = v1_to_v2(v1).expect("converts");
    assert_eq!(
        v2,
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "echo", "namespace": "demo"},
            "spec": {
                "scaleTargetRef": scale_target_ref(),
                "minReplicas": 2,
                "maxReplicas": 6,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
            },
        })
    );
}

#[test]
fn a_v1_object_without_a_target_gets_the_default_80_percent() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "echo"}, "spec": {"scaleTargetRef": scale_target_ref(), "maxReplicas": 3}});
    let v2 = v1_to_v2(v1).expect("converts");
    assert_eq!(
        v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
}

fn stored_with_everything() -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "echo", "namespace": "demo", "annotations": {"team": "web"}},
        "spec": {
            "scaleTargetRef": scale_target_ref(),
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "requests"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}},
        },
        "status": {
            "observedGeneration": 3,
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "120m", "averageUtilization": 40}}},
            ],
            "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": "2025-01-01T00:00:00Z"}],
        },
    })
}

#[test]
fn v2_fields_v1_lacks_travel_in_annotations() {
    let v1 = v2_to_v1(&stored_with_everything());
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(
        v1["spec"],
        json!({"scaleTargetRef": scale_target_ref(), "minReplicas": 1, "maxReplicas": 10, "targetCPUUtilizationPercentage": 60})
    );
    assert_eq!(
        v1["status"],
        json!({"observedGeneration": 3, "currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40})
    );
    assert_eq!(v1["metadata"]["annotations"]["team"], "web");
    assert_eq!(
        annotation(&v1, METRIC_SPECS_ANNOTATION),
        json!([
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
            {"type": "Pods", "pods": {"metricName": "requests", "targetAverageValue": "10"}},
        ])
    );
    assert_eq!(
        annotation(&v1, METRIC_STATUSES_ANNOTATION),
        json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 40, "currentAverageValue": "120m"}}])
    );
    assert_eq!(
        annotation(&v1, CONDITIONS_ANNOTATION),
        stored_with_everything()["status"]["conditions"]
    );
    assert_eq!(
        annotation(&v1, BEHAVIOR_ANNOTATION),
        json!({"ScaleUp": null, "ScaleDown": {"StabilizationWindowSeconds": 60, "SelectPolicy": "Max", "Policies": [{"Type": "Percent", "Value": 100, "PeriodSeconds": 15}], "Tolerance": null}})
    );
}

#[test]
fn a_v1_update_of_what_v1_showed_keeps_every_v2_field() {
    let stored = stored_with_everything();
    let round_trip = v1_to_v2(v2_to_v1(&stored)).expect("converts");
    assert_eq!(round_trip, stored);
}

#[test]
fn stale_round_trip_annotations_on_the_stored_object_are_not_shown() {
    let mut stored = stored_with_everything();
    stored["metadata"]["annotations"][METRIC_SPECS_ANNOTATION] = json!("[]");
    stored["spec"]["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]);
    let v1 = v2_to_v1(&stored);
    assert!(
        v1["metadata"]["annotations"]
            .get(METRIC_SPECS_ANNOTATION)
            .is_none(),
        "{v1}"
    );
}

#[test]
fn malformed_annotations_are_ignored_as_kubernetes_ignores_them() {
    let v1 = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "echo", "annotations": {METRIC_SPECS_ANNOTATION: "{not json", BEHAVIOR_ANNOTATION: "[]"}},
        "spec": {"scaleTargetRef": scale_target_ref(), "maxReplicas": 3, "targetCPUUtilizationPercentage": 70},
    });
    let v2 = v1_to_v2(v1).expect("converts");
    assert_eq!(v2["spec"]["metrics"].as_array().map(Vec::len), Some(1));
    assert!(v2["spec"].get("behavior").is_none());
    assert!(v2["metadata"].get("annotations").is_none(), "{v2}");
}
