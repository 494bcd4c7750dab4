//! The test bench itself: a hollow node takes a pod the scheduler binds to it and reports
//! it Running and Ready; a pod asking to succeed ends Succeeded.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{TestControlPlane, eventually};

async fn phase_of(pods: &Api<Pod>, name: &str) -> Result<String, String> {
    let pod = pods.get(name).await.map_err(|error| error.to_string())?;
    Ok(pod
        .status
        .and_then(|status| status.phase)
        .unwrap_or_default())
}

#[tokio::test]
async fn a_hollow_node_reports_its_pods_as_a_kubelet_would() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    for (name, image) in [("runs", "hollow/run"), ("succeeds", "hollow/succeed")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}], "restartPolicy": "Never"},
        }))
        .expect("a pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("the pod is created");
    }
    for (name, phase) in [("runs", "Running"), ("succeeds", "Succeeded")] {
        eventually(
            &format!("{name} to be {phase}"),
            Duration::from_secs(10),
            || async {
                let seen = phase_of(&pods, name).await?;
                if seen == phase { Ok(()) } else { Err(seen) }
            },
        )
        .await;
    }
    let running = pods.get("runs").await.expect("the pod");
    assert!(wasmkube_controllers::pods::is_pod_ready(&running));
    assert_eq!(
        running.spec.and_then(|spec| spec.node_name).as_deref(),
        Some("hollow-1")
    );
}
