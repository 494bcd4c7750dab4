//! Decoding HorizontalPodAutoscalers as `kubectl autoscale` sends them: kubectl 1.33 as
//! `autoscaling/v2` with a CPU Utilization metric, kubectl 1.27 as `autoscaling/v1` with
//! targetCPUUtilizationPercentage. Go writes the status's replica counts, zero or not.

mod support;

use serde_json::json;
use support::{envelope, go_style_metadata, map_entry};
use wasmkube_protobuf::decode_object;
use wasmkube_protobuf::wire::MessageWriter;

fn scale_target_ref() -> MessageWriter {
    MessageWriter::build(|reference| {
        reference
            .string(1, "Deployment")
            .string(2, "echo")
            .string(3, "apps/v1");
    })
}

#[test]
fn decodes_an_autoscaling_v2_horizontal_pod_autoscaler_as_kubectl_autoscale_sends_it() {
    // kubectl autoscale deploy/echo --min=2 --max=6 --cpu-percent=50
    let target = MessageWriter::build(|target| {
        target.string(1, "Utilization").number(4, 50);
    });
    let resource = MessageWriter::build(|resource| {
        resource.string(1, "cpu").message(2, target);
    });
    let metric = MessageWriter::build(|metric| {
        metric.string(1, "Resource").message(4, resource);
    });
    let spec = MessageWriter::build(|spec| {
        spec.message(1, scale_target_ref())
            .number(2, 2)
            .number(3, 6)
            .message(4, metric);
    });
    let status = MessageWriter::build(|status| {
        status.number(3, 0).number(4, 0);
    });
    let autoscaler = MessageWriter::build(|autoscaler| {
        autoscaler
            .message(1, go_style_metadata("echo", |_| {}))
            .message(2, spec)
            .message(3, status);
    });
    let object = decode_object(&envelope(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        autoscaler,
    ))
    .expect("the autoscaler decodes");
    assert_eq!(
        object,
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "echo", "generation": 0},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "echo", "apiVersion": "apps/v1"},
                "minReplicas": 2,
                "maxReplicas": 6,
                "metrics": [{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }],
            },
            "status": {"currentReplicas": 0, "desiredReplicas": 0},
        })
    );
}

#[test]
fn decodes_behavior_and_quantities_of_an_autoscaling_v2_horizontal_pod_autoscaler() {
    let policy = MessageWriter::build(|policy| {
        policy.string(1, "Pods").number(2, 4).number(3, 60);
    });
    let scale_up = MessageWriter::build(|rules| {
        rules
            .string(1, "Max")
            .message(2, policy)
            .number(3, 0)
            .message(
                4,
                MessageWriter::build(|quantity| _ = quantity.string(1, "10m")),
            );
    });
    let behavior = MessageWriter::build(|behavior| _ = behavior.message(1, scale_up));
    let target = MessageWriter::build(|target| {
        target.string(1, "AverageValue").message(
            3,
            MessageWriter::build(|quantity| _ = quantity.string(1, "100Mi")),
        );
    });
    let metric = MessageWriter::build(|metric| {
        metric.string(1, "Resource").message(
            4,
            MessageWriter::build(|resource| _ = resource.string(1, "memory").message(2, target)),
        );
    });
    let spec = MessageWriter::build(|spec| {
        spec.message(1, scale_target_ref())
            .number(3, 3)
            .message(4, metric)
            .message(5, behavior);
    });
    let autoscaler = MessageWriter::build(|autoscaler| {
        autoscaler
            .message(
                1,
                go_style_metadata("memory", |metadata| {
                    metadata.message(11, map_entry("app", b"echo"));
                }),
            )
            .message(2, spec);
    });
    let object = decode_object(&envelope(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        autoscaler,
    ))
    .expect("the autoscaler decodes");
    assert_eq!(object["metadata"]["labels"], json!({"app": "echo"}));
    assert_eq!(
        object["spec"]["metrics"][0]["resource"],
        json!({"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}})
    );
    assert_eq!(
        object["spec"]["behavior"],
        json!({"scaleUp": {
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}],
            "stabilizationWindowSeconds": 0,
            "tolerance": "10m",
        }})
    );
}

#[test]
fn decodes_an_autoscaling_v1_horizontal_pod_autoscaler_as_kubectl_1_27_sends_it() {
    let spec = MessageWriter::build(|spec| {
        spec.message(1, scale_target_ref())
            .number(2, 2)
            .number(3, 6)
            .number(4, 50);
    });
    let status = MessageWriter::build(|status| {
        status.number(3, 0).number(4, 0);
    });
    let autoscaler = MessageWriter::build(|autoscaler| {
        autoscaler
            .message(1, go_style_metadata("echo", |_| {}))
            .message(2, spec)
            .message(3, status);
    });
    let object = decode_object(&envelope(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        autoscaler,
    ))
    .expect("the autoscaler decodes");
    assert_eq!(
        object["spec"],
        json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "echo", "apiVersion": "apps/v1"},
            "minReplicas": 2,
            "maxReplicas": 6,
            "targetCPUUtilizationPercentage": 50,
        })
    );
    assert_eq!(object["apiVersion"], "autoscaling/v1");
}
