//! Endpoints following their pods: readiness, named and numbered ports, deletions, hand
//! edits put back, and headless Services.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::helpers::{
    WAIT, create_pod, create_service, make_ready, owned, pod_ip, shape, wait_for_shape,
};
use crate::support::{TestControlPlane, labels};

#[tokio::test]
async fn endpoints_follow_ready_and_not_ready_pods_by_named_and_numbered_ports() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    create_service(
        &client,
        json!({
            "metadata": {"name": "web", "labels": {"tier": "frontend"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": 9100},
                ],
            },
        }),
    )
    .await;
    let http = json!([{"name": "http", "containerPort": 8080}]);
    create_pod(
        &client,
        "web-1",
        json!({"app": "web"}),
        "hollow/run",
        http.clone(),
    )
    .await;
    create_pod(
        &client,
        "web-2",
        json!({"app": "web"}),
        "hollow/not-ready",
        http.clone(),
    )
    .await;
    // No port named http: this pod serves only the numbered metrics port.
    create_pod(
        &client,
        "web-3",
        json!({"app": "web"}),
        "hollow/run",
        json!([]),
    )
    .await;
    create_pod(
        &client,
        "other",
        json!({"app": "other"}),
        "hollow/run",
        http,
    )
    .await;

    let endpoints = wait_for_shape(
        &client,
        "web",
        vec![
            (owned(&["web-1"]), owned(&["web-2"]), owned(&["http:8080"])),
            (
                owned(&["web-1", "web-3"]),
                owned(&["web-2"]),
                owned(&["metrics:9100"]),
            ),
        ],
    )
    .await;
    assert_eq!(endpoints.labels(), &labels(&[("tier", "frontend")]));
    let trigger_time = endpoints
        .annotations()
        .get("endpoints.kubernetes.io/last-change-trigger-time")
        .expect("the trigger time annotation");
    assert!(
        trigger_time.parse::<jiff::Timestamp>().is_ok(),
        "{trigger_time}"
    );
    let web_1_ip = pod_ip(&client, "web-1").await;
    let address = endpoints
        .subsets
        .iter()
        .flatten()
        .flat_map(|subset| subset.addresses.iter().flatten())
        .find(|address| {
            address.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some("web-1")
        })
        .expect("web-1's address");
    assert_eq!(address.ip, web_1_ip);
    assert_eq!(address.node_name.as_deref(), Some("hollow-1"));
    let reference = address.target_ref.as_ref().expect("a pod reference");
    assert_eq!(reference.kind.as_deref(), Some("Pod"));
    assert_eq!(reference.namespace.as_deref(), Some("default"));
    assert!(reference.uid.is_some());
    assert!(web_1_ip.starts_with("10.244."), "{web_1_ip}");

    make_ready(&client, "web-2").await;
    wait_for_shape(
        &client,
        "web",
        vec![
            (
                owned(&["web-1", "web-2"]),
                owned(&[]),
                owned(&["http:8080"]),
            ),
            (
                owned(&["web-1", "web-2", "web-3"]),
                owned(&[]),
                owned(&["metrics:9100"]),
            ),
        ],
    )
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.delete("web-1", &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    wait_for_shape(
        &client,
        "web",
        vec![
            (owned(&["web-2"]), owned(&[]), owned(&["http:8080"])),
            (
                owned(&["web-2", "web-3"]),
                owned(&[]),
                owned(&["metrics:9100"]),
            ),
        ],
    )
    .await;

    // A pod relabelled out of the selector leaves, though it no longer matches it.
    pods.patch(
        "web-3",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "debugging"}}})),
    )
    .await
    .expect("the pod is relabelled");
    // Both ports now have the same pods, so one subset offers them both.
    wait_for_shape(
        &client,
        "web",
        vec![(
            owned(&["web-2"]),
            owned(&[]),
            owned(&["http:8080", "metrics:9100"]),
        )],
    )
    .await;
}

