//! The garbage collector against a real API server: dependents of deleted owners go
//! (background), owners deleted in foreground wait for their blocking dependents, owners
//! deleted with orphan leave their dependents without the reference, and kubectl's
//! `--cascade` asks for each. ConfigMaps made by hand with owner references need no other
//! controller; the ReplicaSets' pods are the replica set controller's, on a hollow node.

mod support;

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use support::{TestControlPlane, eventually};
use wasmkube_controllers::owners::is_controlled_by;

const PATIENCE: Duration = Duration::from_secs(10);
const HOLD: &str = "example.com/hold";

fn reference_to(owner: &ConfigMap, blocks: bool) -> OwnerReference {
    OwnerReference {
        api_version: "v1".to_owned(),
        kind: "ConfigMap".to_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: None,
        block_owner_deletion: Some(blocks),
    }
}

async fn create_config_map(
    api: &Api<ConfigMap>,
    name: &str,
    owners: Vec<OwnerReference>,
    finalizers: &[&str],
) -> ConfigMap {
    let finalizers: Vec<String> = finalizers.iter().map(|held| (*held).to_owned()).collect();
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            owner_references: (!owners.is_empty()).then_some(owners),
            finalizers: (!finalizers.is_empty()).then_some(finalizers),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &config_map)
        .await
        .expect("the config map is created")
}

async fn release<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("the finalizer is removed");
}

async fn wait_until_gone<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} to be gone"), PATIENCE, || async {
        match api.get_opt(name).await {
            Ok(None) => Ok(()),
            Ok(Some(object)) => Err(format!("{:?}", object.meta())),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
}

async fn wait_until_marked<K>(api: &Api<K>, name: &str) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(
        &format!("{name} to be marked for deletion"),
        PATIENCE,
        || async {
            let object = api.get(name).await.map_err(|error| error.to_string())?;
            if object.meta().deletion_timestamp.is_some() {
                Ok(object)
            } else {
                Err(format!("{:?}", object.meta()))
            }
        },
    )
    .await
}

fn foreground() -> DeleteParams {
    DeleteParams::foreground()
}

#[tokio::test]
async fn a_dependent_goes_with_its_owner_and_a_reference_to_nothing_is_dangling() {
    let cluster = TestControlPlane::start().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let owner = create_config_map(&config_maps, "owner", vec![], &[]).await;
    create_config_map(
        &config_maps,
        "dependent",
        vec![reference_to(&owner, false)],
        &[],
    )
    .await;
    // An owner that never existed, and one whose name is now another object's.
    let mut never = reference_to(&owner, false);
    never.name = "never-existed".to_owned();
    never.uid = "00000000-0000-0000-0000-000000000001".to_owned();
    create_config_map(&config_maps, "of-nothing", vec![never], &[]).await;
    let mut stale = reference_to(&owner, false);
    stale.uid = "00000000-0000-0000-0000-000000000002".to_owned();
    create_config_map(&config_maps, "of-an-earlier-owner", vec![stale], &[]).await;

    wait_until_gone(&config_maps, "of-nothing").await;
    wait_until_gone(&config_maps, "of-an-earlier-owner").await;
    assert!(
        config_maps
            .get_opt("dependent")
            .await
            .expect("a get")
            .is_some(),
        "the dependent of a live owner stays"
    );

    config_maps
        .delete("owner", &DeleteParams::default())
        .await
        .expect("the owner is deleted");
    wait_until_gone(&config_maps, "dependent").await;
}

#[tokio::test]
async fn a_dependent_with_two_owners_survives_the_deletion_of_one() {
    let cluster = TestControlPlane::start().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let first = create_config_map(&config_maps, "first", vec![], &[]).await;
    let second = create_config_map(&config_maps, "second", vec![], &[]).await;
    create_config_map(
        &config_maps,
        "shared",
        vec![reference_to(&first, true), reference_to(&second, true)],
        &[],
    )
    .await;

    config_maps
        .delete("first", &DeleteParams::background())
        .await
        .expect("the first owner is deleted");
    eventually(
        "the reference to the first owner to go",
        PATIENCE,
        || async {
            let shared = config_maps
                .get("shared")
                .await
                .map_err(|error| error.to_string())?;
            let owners: Vec<String> = shared
                .owner_references()
                .iter()
                .map(|reference| reference.name.clone())
                .collect();
            if owners == ["second"] {
                Ok(())
            } else {
                Err(format!("{owners:?}"))
            }
        },
    )
    .await;

    config_maps
        .delete("second", &DeleteParams::background())
        .await
        .expect("the second owner is deleted");
    wait_until_gone(&config_maps, "shared").await;
}

