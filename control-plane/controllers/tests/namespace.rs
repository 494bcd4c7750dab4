//! Deleting a namespace with the controller manager running: the namespace controller
//! deletes what the namespace holds (workloads with their owner references, pods on a
//! node, configuration), the garbage collector deals with what propagation asks, and the
//! namespace goes last.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::{TestControlPlane, eventually};
use wasmkube_controllers::owners::controller_reference;

const PATIENCE: Duration = Duration::from_secs(15);

async fn create_namespace(client: &Client, name: &str) {
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("the namespace is created");
}

/// A Deployment controlling a ReplicaSet controlling two pods on `node`, and a ConfigMap
/// owning another, all in `namespace`.
async fn populate(client: &Client, namespace: &str, node: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let template = json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
    });
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }))
    .expect("a deployment");
    let deployment = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment is created");
    let replica_set: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "ownerReferences": [controller_reference(&deployment)]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }))
    .expect("a replica set");
    let replica_set = replica_sets
        .create(&PostParams::default(), &replica_set)
        .await
        .expect("the replica set is created");
    for index in 0..2 {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": format!("web-1-{index}"),
                "labels": {"app": "web"},
                "ownerReferences": [controller_reference(&replica_set)],
            },
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "hollow/run"}]},
        }))
        .expect("a pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("the pod is created");
    }
    let settings: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings"}, "data": {"colour": "blue"},
    }))
    .expect("a config map");
    let settings = config_maps
        .create(&PostParams::default(), &settings)
        .await
        .expect("the config map is created");
    let derived: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "derived", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "settings",
            "uid": settings.uid().unwrap_or_default(), "blockOwnerDeletion": true,
        }]},
    }))
    .expect("a config map");
    config_maps
        .create(&PostParams::default(), &derived)
        .await
        .expect("the dependent config map is created");
}

async fn wait_until_namespace_is_gone(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    eventually(
        &format!("namespace {name} to be gone"),
        PATIENCE,
        || async {
            match namespaces.get_opt(name).await {
                Ok(None) => Ok(()),
                Ok(Some(namespace)) => Err(format!("{:?}", namespace.status)),
                Err(error) => Err(error.to_string()),
            }
        },
    )
    .await;
}

/// Nothing of these kinds is left in the namespace.
async fn assert_empty(client: &Client, namespace: &str) {
    for (group, version, kind, plural) in [
        ("apps", "v1", "Deployment", "deployments"),
        ("apps", "v1", "ReplicaSet", "replicasets"),
        ("", "v1", "Pod", "pods"),
        ("", "v1", "ConfigMap", "configmaps"),
    ] {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let left = api.list(&ListParams::default()).await.expect("a list");
        let names: Vec<String> = left.items.iter().map(ResourceExt::name_any).collect();
        assert!(names.is_empty(), "{plural} left in {namespace}: {names:?}");
    }
}

#[tokio::test]
async fn deleting_a_namespace_removes_everything_in_it_and_then_the_namespace() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    create_namespace(&cluster.client, "shop").await;
    populate(&cluster.client, "shop", "hollow-1").await;

    Api::<Namespace>::all(cluster.client.clone())
        .delete("shop", &DeleteParams::default())
        .await
        .expect("the namespace is deleted");
    wait_until_namespace_is_gone(&cluster.client, "shop").await;
    assert_empty(&cluster.client, "shop").await;
}

#[tokio::test]
async fn a_namespace_deleted_in_foreground_waits_for_what_holds_its_content() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    create_namespace(&cluster.client, "shop").await;
    populate(&cluster.client, "shop", "hollow-1").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "shop");
    config_maps
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
        )
        .await
        .expect("the config map is held");

    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    namespaces
        .delete("shop", &DeleteParams::foreground())
        .await
        .expect("the namespace is deleted in foreground");
    eventually(
        "everything but the held config map to go",
        PATIENCE,
        || async {
            let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "shop");
            let left = pods
                .list(&ListParams::default())
                .await
                .map_err(|error| error.to_string())?;
            let derived = config_maps
                .get_opt("derived")
                .await
                .map_err(|error| error.to_string())?;
            if left.items.is_empty() && derived.is_none() {
                Ok(())
            } else {
                Err(format!(
                    "{} pods, derived {}",
                    left.items.len(),
                    derived.is_some()
                ))
            }
        },
    )
    .await;
    let terminating = namespaces.get("shop").await.expect("the namespace waits");
    assert_eq!(
        terminating
            .status
            .and_then(|status| status.phase)
            .as_deref(),
        Some("Terminating")
    );

    config_maps
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("the config map is released");
    wait_until_namespace_is_gone(&cluster.client, "shop").await;
    assert_empty(&cluster.client, "shop").await;
}