#[tokio::test]
async fn an_unchanged_state_writes_nothing_and_edited_endpoints_are_put_back() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    create_service(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    create_pod(
        &client,
        "web-1",
        json!({"app": "web"}),
        "hollow/run",
        json!([]),
    )
    .await;
    create_pod(
        &client,
        "spare",
        json!({"app": "spare"}),
        "hollow/run",
        json!([]),
    )
    .await;
    pod_ip(&client, "spare").await;
    let expected = vec![(owned(&["web-1"]), owned(&[]), owned(&[":80"]))];
    let before = wait_for_shape(&client, "web", expected).await;

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let config = watcher::Config::default().fields("metadata.name=web");
    let mut changes = std::pin::pin!(watcher(endpoints.clone(), config));
    let mut versions = Vec::new();
    // The watch is open (its initial list seen) before anything changes.
    while let Some(event) = changes.next().await {
        match event.expect("a watch event") {
            watcher::Event::InitApply(object) => {
                versions.push(object.resource_version().unwrap_or_default());
            }
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    // A change the endpoints do not reflect (an annotation), then one they do (a pod
    // joining): exactly one write.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.patch(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"note": "irrelevant"}}})),
    )
    .await
    .expect("the pod is annotated");
    pods.patch(
        "spare",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .expect("the pod joins");
    let joined = tokio::time::timeout(WAIT, async {
        while let Some(event) = changes.next().await {
            if let Ok(watcher::Event::Apply(object)) = event {
                versions.push(object.resource_version().unwrap_or_default());
                if shape(object.subsets.as_deref().unwrap_or_default())
                    .first()
                    .map(|s| s.0.len())
                    == Some(2)
                {
                    return;
                }
            }
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "the pod never joined; versions seen: {versions:?}"
    );
    let distinct: std::collections::BTreeSet<&String> = versions.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "the state before the join and the join itself, nothing between: {versions:?} (before: {:?})",
        before.resource_version()
    );

    // An edit by hand is undone.
    let mut edited = endpoints.get("web").await.expect("the endpoints");
    edited.subsets = None;
    endpoints
        .replace("web", &PostParams::default(), &edited)
        .await
        .expect("the endpoints are edited");
    wait_for_shape(
        &client,
        "web",
        vec![(owned(&["spare", "web-1"]), owned(&[]), owned(&[":80"]))],
    )
    .await;
    // So is a deletion.
    endpoints
        .delete("web", &DeleteParams::default())
        .await
        .expect("the endpoints are deleted");
    wait_for_shape(
        &client,
        "web",
        vec![(owned(&["spare", "web-1"]), owned(&[]), owned(&[":80"]))],
    )
    .await;
}

#[tokio::test]
async fn a_headless_service_lists_hostnames_and_may_publish_not_ready_pods() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    create_service(
        &client,
        json!({
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "selector": {"app": "db"}, "publishNotReadyAddresses": true},
        }),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, subdomain) in [("db-0", "db"), ("db-1", "elsewhere")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {
                "hostname": name,
                "subdomain": subdomain,
                "containers": [{"name": "db", "image": "hollow/not-ready"}],
            },
        }))
        .expect("a pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("the pod is created");
    }
    let endpoints = wait_for_shape(
        &client,
        "db",
        vec![(owned(&["db-0", "db-1"]), owned(&[]), owned(&[]))],
    )
    .await;
    assert_eq!(
        endpoints.labels(),
        &labels(&[("service.kubernetes.io/headless", "")])
    );
    let hostnames: BTreeMap<String, Option<String>> = endpoints
        .subsets
        .iter()
        .flatten()
        .flat_map(|subset| subset.addresses.iter().flatten())
        .map(|address| {
            let pod = address
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_default();
            (pod, address.hostname.clone())
        })
        .collect();
    assert_eq!(
        hostnames,
        BTreeMap::from([
            ("db-0".to_owned(), Some("db-0".to_owned())),
            ("db-1".to_owned(), None)
        ])
    );
}
