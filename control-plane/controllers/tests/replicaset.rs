//! The ReplicaSet controller against the real API server with hollow nodes: scaling up
//! and down (the least valuable pods go first), adopting and releasing pods, replacing a
//! deleted pod, a quota that stops creation early, availability after minReadySeconds, and
//! conflicting writers that make its updates fail with 409 Conflict.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod, ResourceQuota};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::{TestControlPlane, eventually};
use wasmkube_controllers::owners;
use wasmkube_controllers::pods::{is_pod_active, is_pod_ready};

const TIMEOUT: Duration = Duration::from_secs(15);

fn replica_set(name: &str, app: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
            },
        },
    }))
    .expect("a replica set")
}

fn orphan_pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
    }))
    .expect("a pod")
}

async fn active_pods(client: &Client, app: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("the pods")
        .items
        .into_iter()
        .filter(is_pod_active)
        .collect()
}

fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().map(ResourceExt::name_any).collect()
}

/// Waits until the ReplicaSet has `replicas` active, ready pods it controls and its
/// status says so for its current generation.
async fn wait_for_ready_replicas(client: &Client, name: &str, app: &str, replicas: usize) {
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let what = format!("{name} to have {replicas} ready replicas");
    eventually(&what, TIMEOUT, || async {
        let replica_set = replica_sets
            .get(name)
            .await
            .map_err(|error| error.to_string())?;
        let uid = replica_set.uid().unwrap_or_default();
        let pods = active_pods(client, app).await;
        let ready = pods
            .iter()
            .filter(|pod| is_pod_ready(pod) && owners::is_controlled_by(&pod.metadata, &uid))
            .count();
        let status = replica_set.status.clone().unwrap_or_default();
        let wanted = i32::try_from(replicas).expect("a small count");
        let settled = pods.len() == replicas
            && ready == replicas
            && status.replicas == wanted
            && status.ready_replicas.unwrap_or(0) == wanted
            && status.fully_labeled_replicas.unwrap_or(0) == wanted
            && status.observed_generation == replica_set.metadata.generation;
        if settled {
            Ok(())
        } else {
            Err(format!(
                "{} active pods, {ready} ready, status {status:?}",
                pods.len()
            ))
        }
    })
    .await;
}

async fn scale(client: &Client, name: &str, replicas: i32) {
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    replica_sets
        .patch_scale(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("the scale subresource takes the new size");
}

async fn set_pod_not_ready(client: &Client, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = jiff::Timestamp::now().to_string();
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Strategic(json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now},
        ]}})),
    )
    .await
    .expect("the pod's Ready condition is set");
}

async fn annotate_pod(client: &Client, name: &str, key: &str, value: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
    )
    .await
    .expect("the pod is annotated");
}

async fn events_for(client: &Client, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .expect("the events")
        .items
        .into_iter()
        .filter(|event| event.involved_object.name.as_deref() == Some(name))
        .collect()
}

#[tokio::test]
async fn scales_up_and_down_deleting_the_least_valuable_pods_first() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    replica_sets
        .create(&PostParams::default(), &replica_set("web", "web", 3))
        .await
        .expect("the replica set is created");
    wait_for_ready_replicas(&cluster.client, "web", "web", 3).await;
    scale(&cluster.client, "web", 10).await;
    wait_for_ready_replicas(&cluster.client, "web", "web", 10).await;

    // Three pods stop being ready and two are marked as expensive to lose: scaling to
    // two must delete the three unready ones and keep the two expensive ones.
    let pods = active_pods(&cluster.client, "web").await;
    let all_names: Vec<String> = names(&pods).into_iter().collect();
    let unready = &all_names[0..3];
    let kept = &all_names[3..5];
    for name in unready {
        set_pod_not_ready(&cluster.client, name).await;
    }
    for name in kept {
        annotate_pod(
            &cluster.client,
            name,
            "controller.kubernetes.io/pod-deletion-cost",
            "100",
        )
        .await;
    }
    eventually("the replica set to count 7 ready pods", TIMEOUT, || async {
        let replica_set = replica_sets
            .get("web")
            .await
            .map_err(|error| error.to_string())?;
        let ready = replica_set.status.and_then(|status| status.ready_replicas);
        if ready == Some(7) {
            Ok(())
        } else {
            Err(format!("{ready:?}"))
        }
    })
    .await;
    scale(&cluster.client, "web", 2).await;
    wait_for_ready_replicas(&cluster.client, "web", "web", 2).await;
    let remaining = names(&active_pods(&cluster.client, "web").await);
    assert_eq!(remaining, kept.iter().cloned().collect::<BTreeSet<_>>());

    let replica_set = replica_sets.get("web").await.expect("the replica set");
    let status = replica_set.status.expect("a status");
    assert_eq!(status.available_replicas, Some(2));
    assert_eq!(status.observed_generation, replica_set.metadata.generation);
    let events = events_for(&cluster.client, "web").await;
    let messages: Vec<String> = events
        .iter()
        .filter_map(|event| event.message.clone())
        .collect();
    for name in unready {
        assert!(
            messages.contains(&format!("Deleted pod: {name}")),
            "no deletion event for {name} in {messages:?}"
        );
    }
    assert!(events.iter().any(|event| {
        event.reason.as_deref() == Some("SuccessfulCreate")
            && event
                .message
                .as_deref()
                .is_some_and(|message| message.starts_with("Created pod: web-"))
            && event
                .source
                .as_ref()
                .and_then(|source| source.component.as_deref())
                == Some("replicaset-controller")
    }));
}

