//! LoadBalancer Service status against a real API server with hollow nodes: the ingress
//! lists the Ready nodes' InternalIPs and follows nodes joining, turning NotReady and
//! going away; it is cleared when the Service stops being a LoadBalancer, and Services
//! with a load balancer class are left to their implementation.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Service};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually};

const WAIT: Duration = Duration::from_secs(10);

async fn create_service(client: &Client, service: Value) {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(service).expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("the service is created");
}

/// The Service's ingress as (ip, ipMode) pairs.
async fn ingress_of(client: &Client, name: &str) -> Result<Vec<(String, String)>, String> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service = services
        .get(name)
        .await
        .map_err(|error| error.to_string())?;
    Ok(service
        .status
        .and_then(|status| status.load_balancer)
        .and_then(|load_balancer| load_balancer.ingress)
        .unwrap_or_default()
        .into_iter()
        .map(|ingress| {
            (
                ingress.ip.unwrap_or_default(),
                ingress.ip_mode.unwrap_or_default(),
            )
        })
        .collect())
}

async fn wait_for_ingress(client: &Client, name: &str, ips: &[&str]) {
    let expected: Vec<(String, String)> = ips
        .iter()
        .map(|ip| ((*ip).to_owned(), "VIP".to_owned()))
        .collect();
    eventually(
        &format!("the ingress of {name} to be {ips:?}"),
        WAIT,
        || async {
            let seen = ingress_of(client, name).await?;
            if seen == expected {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn load_balancer_ingress_follows_the_ready_nodes() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _second = cluster
        .hollow_node_with_internal_ip("second", "192.168.1.20")
        .await;
    let _first = cluster
        .hollow_node_with_internal_ip("first", "192.168.1.10")
        .await;
    let _unaddressed = cluster.hollow_node("unaddressed").await;
    create_service(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    create_service(
        &client,
        json!({"metadata": {"name": "internal"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    create_service(
        &client,
        json!({"metadata": {"name": "elsewhere"}, "spec": {
            "type": "LoadBalancer", "loadBalancerClass": "example.com/other",
            "selector": {"app": "web"}, "ports": [{"port": 80}],
        }}),
    )
    .await;
    wait_for_ingress(&client, "web", &["192.168.1.10", "192.168.1.20"]).await;

    let _third = cluster
        .hollow_node_with_internal_ip("third", "192.168.1.15")
        .await;
    wait_for_ingress(
        &client,
        "web",
        &["192.168.1.10", "192.168.1.15", "192.168.1.20"],
    )
    .await;

    // The node's kubelet reports it not ready.
    let nodes: Api<Node> = Api::all(client.clone());
    let now = jiff::Timestamp::now().to_string();
    nodes
        .patch_status(
            "first",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "lastHeartbeatTime": now, "lastTransitionTime": now},
            ]}})),
        )
        .await
        .expect("the node reports not ready");
    wait_for_ingress(&client, "web", &["192.168.1.15", "192.168.1.20"]).await;
    nodes
        .delete("second", &DeleteParams::default())
        .await
        .expect("the node is deleted");
    wait_for_ingress(&client, "web", &["192.168.1.15"]).await;

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let updates: Vec<String> = events
        .list(&ListParams::default())
        .await
        .expect("the events")
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("UpdatedLoadBalancer"))
        .filter_map(|event| event.message)
        .collect();
    assert!(
        updates.contains(
            &"Updated LoadBalancer with new IPs: [] -> [192.168.1.10 192.168.1.20]".to_owned()
        ),
        "{updates:?}"
    );

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .patch(
            "web",
            &PatchParams::default(),
            // The API server here does not drop the node ports itself, as Kubernetes'
            // does on such a change, so the ports are given again without them.
            &Patch::Merge(json!({"spec": {
                "type": "ClusterIP",
                "allocateLoadBalancerNodePorts": null,
                "externalTrafficPolicy": null,
                "ports": [{"port": 80}],
            }})),
        )
        .await
        .expect("the service becomes a ClusterIP service");
    wait_for_ingress(&client, "web", &[]).await;
    assert_eq!(ingress_of(&client, "internal").await, Ok(Vec::new()));
    assert_eq!(ingress_of(&client, "elsewhere").await, Ok(Vec::new()));
}
