//! Endpoints as objects: Services without a selector, Endpoints left behind, namespace
//! deletion, and conflicting writers.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::helpers::{WAIT, create_pod, create_service, make_ready, owned, wait_for_shape};
use crate::support::{TestControlPlane, eventually};

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
