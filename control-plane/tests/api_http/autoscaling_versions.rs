//! HorizontalPodAutoscalers served as autoscaling/v2 (their storage version) and
//! autoscaling/v1 (converted), over HTTP and with the real kubectl 1.33 and 1.27, whose
//! `autoscale` verb sends protobuf: 1.33 as v2, 1.27 as v1.

use serde_json::json;

use crate::kubectl_cli::Kubectl;
use crate::support::{DEPLOYMENTS, deployment, start_cluster};

const HPAS_V1: &str = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
const HPAS_V2: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";

#[tokio::test]
async fn one_autoscaler_is_seen_through_both_versions() {
    let cluster = start_cluster().await;
    let mut watch = cluster.watch(&format!("{HPAS_V1}?watch=1")).await;
    let created = cluster
        .create(
            HPAS_V1,
            &json!({
                "apiVersion": "autoscaling/v1",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "maxReplicas": 4,
                    "targetCPUUtilizationPercentage": 50,
                },
            }),
        )
        .await;
    assert_eq!(created["apiVersion"], "autoscaling/v1");
    assert_eq!(created["spec"]["minReplicas"], 1, "defaulted: {created}");
    assert_eq!(created["spec"]["targetCPUUtilizationPercentage"], 50);

    let as_v2 = cluster.get(&format!("{HPAS_V2}/web")).await.expect(200);
    assert_eq!(as_v2["apiVersion"], "autoscaling/v2");
    assert_eq!(
        as_v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );

    // A metric v1 cannot express travels in the annotation Kubernetes uses.
    let mut with_memory = as_v2.clone();
    with_memory["spec"]["metrics"]
        .as_array_mut()
        .expect("metrics")
        .insert(0, json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}));
    cluster
        .put(&format!("{HPAS_V2}/web"), &with_memory)
        .await
        .expect(200);
    let as_v1 = cluster.get(&format!("{HPAS_V1}/web")).await.expect(200);
    let annotation = as_v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]
        .as_str()
        .expect("the other metrics' annotation");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(annotation).expect("JSON"),
        json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
    );

    // A v1 patch changes the CPU target and keeps the memory metric.
    let patched = cluster
        .merge_patch(
            &format!("{HPAS_V1}/web"),
            &json!({"spec": {"targetCPUUtilizationPercentage": 70}}),
        )
        .await
        .expect(200);
    assert_eq!(patched["spec"]["targetCPUUtilizationPercentage"], 70);
    let as_v2 = cluster.get(&format!("{HPAS_V2}/web")).await.expect(200);
    assert_eq!(as_v2["spec"]["metrics"][0]["resource"]["name"], "memory");
    assert_eq!(
        as_v2["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"],
        70
    );
    assert!(
        as_v2["metadata"].get("annotations").is_none(),
        "the stored object holds no round-trip annotations: {as_v2}"
    );

    let listed = cluster.get(HPAS_V1).await.expect(200);
    assert_eq!(listed["apiVersion"], "autoscaling/v1");
    assert_eq!(listed["items"][0]["apiVersion"], "autoscaling/v1");
    assert_eq!(
        listed["items"][0]["spec"]["targetCPUUtilizationPercentage"],
        70
    );

    let added = watch.next().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["apiVersion"], "autoscaling/v1");
    assert_eq!(
        added["object"]["spec"]["targetCPUUtilizationPercentage"],
        50
    );

    let deleted = cluster.delete(&format!("{HPAS_V1}/web")).await.expect(200);
    assert_eq!(deleted["status"], "Success");
    cluster
        .get(&format!("{HPAS_V2}/web"))
        .await
        .expect_failure(404, "NotFound");
}

#[tokio::test]
async fn discovery_serves_autoscaling_v2_first_and_v1() {
    let cluster = start_cluster().await;
    let group = cluster.get("/apis/autoscaling").await.expect(200);
    assert_eq!(
        group["versions"],
        json!([
            {"groupVersion": "autoscaling/v2", "version": "v2"},
            {"groupVersion": "autoscaling/v1", "version": "v1"},
        ])
    );
    assert_eq!(group["preferredVersion"]["version"], "v2");
    let resources = cluster.get("/apis/autoscaling/v1").await.expect(200);
    let names: Vec<&str> = resources["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|resource| resource["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "horizontalpodautoscalers",
            "horizontalpodautoscalers/status"
        ]
    );
}

/// `kubectl autoscale`, `get`, `describe` and `delete` with one kubectl.
async fn autoscale_with(binary: &str) {
    let cluster = start_cluster().await;
    cluster.create(DEPLOYMENTS, &deployment("echo")).await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubectl = Kubectl::new(binary, directory.path(), &cluster.plane);

    let created = kubectl
        .run(&[
            "autoscale",
            "deploy/echo",
            "--min=2",
            "--max=6",
            "--cpu-percent=50",
        ])
        .await
        .expect_success("kubectl autoscale");
    assert!(
        created.contains("horizontalpodautoscaler.autoscaling/echo autoscaled"),
        "{created}"
    );
    let stored = cluster.get(&format!("{HPAS_V2}/echo")).await.expect(200);
    assert_eq!(stored["spec"]["minReplicas"], 2);
    assert_eq!(stored["spec"]["maxReplicas"], 6);
    assert_eq!(
        stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        50
    );

    let listed = kubectl
        .run(&["get", "hpa"])
        .await
        .expect_success("kubectl get hpa");
    let row = listed
        .lines()
        .find(|line| line.starts_with("echo "))
        .unwrap_or_else(|| panic!("no echo row in:\n{listed}"));
    assert!(row.contains("Deployment/echo"), "{row}");
    assert!(row.contains("50%"), "{row}");

    let described = kubectl
        .run(&["describe", "hpa", "echo"])
        .await
        .expect_success("kubectl describe hpa");
    for expected in [
        "Name:",
        "Reference:",
        "Deployment/echo",
        "Min replicas:",
        "Max replicas:",
    ] {
        assert!(described.contains(expected), "{expected} in:\n{described}");
    }

    let deleted = kubectl
        .run(&["delete", "hpa", "echo"])
        .await
        .expect_success("kubectl delete hpa");
    assert!(
        deleted.contains("horizontalpodautoscaler.autoscaling \"echo\" deleted"),
        "{deleted}"
    );
    cluster
        .get(&format!("{HPAS_V2}/echo"))
        .await
        .expect_failure(404, "NotFound");
}

#[tokio::test]
async fn kubectl_1_33_autoscales_gets_describes_and_deletes() {
    autoscale_with("kubectl.1.33").await;
}

#[tokio::test]
async fn kubectl_1_27_autoscales_gets_describes_and_deletes() {
    autoscale_with("kubectl.1.27").await;
}
