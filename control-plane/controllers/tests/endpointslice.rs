//! The EndpointSlice controller against a real API server with a hollow node: slices'
//! labels, owner, ports and endpoint conditions, readiness and termination, the maximum
//! slice size, the placeholder slice, and slices going with their Service.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually};
use wasmkube_controllers::ControllerManagerOptions;

const WAIT: Duration = Duration::from_secs(10);

async fn create_service(client: &Client, service: Value) -> Service {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(service).expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("the service is created")
}

async fn create_pod(client: &Client, pod: Value) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(pod).expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created");
}

async fn slices_of(client: &Client, service: &str) -> Result<Vec<EndpointSlice>, String> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let listing = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    slices
        .list(&listing)
        .await
        .map(|list| list.items)
        .map_err(|error| error.to_string())
}

/// Each endpoint as (pod, ready, serving, terminating), sorted.
fn conditions(slices: &[EndpointSlice]) -> Vec<(String, bool, bool, bool)> {
    let mut seen: Vec<(String, bool, bool, bool)> = slices
        .iter()
        .flat_map(|slice| slice.endpoints.iter())
        .map(|endpoint| {
            let condition = endpoint.conditions.clone().unwrap_or_default();
            (
                pod_of(endpoint),
                condition.ready.unwrap_or(false),
                condition.serving.unwrap_or(false),
                condition.terminating.unwrap_or(false),
            )
        })
        .collect();
    seen.sort();
    seen
}

fn pod_of(endpoint: &Endpoint) -> String {
    endpoint
        .target_ref
        .as_ref()
        .and_then(|reference| reference.name.clone())
        .unwrap_or_default()
}