#[tokio::test]
async fn adopts_a_matching_orphan_and_releases_a_pod_whose_labels_change() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    pods.create(&PostParams::default(), &orphan_pod("orphan", "shop"))
        .await
        .expect("the orphan is created");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let created = replica_sets
        .create(&PostParams::default(), &replica_set("shop", "shop", 2))
        .await
        .expect("the replica set is created");
    let uid = created.uid().expect("a uid");
    wait_for_ready_replicas(&cluster.client, "shop", "shop", 2).await;
    let orphan = pods.get("orphan").await.expect("the orphan");
    assert!(
        owners::is_controlled_by(&orphan.metadata, &uid),
        "the orphan was adopted: {:?}",
        orphan.metadata.owner_references
    );

    // The orphan's labels change: it is released, and a new pod takes its place.
    pods.patch(
        "orphan",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "elsewhere"}}})),
    )
    .await
    .expect("the labels change");
    eventually("the changed pod to be released", TIMEOUT, || async {
        let pod = pods
            .get("orphan")
            .await
            .map_err(|error| error.to_string())?;
        match owners::controller_of(&pod.metadata) {
            None => Ok(()),
            Some(reference) => Err(format!("still controlled by {}", reference.name)),
        }
    })
    .await;
    wait_for_ready_replicas(&cluster.client, "shop", "shop", 2).await;
    assert!(!names(&active_pods(&cluster.client, "shop").await).contains("orphan"));
    assert!(is_pod_active(
        &pods.get("orphan").await.expect("the released pod")
    ));
}

