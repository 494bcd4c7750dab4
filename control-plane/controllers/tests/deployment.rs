//! The Deployment controller against the real API server with hollow nodes: a rolling
//! update watched pod by pod for its surge and availability bounds, Recreate, rollback to
//! an old template, the revision history limit, pause and resume, proportional scaling in
//! the middle of a rollout, a rollout that misses its progress deadline, and a controller
//! manager restarted in the middle of a rollout.

mod support;

mod deployment_support;

use std::collections::BTreeMap;

use deployment_support::{
    PodWatch, REVISION, TIMEOUT, annotation, condition, create, deployment, events_about, patch,
    replica_sets_of, replicas_of, rolling, set_image, undo_to, wait_for_rollout,
};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::{TestControlPlane, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    // 25% of 8 is 2 both ways: at most 10 pods, at least 6 ready.
    create(
        &cluster.client,
        &deployment("web", 8, "hollow/run", rolling(json!("25%"), json!("25%"))),
    )
    .await;
    let first = wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    assert_eq!(
        first.annotations().get(REVISION).map(String::as_str),
        Some("1")
    );

    let watch = PodWatch::start(&cluster.client, "web", "hollow/run-v2").await;
    set_image(&cluster.client, "web", "hollow/run-v2").await;
    let deployment = wait_for_rollout(&cluster.client, "web", "hollow/run-v2").await;
    let history = watch.stop();
    assert!(
        history.events > 16,
        "the watch saw the rollout: {history:?}"
    );
    assert!(
        history.most_pods <= 10,
        "more than replicas + maxSurge pods: {history:?}"
    );
    assert!(
        history.fewest_ready >= Some(6),
        "fewer than replicas - maxUnavailable ready: {history:?}"
    );

    assert_eq!(
        deployment.annotations().get(REVISION).map(String::as_str),
        Some("2")
    );
    let replica_sets = replica_sets_of(&cluster.client, &deployment).await;
    assert_eq!(replica_sets.len(), 2);
    let (new_name, new) = replica_sets
        .iter()
        .find(|(_, replica_set)| replicas_of(replica_set) == 8)
        .expect("the new replica set");
    let hash = new
        .labels()
        .get("pod-template-hash")
        .expect("the hash label");
    assert_eq!(new_name, &format!("web-{hash}"));
    assert_eq!(annotation(new, REVISION).as_deref(), Some("2"));
    assert_eq!(
        annotation(new, "deployment.kubernetes.io/desired-replicas").as_deref(),
        Some("8")
    );
    assert_eq!(
        annotation(new, "deployment.kubernetes.io/max-replicas").as_deref(),
        Some("10")
    );
    assert!(
        replica_sets
            .values()
            .any(|old| replicas_of(old) == 0 && annotation(old, REVISION).as_deref() == Some("1"))
    );

    let available = condition(&deployment, "Available").expect("the Available condition");
    assert_eq!(
        (available.status.as_str(), available.reason.as_deref()),
        ("True", Some("MinimumReplicasAvailable"))
    );
    assert_eq!(
        available.message.as_deref(),
        Some("Deployment has minimum availability.")
    );
    eventually(
        "the Progressing condition to say the rollout is done",
        TIMEOUT,
        || async {
            let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
            let current = deployments
                .get("web")
                .await
                .map_err(|error| error.to_string())?;
            let progressing = condition(&current, "Progressing").ok_or("no condition")?;
            let expected = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
            if progressing.reason.as_deref() == Some("NewReplicaSetAvailable")
                && progressing.message.as_deref() == Some(expected.as_str())
            {
                Ok(())
            } else {
                Err(format!("{progressing:?}"))
            }
        },
    )
    .await;
    let messages: Vec<String> = events_about(&cluster.client, "web")
        .await
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|event| event.message)
        .collect();
    assert!(
        messages.contains(&format!("Scaled up replica set {new_name} from 0 to 2")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|message| message.starts_with("Scaled down replica set web-")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn recreate_stops_every_old_pod_before_starting_new_ones() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    create(
        &cluster.client,
        &deployment("db", 3, "hollow/run", json!({"type": "Recreate"})),
    )
    .await;
    wait_for_rollout(&cluster.client, "db", "hollow/run").await;
    let watch = PodWatch::start(&cluster.client, "db", "hollow/run-v2").await;
    set_image(&cluster.client, "db", "hollow/run-v2").await;
    let deployment = wait_for_rollout(&cluster.client, "db", "hollow/run-v2").await;
    let history = watch.stop();
    assert_eq!(
        history.overlaps, 0,
        "old and new pods ran together: {history:?}"
    );
    assert!(history.most_pods <= 3, "{history:?}");
    let replica_sets = replica_sets_of(&cluster.client, &deployment).await;
    let sizes: Vec<i32> = replica_sets.values().map(replicas_of).collect();
    assert_eq!(sizes.iter().sum::<i32>(), 3);
    assert_eq!(replica_sets.len(), 2);
}

#[tokio::test]
async fn rolling_back_reuses_the_old_replica_set_with_the_newest_revision() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let mut web = deployment("web", 2, "hollow/run", rolling(json!(1), json!(0)));
    web.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/change-cause".to_owned(),
        "first".to_owned(),
    )]));
    create(&cluster.client, &web).await;
    let first = wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    let original = replica_sets_of(&cluster.client, &first).await;
    let (original_name, original_set) = original.iter().next().expect("the first replica set");
    assert_eq!(
        annotation(original_set, "kubernetes.io/change-cause").as_deref(),
        Some("first")
    );

    patch(
        &cluster.client,
        "web",
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "second"}}}),
    )
    .await;
    set_image(&cluster.client, "web", "hollow/run-v2").await;
    wait_for_rollout(&cluster.client, "web", "hollow/run-v2").await;
    undo_to(&cluster.client, "web", original_set).await;
    let rolled_back = wait_for_rollout(&cluster.client, "web", "hollow/run").await;

    let replica_sets = eventually("the old replica set to get revision 3", TIMEOUT, || async {
        let replica_sets = replica_sets_of(&cluster.client, &rolled_back).await;
        let revision = replica_sets
            .get(original_name)
            .and_then(|set| annotation(set, REVISION));
        if revision.as_deref() == Some("3") {
            Ok(replica_sets)
        } else {
            Err(format!("{revision:?}"))
        }
    })
    .await;
    assert_eq!(
        replica_sets.len(),
        2,
        "no new replica set for an old template"
    );
    let reused = &replica_sets[original_name];
    assert_eq!(replicas_of(reused), 2);
    assert_eq!(
        annotation(reused, "deployment.kubernetes.io/revision-history").as_deref(),
        Some("1")
    );
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let current = deployments.get("web").await.expect("the deployment");
    assert_eq!(
        current.annotations().get(REVISION).map(String::as_str),
        Some("3")
    );
}