async fn wait_for_conditions(
    client: &Client,
    service: &str,
    expected: &[(&str, bool, bool, bool)],
) -> Vec<EndpointSlice> {
    let expected: Vec<(String, bool, bool, bool)> = expected
        .iter()
        .map(|(pod, ready, serving, terminating)| {
            ((*pod).to_owned(), *ready, *serving, *terminating)
        })
        .collect();
    eventually(
        &format!("the slices of {service} to hold {expected:?}"),
        WAIT,
        || async {
            let slices = slices_of(client, service).await?;
            let seen = conditions(&slices);
            if seen == expected {
                Ok(slices)
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await
}

#[tokio::test]
async fn slices_list_pods_with_their_conditions_through_readiness_and_termination() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    let service = create_service(
        &client,
        json!({
            "metadata": {"name": "web", "labels": {"tier": "frontend"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        }),
    )
    .await;
    let ports = json!([{"name": "http", "containerPort": 8080}]);
    create_pod(
        &client,
        json!({
            "metadata": {"name": "ready", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "hollow/run", "ports": ports}]},
        }),
    )
    .await;
    create_pod(
        &client,
        json!({
            "metadata": {"name": "slow", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "hollow/not-ready", "ports": ports}]},
        }),
    )
    .await;
    // A finalizer holds this pod while it terminates, as a slow shutdown would.
    create_pod(&client, json!({
        "metadata": {"name": "leaving", "labels": {"app": "web"}, "finalizers": ["example.com/hold"]},
        "spec": {"containers": [{"name": "app", "image": "hollow/run", "ports": ports}]},
    }))
    .await;

    let slices = wait_for_conditions(
        &client,
        "web",
        &[
            ("leaving", true, true, false),
            ("ready", true, true, false),
            ("slow", false, false, false),
        ],
    )
    .await;
    assert_eq!(slices.len(), 1);
    let slice = &slices[0];
    assert_eq!(slice.address_type, "IPv4");
    assert!(slice.name_any().starts_with("web-"), "{}", slice.name_any());
    assert_eq!(
        slice.labels(),
        &BTreeMap::from([
            ("tier".to_owned(), "frontend".to_owned()),
            ("kubernetes.io/service-name".to_owned(), "web".to_owned()),
            (
                "endpointslice.kubernetes.io/managed-by".to_owned(),
                "endpointslice-controller.k8s.io".to_owned()
            ),
        ])
    );
    let owner = &slice.owner_references()[0];
    assert_eq!(owner.kind, "Service");
    assert_eq!(Some(owner.uid.clone()), service.uid());
    assert_eq!(owner.controller, Some(true));
    let port = &slice.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ready = slice
        .endpoints
        .iter()
        .find(|endpoint| pod_of(endpoint) == "ready")
        .expect("the ready pod's endpoint");
    let ready_pod = pods.get("ready").await.expect("the pod");
    assert_eq!(
        ready.addresses,
        vec![
            ready_pod
                .status
                .and_then(|status| status.pod_ip)
                .expect("a pod IP")
        ]
    );
    assert_eq!(ready.node_name.as_deref(), Some("hollow-1"));

    let now = jiff::Timestamp::now().to_string();
    pods.patch_status(
        "slow",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}})),
    )
    .await
    .expect("the pod turns ready");
    pods.delete("leaving", &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    wait_for_conditions(
        &client,
        "web",
        &[
            ("leaving", false, true, true),
            ("ready", true, true, false),
            ("slow", true, true, false),
        ],
    )
    .await;
    pods.patch(
        "leaving",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("the finalizer is removed");
    wait_for_conditions(
        &client,
        "web",
        &[("ready", true, true, false), ("slow", true, true, false)],
    )
    .await;
}

#[tokio::test]
async fn endpoints_spread_over_slices_of_the_maximum_size_which_go_with_their_service() {
    let cluster = TestControlPlane::start_with(ControllerManagerOptions {
        max_endpoints_per_slice: 2,
        ..ControllerManagerOptions::default()
    })
    .await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    create_service(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    for index in 0..5 {
        create_pod(
            &client,
            json!({
                "metadata": {"name": format!("web-{index}"), "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
            }),
        )
        .await;
    }
    let expected: Vec<(String, bool, bool, bool)> = (0..5)
        .map(|index| (format!("web-{index}"), true, true, false))
        .collect();
    let slices = eventually("five endpoints in slices of two", WAIT, || async {
        let slices = slices_of(&client, "web").await?;
        let mut sizes: Vec<usize> = slices.iter().map(|slice| slice.endpoints.len()).collect();
        sizes.sort();
        if conditions(&slices) == expected && sizes == vec![1, 2, 2] {
            Ok(slices)
        } else {
            Err(format!("sizes {sizes:?}, {:?}", conditions(&slices)))
        }
    })
    .await;
    for slice in &slices {
        assert_eq!(slice.ports.as_ref().map(Vec::len), Some(1));
    }

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("the service is deleted");
    eventually("the slices to be collected", WAIT, || async {
        let left = slices_of(&client, "web").await?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{} left", left.len()))
        }
    })
    .await;
}

#[tokio::test]
async fn a_service_without_endpoints_has_one_empty_slice_and_headless_ones_are_labelled() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    create_service(
        &client,
        json!({"metadata": {"name": "nothing"}, "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}}),
    )
    .await;
    create_service(
        &client,
        json!({"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "selector": {"app": "nobody"}}}),
    )
    .await;
    create_service(
        &client,
        json!({"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    for service in ["nothing", "headless"] {
        let slices = eventually(
            &format!("the placeholder slice of {service}"),
            WAIT,
            || async {
                let slices = slices_of(&client, service).await?;
                if slices.len() == 1 {
                    Ok(slices)
                } else {
                    Err(format!("{} slices", slices.len()))
                }
            },
        )
        .await;
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports.as_deref().map(<[_]>::len).unwrap_or(0), 0);
        assert_eq!(
            slices[0]
                .labels()
                .get("service.kubernetes.io/headless")
                .is_some(),
            service == "headless"
        );
    }
    assert!(
        slices_of(&client, "manual")
            .await
            .expect("a list")
            .is_empty()
    );
}