#[tokio::test]
async fn a_deleted_pod_is_replaced() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    replica_sets
        .create(&PostParams::default(), &replica_set("web", "web", 3))
        .await
        .expect("the replica set is created");
    wait_for_ready_replicas(&cluster.client, "web", "web", 3).await;
    let before = names(&active_pods(&cluster.client, "web").await);
    let victim = before.iter().next().expect("a pod").clone();
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    eventually("a replacement pod", TIMEOUT, || async {
        let now = names(&active_pods(&cluster.client, "web").await);
        let replaced = now.len() == 3 && !now.contains(&victim);
        if replaced {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    wait_for_ready_replicas(&cluster.client, "web", "web", 3).await;
}

#[tokio::test]
async fn a_quota_stops_creation_early_and_the_failure_is_reported_until_it_clears() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(cluster.client.clone(), "default");
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "pods"},
        "spec": {"hard": {"pods": "2"}},
    }))
    .expect("a quota");
    quotas
        .create(&PostParams::default(), &quota)
        .await
        .expect("the quota is created");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    replica_sets
        .create(&PostParams::default(), &replica_set("web", "web", 5))
        .await
        .expect("the replica set is created");
    let failure = eventually("the ReplicaFailure condition", TIMEOUT, || async {
        let replica_set = replica_sets
            .get("web")
            .await
            .map_err(|error| error.to_string())?;
        replica_set
            .status
            .and_then(|status| status.conditions)
            .and_then(|conditions| {
                conditions
                    .into_iter()
                    .find(|condition| condition.type_ == "ReplicaFailure")
            })
            .ok_or_else(|| "no condition yet".to_owned())
    })
    .await;
    assert_eq!(failure.status, "True");
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    let message = failure.message.unwrap_or_default();
    assert!(message.contains("exceeded quota"), "{message}");
    assert_eq!(active_pods(&cluster.client, "web").await.len(), 2);
    let events = events_for(&cluster.client, "web").await;
    assert!(
        events.iter().any(|event| {
            event.reason.as_deref() == Some("FailedCreate")
                && event.type_.as_deref() == Some("Warning")
                && event.message.as_deref().is_some_and(|text| {
                    text.starts_with("Error creating: ") && text.contains("exceeded quota")
                })
        }),
        "{events:?}"
    );

    quotas
        .patch(
            "pods",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"hard": {"pods": "10"}}})),
        )
        .await
        .expect("the quota grows");
    wait_for_ready_replicas(&cluster.client, "web", "web", 5).await;
    eventually("the failure condition to clear", TIMEOUT, || async {
        let replica_set = replica_sets
            .get("web")
            .await
            .map_err(|error| error.to_string())?;
        let conditions = replica_set.status.and_then(|status| status.conditions);
        if conditions.is_none() {
            Ok(())
        } else {
            Err(format!("{conditions:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn pods_count_as_available_after_min_ready_seconds() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let mut slow = replica_set("web", "web", 2);
    if let Some(spec) = slow.spec.as_mut() {
        spec.min_ready_seconds = Some(1);
    }
    replica_sets
        .create(&PostParams::default(), &slow)
        .await
        .expect("the replica set is created");
    wait_for_ready_replicas(&cluster.client, "web", "web", 2).await;
    // Nothing changes once the pods are ready; only the controller's own requeue after
    // minReadySeconds can make them available.
    eventually("both pods to be available", TIMEOUT, || async {
        let replica_set = replica_sets
            .get("web")
            .await
            .map_err(|error| error.to_string())?;
        let available = replica_set
            .status
            .and_then(|status| status.available_replicas);
        if available == Some(2) {
            Ok(())
        } else {
            Err(format!("{available:?}"))
        }
    })
    .await;
}

/// Keeps changing `pods` and the ReplicaSet `web` (annotations only) until stopped, so
/// that the controller's adoptions and status writes, which carry the resourceVersion it
/// read, keep failing with 409 Conflict while it runs.
fn keep_writing(
    client: Client,
    pods: Vec<String>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
        let replica_sets: Api<ReplicaSet> = Api::namespaced(client, "default");
        let mut writes = 0;
        let mut round = 0u64;
        while !stop.load(Ordering::SeqCst) {
            round += 1;
            let patch =
                Patch::Merge(json!({"metadata": {"annotations": {"round": round.to_string()}}}));
            for name in &pods {
                if pod_api
                    .patch(name, &PatchParams::default(), &patch)
                    .await
                    .is_ok()
                {
                    writes += 1;
                }
            }
            if replica_sets
                .patch("web", &PatchParams::default(), &patch)
                .await
                .is_ok()
            {
                writes += 1;
            }
        }
        writes
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_writes_are_retried_and_the_end_state_is_right() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let orphans: Vec<String> = (0..8).map(|index| format!("busy-{index}")).collect();
    for name in &orphans {
        pods.create(&PostParams::default(), &orphan_pod(name, "web"))
            .await
            .expect("the orphan is created");
    }
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let stop = Arc::new(AtomicBool::new(false));
    replica_sets
        .create(&PostParams::default(), &replica_set("web", "web", 8))
        .await
        .expect("the replica set is created");
    let writer = keep_writing(cluster.client.clone(), orphans.clone(), Arc::clone(&stop));
    // Scale back and forth while the writers run (by patching the ReplicaSet, which the
    // API server retries on its own conflicts, unlike its scale subresource today).
    for replicas in [3, 8, 5, 8] {
        replica_sets
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("the replica set is resized");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let writes = writer.await.expect("the writer ends");
    assert!(writes > 0, "the writer wrote");

    wait_for_ready_replicas(&cluster.client, "web", "web", 8).await;
    let uid = replica_sets
        .get("web")
        .await
        .expect("the replica set")
        .uid()
        .expect("a uid");
    let active = active_pods(&cluster.client, "web").await;
    assert_eq!(active.len(), 8);
    assert!(
        active
            .iter()
            .all(|pod| owners::is_controlled_by(&pod.metadata, &uid)),
        "every active pod belongs to the replica set"
    );
}
