//! Node IPAM against a real API server: nodes get the lowest free block of a small cluster
//! range, a full range is reported with a `CIDRNotAvailable` event, a deleted node's block
//! is given again, blocks set before a start count as used, and the API server refuses
//! changing a set podCIDR.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{TestControlPlane, eventually};
use wasmkube_controllers::ControllerManagerOptions;

const WAIT: Duration = Duration::from_secs(10);

/// Two /24 blocks: 10.250.0.0/24 and 10.250.1.0/24.
fn two_blocks() -> ControllerManagerOptions {
    ControllerManagerOptions {
        cluster_cidr: "10.250.0.0/23".parse().expect("a CIDR"),
        node_cidr_mask_size: 24,
        ..ControllerManagerOptions::default()
    }
}

async fn pod_cidrs_of(client: &Client, name: &str) -> Option<(String, Vec<String>)> {
    let nodes: Api<Node> = Api::all(client.clone());
    let spec = nodes.get(name).await.ok()?.spec?;
    Some((spec.pod_cidr?, spec.pod_cidrs.unwrap_or_default()))
}

async fn wait_for_cidr_not_available(client: &Client, node: &str) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually(
        &format!("a CIDRNotAvailable event for {node}"),
        WAIT,
        || async {
            let listed = events
                .list(&ListParams::default())
                .await
                .map_err(|error| error.to_string())?;
            listed
                .items
                .into_iter()
                .find(|event| {
                    event.reason.as_deref() == Some("CIDRNotAvailable")
                        && event.involved_object.name.as_deref() == Some(node)
                })
                .ok_or_else(|| "no event yet".to_owned())
        },
    )
    .await
}

#[tokio::test]
async fn nodes_get_the_lowest_free_block_and_a_deleted_nodes_block_is_given_again() {
    let cluster = TestControlPlane::start_with(two_blocks()).await;
    let client = cluster.client.clone();
    let first = cluster.hollow_node("first").await;
    let _second = cluster.hollow_node("second").await;
    let mut given = BTreeSet::new();
    for node in ["first", "second"] {
        let cidr = cluster.pod_cidr_of(node).await;
        let (pod_cidr, pod_cidrs) = pod_cidrs_of(&client, node).await.expect("the node's CIDRs");
        assert_eq!(pod_cidrs, vec![pod_cidr.clone()]);
        assert_eq!(cidr, pod_cidr);
        given.insert(cidr);
    }
    assert_eq!(
        given,
        BTreeSet::from(["10.250.0.0/24".to_owned(), "10.250.1.0/24".to_owned()])
    );

    let _third = cluster.hollow_node("third").await;
    let event = wait_for_cidr_not_available(&client, "third").await;
    assert_eq!(
        event.message.as_deref(),
        Some("Node third status is now: CIDRNotAvailable")
    );
    assert_eq!(event.type_.as_deref(), Some("Normal"));
    assert_eq!(event.involved_object.kind.as_deref(), Some("Node"));
    assert_eq!(
        event.source.and_then(|source| source.component).as_deref(),
        Some("cidrAllocator")
    );
    assert_eq!(pod_cidrs_of(&client, "third").await, None);

    let freed = cluster.pod_cidr_of("first").await;
    drop(first);
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .delete("first", &DeleteParams::default())
        .await
        .expect("the node is deleted");
    let reused = cluster.pod_cidr_of("third").await;
    assert_eq!(reused, freed);
}

#[tokio::test]
async fn blocks_set_before_a_start_are_used_and_a_set_pod_cidr_cannot_change() {
    let mut cluster = TestControlPlane::start_with(two_blocks()).await;
    cluster.stop_controller_manager().await;
    let client = cluster.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let preset: Node = serde_json::from_value(json!({
        "metadata": {"name": "preset"},
        "spec": {"podCIDR": "10.250.0.0/24", "podCIDRs": ["10.250.0.0/24"]},
    }))
    .expect("a node");
    nodes
        .create(&PostParams::default(), &preset)
        .await
        .expect("the node is created");
    cluster.start_controller_manager();
    let _fresh = cluster.hollow_node("fresh").await;
    assert_eq!(cluster.pod_cidr_of("fresh").await, "10.250.1.0/24");
    assert_eq!(
        pod_cidrs_of(&client, "preset").await,
        Some(("10.250.0.0/24".to_owned(), vec!["10.250.0.0/24".to_owned()]))
    );

    let refused = nodes
        .patch(
            "fresh",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"podCIDR": "10.250.0.0/24", "podCIDRs": ["10.250.0.0/24"]}}),
            ),
        )
        .await
        .expect_err("a set podCIDR cannot change");
    let kube::Error::Api(status) = refused else {
        panic!("not an API error: {refused}");
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains(
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"
        ),
        "{}",
        status.message
    );
}