/// Foreground through a chain: the middle object has dependents of its own, so it is
/// deleted in foreground too, and each owner waits for the one below it.
#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents_down_a_chain() {
    let cluster = TestControlPlane::start().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let top = create_config_map(&config_maps, "top", vec![], &[]).await;
    let middle =
        create_config_map(&config_maps, "middle", vec![reference_to(&top, true)], &[]).await;
    create_config_map(
        &config_maps,
        "bottom",
        vec![reference_to(&middle, true)],
        &[HOLD],
    )
    .await;
    create_config_map(
        &config_maps,
        "loose",
        vec![reference_to(&middle, false)],
        &[HOLD],
    )
    .await;

    config_maps
        .delete("top", &foreground())
        .await
        .expect("the top is deleted in foreground");
    let middle = wait_until_marked(&config_maps, "middle").await;
    assert!(
        middle
            .finalizers()
            .iter()
            .any(|f| f == "foregroundDeletion"),
        "a dependent with dependents is deleted in foreground: {:?}",
        middle.metadata
    );
    wait_until_marked(&config_maps, "bottom").await;
    wait_until_marked(&config_maps, "loose").await;

    // The loose dependent does not block; the held bottom one does, all the way up.
    release(&config_maps, "loose").await;
    wait_until_gone(&config_maps, "loose").await;
    for name in ["top", "middle"] {
        let waiting = config_maps.get(name).await.expect("still there");
        assert_eq!(waiting.finalizers(), ["foregroundDeletion"], "{name}");
    }

    release(&config_maps, "bottom").await;
    wait_until_gone(&config_maps, "bottom").await;
    wait_until_gone(&config_maps, "middle").await;
    wait_until_gone(&config_maps, "top").await;
}

#[tokio::test]
async fn a_non_blocking_dependent_does_not_hold_a_foreground_owner() {
    let cluster = TestControlPlane::start().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let owner = create_config_map(&config_maps, "owner", vec![], &[]).await;
    create_config_map(
        &config_maps,
        "loose",
        vec![reference_to(&owner, false)],
        &[HOLD],
    )
    .await;

    config_maps
        .delete("owner", &foreground())
        .await
        .expect("the owner is deleted in foreground");
    wait_until_gone(&config_maps, "owner").await;
    let loose = wait_until_marked(&config_maps, "loose").await;
    assert_eq!(loose.finalizers(), [HOLD]);
}

#[tokio::test]
async fn a_collector_that_was_down_finds_the_dependents_of_owners_deleted_meanwhile() {
    let mut cluster = TestControlPlane::start().await;
    cluster.stop_controller_manager().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let owner = create_config_map(&config_maps, "owner", vec![], &[]).await;
    create_config_map(
        &config_maps,
        "dependent",
        vec![reference_to(&owner, true)],
        &[],
    )
    .await;
    config_maps
        .delete("owner", &DeleteParams::default())
        .await
        .expect("the owner is deleted");
    cluster.start_controller_manager();
    wait_until_gone(&config_maps, "dependent").await;
}

/// A ReplicaSet of two pods on `node`, made by the replica set controller; the pod named
/// in `held` gets a finalizer that keeps it until the test releases it. Answers the pods'
/// names.
async fn replica_set_with_pods(
    cluster: &TestControlPlane,
    name: &str,
    node: &str,
    held: Option<usize>,
) -> Vec<String> {
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let replica_set: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "hollow/run"}]},
            },
        },
    }))
    .expect("a replica set");
    let replica_set = replica_sets
        .create(&PostParams::default(), &replica_set)
        .await
        .expect("the replica set is created");
    let owner_uid = replica_set.uid().unwrap_or_default();
    let mut names = eventually(&format!("{name}'s two pods"), PATIENCE, || async {
        let listed = pods
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .map_err(|error| error.to_string())?;
        let owned: Vec<String> = listed
            .items
            .iter()
            .filter(|pod| is_controlled_by(&pod.metadata, &owner_uid))
            .map(ResourceExt::name_any)
            .collect();
        if owned.len() == 2 {
            Ok(owned)
        } else {
            Err(format!("{owned:?}"))
        }
    })
    .await;
    names.sort();
    if let Some(index) = held {
        pods.patch(
            &names[index],
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": [HOLD]}})),
        )
        .await
        .expect("the pod is held");
    }
    names
}

