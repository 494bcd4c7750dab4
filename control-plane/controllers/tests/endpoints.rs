//! The Endpoints controller against a real API server with a hollow node: ready and
//! not-ready pods, named and numbered target ports, readiness changes, deleted pods,
//! headless Services, Services without a selector, and Endpoints that follow their
//! Service's deletion.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually, labels};

const WAIT: Duration = Duration::from_secs(10);

async fn create_service(client: &Client, service: Value) -> Service {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(service).expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("the service is created")
}

/// A pod for the hollow node: `image` says whether it turns Ready (`hollow/run`) or not
/// (`hollow/not-ready`).
async fn create_pod(
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

async fn pod_ip(client: &Client, name: &str) -> String {
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
type Shape = (Vec<String>, Vec<String>, Vec<String>);

fn shape(subsets: &[EndpointSubset]) -> Vec<Shape> {
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

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

async fn wait_for_shape(client: &Client, service: &str, expected: Vec<Shape>) -> Endpoints {
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
async fn make_ready(client: &Client, name: &str) {
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

#[tokio::test]
async fn services_without_a_selector_keep_their_own_endpoints_until_deleted() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    // Written before its Service, as a manifest may list them.
    let manual: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}],
    }))
    .expect("endpoints");
    let written = endpoints
        .create(&PostParams::default(), &manual)
        .await
        .expect("the endpoints are created");
    create_service(
        &client,
        json!({"metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]}}),
    )
    .await;
    // A Service with a selector gets its Endpoints; by then the selector-less one has been
    // synced too and left alone.
    create_service(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    wait_for_shape(&client, "web", Vec::new()).await;
    let kept = endpoints
        .get("external")
        .await
        .expect("the manual endpoints");
    assert_eq!(kept.resource_version(), written.resource_version());

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    for name in ["web", "external"] {
        services
            .delete(name, &DeleteParams::default())
            .await
            .expect("the service is deleted");
        eventually(&format!("endpoints {name} to go"), WAIT, || async {
            match endpoints.get_opt(name).await {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err("still there".to_owned()),
                Err(error) => Err(error.to_string()),
            }
        })
        .await;
    }
}

#[tokio::test]
async fn endpoints_left_without_a_service_while_stopped_are_removed_at_start() {
    let mut cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    create_service(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;
    wait_for_shape(&client, "web", Vec::new()).await;
    cluster.stop_controller_manager().await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("the service is deleted");
    cluster.start_controller_manager();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    eventually("the leftover endpoints to go", WAIT, || async {
        match endpoints.get_opt("web").await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("still there".to_owned()),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn a_namespace_with_services_and_their_endpoints_is_deleted_completely() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    cluster.pod_cidr_of("hollow-1").await;
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "shop"}})).expect("a namespace");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("the namespace is created");
    let services: Api<Service> = Api::namespaced(client.clone(), "shop");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .expect("a service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("the service is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created");
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "shop");
    eventually("the pod to be listed", WAIT, || async {
        let found = endpoints
            .get_opt("web")
            .await
            .map_err(|error| error.to_string())?;
        match found.and_then(|endpoints| endpoints.subsets) {
            Some(subsets) if !subsets.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    namespaces
        .delete("shop", &DeleteParams::default())
        .await
        .expect("the namespace is deleted");
    eventually("the namespace to go", Duration::from_secs(15), || async {
        match namespaces.get_opt("shop").await {
            Ok(None) => Ok(()),
            Ok(Some(namespace)) => Err(format!("{:?}", namespace.status)),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
}

/// Whether the endpoint controller has reported a failed update of `name`.
async fn failed_update_event(client: &Client, name: &str) -> Option<String> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let listed = events.list(&ListParams::default()).await.ok()?;
    listed
        .items
        .into_iter()
        .find(|event| {
            event.reason.as_deref() == Some("FailedToUpdateEndpoint")
                && event.involved_object.name.as_deref() == Some(name)
        })
        .and_then(|event| event.message)
}

#[tokio::test]
async fn a_conflicting_writer_makes_the_sync_retry_and_the_endpoints_still_converge() {
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
    wait_for_shape(
        &client,
        "web",
        vec![(owned(&["web-1"]), owned(&[]), owned(&[":80"]))],
    )
    .await;

    // Another writer keeps rewriting the Endpoints while the pod's readiness flips, so
    // that some of the controller's updates carry a resourceVersion that is already old.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = tokio::spawn({
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        let stop = std::sync::Arc::clone(&stop);
        async move {
            let mut round = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                round += 1;
                if let Ok(mut current) = endpoints.get("web").await {
                    current
                        .annotations_mut()
                        .insert("example.com/racer".to_owned(), round.to_string());
                    let _ = endpoints
                        .replace("web", &PostParams::default(), &current)
                        .await;
                }
            }
        }
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let conflict = tokio::time::timeout(Duration::from_secs(15), async {
        let mut ready = false;
        loop {
            let now = jiff::Timestamp::now().to_string();
            let status = if ready { "True" } else { "False" };
            let conditions = json!({"status": {"conditions": [
                {"type": "Ready", "status": status, "lastTransitionTime": now},
            ]}});
            pods.patch_status("web-1", &PatchParams::default(), &Patch::Merge(conditions))
                .await
                .expect("the pod's readiness flips");
            ready = !ready;
            if let Some(message) = failed_update_event(&client, "web").await {
                return message;
            }
            // Time for the controller to sync the flip before the next one.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    racer.await.expect("the racer stops");
    let message = conflict.expect("an update of the controller met a conflict");
    assert!(
        message.starts_with("Failed to update endpoint default/web: "),
        "{message}"
    );

    make_ready(&client, "web-1").await;
    wait_for_shape(
        &client,
        "web",
        vec![(owned(&["web-1"]), owned(&[]), owned(&[":80"]))],
    )
    .await;
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let converged = endpoints.get("web").await.expect("the endpoints");
    assert!(converged.annotations().contains_key("example.com/racer"));
}