#[tokio::test]
async fn the_revision_history_limit_keeps_only_the_newest_old_replica_sets() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let mut web = deployment("web", 1, "hollow/run-1", rolling(json!(1), json!(0)));
    if let Some(spec) = web.spec.as_mut() {
        spec.revision_history_limit = Some(2);
    }
    create(&cluster.client, &web).await;
    wait_for_rollout(&cluster.client, "web", "hollow/run-1").await;
    for version in 2..=5 {
        let image = format!("hollow/run-{version}");
        set_image(&cluster.client, "web", &image).await;
        wait_for_rollout(&cluster.client, "web", &image).await;
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let current = deployments.get("web").await.expect("the deployment");
    let revisions = eventually("the oldest revisions to be deleted", TIMEOUT, || async {
        let mut revisions: Vec<String> = replica_sets_of(&cluster.client, &current)
            .await
            .values()
            .filter_map(|replica_set| annotation(replica_set, REVISION))
            .collect();
        revisions.sort();
        if revisions.len() == 3 {
            Ok(revisions)
        } else {
            Err(format!("{revisions:?}"))
        }
    })
    .await;
    assert_eq!(revisions, ["3", "4", "5"]);
}

#[tokio::test]
async fn a_paused_deployment_scales_but_does_not_roll_out_until_resumed() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    create(
        &cluster.client,
        &deployment("web", 2, "hollow/run", rolling(json!(1), json!(0))),
    )
    .await;
    let first = wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    patch(&cluster.client, "web", json!({"spec": {"paused": true}})).await;
    set_image(&cluster.client, "web", "hollow/run-v2").await;
    patch(&cluster.client, "web", json!({"spec": {"replicas": 3}})).await;

    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    eventually(
        "the paused deployment to scale its current replica set",
        TIMEOUT,
        || async {
            let deployment = deployments
                .get("web")
                .await
                .map_err(|error| error.to_string())?;
            let replica_sets = replica_sets_of(&cluster.client, &first).await;
            let progressing = condition(&deployment, "Progressing");
            let status = deployment.status.clone().unwrap_or_default();
            let scaled = replica_sets.len() == 1
                && replica_sets.values().all(|set| replicas_of(set) == 3)
                && status.observed_generation == deployment.metadata.generation
                && status.ready_replicas == Some(3)
                && progressing.as_ref().is_some_and(|condition| {
                    condition.status == "Unknown"
                        && condition.reason.as_deref() == Some("DeploymentPaused")
                        && condition.message.as_deref() == Some("Deployment is paused")
                });
            if scaled {
                Ok(())
            } else {
                Err(format!(
                    "{} replica sets, {progressing:?}, {status:?}",
                    replica_sets.len()
                ))
            }
        },
    )
    .await;

    patch(&cluster.client, "web", json!({"spec": {"paused": false}})).await;
    let resumed = wait_for_rollout(&cluster.client, "web", "hollow/run-v2").await;
    assert_eq!(replica_sets_of(&cluster.client, &resumed).await.len(), 2);
    eventually(
        "the Progressing condition to say the rollout is done",
        TIMEOUT,
        || async {
            let deployment = deployments
                .get("web")
                .await
                .map_err(|error| error.to_string())?;
            let reason =
                condition(&deployment, "Progressing").and_then(|condition| condition.reason);
            if reason.as_deref() == Some("NewReplicaSetAvailable") {
                Ok(())
            } else {
                Err(format!("{reason:?}"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn resizing_in_the_middle_of_a_rollout_scales_replica_sets_proportionally() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    create(
        &cluster.client,
        &deployment("web", 10, "hollow/run", rolling(json!(3), json!(2))),
    )
    .await;
    let first = wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    // New pods never become ready: the rollout stops with the old ReplicaSet at 8 and the
    // new one at 5 (13 pods, 8 of them available).
    set_image(&cluster.client, "web", "hollow/not-ready").await;
    let sizes = |replica_sets: &BTreeMap<String, ReplicaSet>| {
        let mut sizes: Vec<i32> = replica_sets.values().map(replicas_of).collect();
        sizes.sort_unstable();
        sizes
    };
    eventually(
        "the rollout to get stuck at 8 old and 5 new",
        TIMEOUT,
        || async {
            let found = sizes(&replica_sets_of(&cluster.client, &first).await);
            if found == [5, 8] {
                Ok(())
            } else {
                Err(format!("{found:?}"))
            }
        },
    )
    .await;
    // To 20 replicas (23 pods at most): 8 * 23 / 13 rounds to 14, 5 * 23 / 13 to 9.
    patch(&cluster.client, "web", json!({"spec": {"replicas": 20}})).await;
    eventually(
        "the replica sets to grow in proportion",
        TIMEOUT,
        || async {
            let found = sizes(&replica_sets_of(&cluster.client, &first).await);
            if found == [9, 14] {
                Ok(())
            } else {
                Err(format!("{found:?}"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_rollout_whose_pods_never_become_ready_exceeds_its_progress_deadline() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let mut web = deployment("web", 2, "hollow/run", rolling(json!(1), json!(0)));
    if let Some(spec) = web.spec.as_mut() {
        spec.progress_deadline_seconds = Some(2);
    }
    create(&cluster.client, &web).await;
    wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    set_image(&cluster.client, "web", "hollow/not-ready").await;
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let progressing = eventually("ProgressDeadlineExceeded", TIMEOUT, || async {
        let deployment = deployments
            .get("web")
            .await
            .map_err(|error| error.to_string())?;
        condition(&deployment, "Progressing")
            .filter(|condition| condition.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            .ok_or_else(|| format!("{:?}", condition(&deployment, "Progressing")))
    })
    .await;
    assert_eq!(progressing.status, "False");
    let deployment = deployments.get("web").await.expect("the deployment");
    let new = replica_sets_of(&cluster.client, &deployment)
        .await
        .into_values()
        .find(|replica_set| annotation(replica_set, REVISION).as_deref() == Some("2"))
        .expect("the new replica set");
    assert_eq!(
        progressing.message.as_deref(),
        Some(
            format!(
                "ReplicaSet \"{}\" has timed out progressing.",
                new.name_any()
            )
            .as_str()
        )
    );
    // maxUnavailable 0: the old pods stay.
    assert_eq!(
        deployment
            .status
            .and_then(|status| status.available_replicas),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_restarted_mid_rollout_finishes_it_without_duplicates() {
    let mut cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    // minReadySeconds makes each step of the rollout take a second, so that the restart
    // surely falls in the middle of it.
    let mut web = deployment("web", 9, "hollow/run", rolling(json!(3), json!(0)));
    if let Some(spec) = web.spec.as_mut() {
        spec.min_ready_seconds = Some(1);
    }
    create(&cluster.client, &web).await;
    let first = wait_for_rollout(&cluster.client, "web", "hollow/run").await;
    let watch = PodWatch::start(&cluster.client, "web", "hollow/run-v2").await;
    set_image(&cluster.client, "web", "hollow/run-v2").await;
    eventually("the rollout to be under way", TIMEOUT, || async {
        let replica_sets = replica_sets_of(&cluster.client, &first).await;
        let new = replica_sets
            .values()
            .find(|replica_set| annotation(replica_set, REVISION).as_deref() == Some("2"));
        match new.map(replicas_of) {
            Some(replicas) if (1..9).contains(&replicas) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    cluster.restart_controller_manager().await;
    let deployment = wait_for_rollout(&cluster.client, "web", "hollow/run-v2").await;
    let history = watch.stop();
    assert!(history.most_pods <= 12, "{history:?}");
    assert!(history.fewest_ready >= Some(9), "{history:?}");
    let replica_sets = replica_sets_of(&cluster.client, &deployment).await;
    assert_eq!(replica_sets.len(), 2, "{:?}", replica_sets.keys());
    let all: Vec<ReplicaSet> = Api::<ReplicaSet>::namespaced(cluster.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("the replica sets")
        .items;
    assert_eq!(all.len(), 2, "no other replica set exists");
}