#[tokio::test]
async fn deleting_a_replica_set_in_background_deletes_its_pods() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pod_names = replica_set_with_pods(&cluster, "web", "hollow-1", None).await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    let deleted = replica_sets
        .delete("web", &DeleteParams::background())
        .await
        .expect("the replica set is deleted");
    assert!(deleted.is_right(), "background deletes the owner at once");
    for name in &pod_names {
        wait_until_gone(&pods, name).await;
    }
}

#[tokio::test]
async fn a_replica_set_deleted_in_foreground_stays_until_its_pods_are_gone() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pod_names = replica_set_with_pods(&cluster, "web", "hollow-1", Some(1)).await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    replica_sets
        .delete("web", &foreground())
        .await
        .expect("the replica set is deleted in foreground");
    wait_until_gone(&pods, &pod_names[0]).await;
    // The node has confirmed the held pod's stop; only its finalizer keeps it.
    eventually("the held pod's node to confirm", PATIENCE, || async {
        let pod = pods
            .get(&pod_names[1])
            .await
            .map_err(|error| error.to_string())?;
        match pod.metadata.deletion_grace_period_seconds {
            Some(0) => Ok(()),
            other => Err(format!("deletionGracePeriodSeconds {other:?}")),
        }
    })
    .await;
    let waiting = replica_sets.get("web").await.expect("the owner waits");
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(waiting.finalizers(), ["foregroundDeletion"]);

    release(&pods, &pod_names[1]).await;
    wait_until_gone(&pods, &pod_names[1]).await;
    wait_until_gone(&replica_sets, "web").await;
}

#[tokio::test]
async fn a_replica_set_deleted_with_orphan_leaves_its_pods_without_the_reference() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pod_names = replica_set_with_pods(&cluster, "web", "hollow-1", None).await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");

    replica_sets
        .delete("web", &DeleteParams::orphan())
        .await
        .expect("the replica set is deleted with orphan");
    wait_until_gone(&replica_sets, "web").await;
    for name in &pod_names {
        let pod = pods.get(name).await.expect("the pod stays");
        assert!(pod.owner_references().is_empty(), "{:?}", pod.metadata);
        assert!(pod.metadata.deletion_timestamp.is_none());
    }
}

fn write_kubeconfig(directory: &std::path::Path, cluster: &TestControlPlane) -> std::path::PathBuf {
    let path = directory.join("kubeconfig");
    let config = cluster
        .control_plane
        .admin_kubeconfig()
        .expect("the admin's kubeconfig");
    std::fs::write(&path, config).expect("the kubeconfig is written");
    path
}

/// Runs the real kubectl on PATH, off the runtime so the in-process server keeps serving.
async fn kubectl(kubeconfig: &std::path::Path, arguments: &[&str]) -> anyhow::Result<String> {
    let mut command = std::process::Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .env_remove("KUBECONFIG");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("kubectl runs")?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn kubectl_delete_cascade_orphan_and_foreground() -> anyhow::Result<()> {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let directory = tempfile::tempdir()?;
    let kubeconfig = write_kubeconfig(directory.path(), &cluster);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");

    let orphaned = replica_set_with_pods(&cluster, "kept", "hollow-1", None).await;
    let said = kubectl(
        &kubeconfig,
        &["delete", "replicaset", "kept", "--cascade=orphan"],
    )
    .await?;
    assert!(said.contains("deleted"), "{said}");
    wait_until_gone(&replica_sets, "kept").await;
    for name in &orphaned {
        let pod = pods.get(name).await?;
        assert!(pod.owner_references().is_empty(), "{:?}", pod.metadata);
    }

    let cascaded = replica_set_with_pods(&cluster, "gone", "hollow-1", None).await;
    // kubectl waits for the owner to be gone, which foreground allows only after its pods.
    let said = kubectl(
        &kubeconfig,
        &[
            "delete",
            "replicaset",
            "gone",
            "--cascade=foreground",
            "--timeout=15s",
        ],
    )
    .await?;
    assert!(said.contains("deleted"), "{said}");
    assert!(replica_sets.get_opt("gone").await?.is_none());
    for name in &cascaded {
        assert!(
            pods.get_opt(name).await?.is_none(),
            "{name} is gone before its owner"
        );
    }
    for name in &orphaned {
        assert!(pods.get_opt(name).await?.is_some(), "{name} was orphaned");
    }
    Ok(())
}
