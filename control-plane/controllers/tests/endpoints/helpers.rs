//! What the Endpoints tests share: Services and pods created from JSON, pods made
//! Ready, and waiting for the Endpoints to take a shape.

use std::time::Duration;

use crate::support::eventually;
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Pod, Service};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn create_service(client: &Client, service: Value) -> Service {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(service).expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("the service is created")
}

/// A pod for the hollow node: `image` says whether it turns Ready (`hollow/run`) or not
/// (`hollow/not-ready`).
pub async fn create_pod(
    client: &Client,
    name: &str,
    pod_labels: Value,
    image: &str,
    ports: Value,
) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": pod_labels},
        "spec": {"containers": [{"name": "app", "image": image, "ports": ports}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created")
}

pub async fn pod_ip(client: &Client, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("pod {name} to get an IP"), WAIT, || async {
        let pod = pods.get(name).await.map_err(|error| error.to_string())?;
        pod.status
            .and_then(|status| status.pod_ip)
            .ok_or_else(|| "no podIP yet".to_owned())
    })
    .await
}

/// A subset as pod names: (ready, not ready, ports as name:port).
pub type Shape = (Vec<String>, Vec<String>, Vec<String>);

pub fn shape(subsets: &[EndpointSubset]) -> Vec<Shape> {
    let names = |addresses: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
        let mut names: Vec<String> = addresses
            .iter()
            .flatten()
            .filter_map(|address| address.target_ref.as_ref()?.name.clone())
            .collect();
        names.sort();
        names
    };
    let mut shapes: Vec<Shape> = subsets
        .iter()
        .map(|subset| {
            let mut ports: Vec<String> = subset
                .ports
                .iter()
                .flatten()
                .map(|port| format!("{}:{}", port.name.clone().unwrap_or_default(), port.port))
                .collect();
            ports.sort();
            (
                names(&subset.addresses),
                names(&subset.not_ready_addresses),
                ports,
            )
        })
        .collect();
    shapes.sort();
    shapes
}

pub fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

pub async fn wait_for_shape(client: &Client, service: &str, expected: Vec<Shape>) -> Endpoints {
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually(
        &format!("endpoints {service} to be {expected:?}"),
        WAIT,
        || async {
            let found = endpoints
                .get_opt(service)
                .await
                .map_err(|error| error.to_string())?
                .ok_or_else(|| "no endpoints".to_owned())?;
            let seen = shape(found.subsets.as_deref().unwrap_or_default());
            if seen == expected {
                Ok(found)
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await
}

/// Reports the pod Ready as its kubelet would.
pub async fn make_ready(client: &Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = jiff::Timestamp::now().to_string();
    let conditions = json!({"status": {"conditions": [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
    ]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(conditions))
        .await
        .expect("the pod is reported ready");
}
