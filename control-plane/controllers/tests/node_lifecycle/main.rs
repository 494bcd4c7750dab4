//! The node lifecycle controller and taint-based eviction against a real API server with
//! hollow nodes: a node that stops renewing its Lease turns Unknown and is tainted, its pods
//! are evicted when their tolerations run out (and replaced elsewhere by their ReplicaSet),
//! a node that comes back is trusted again, and DefaultTolerationSeconds admission gives
//! every pod its bounded tolerations.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

use std::time::Duration;

use helpers::{
    GRACE_PERIOD, NOTICED_WITHIN, UNREACHABLE, condition_of, create_pod_on, has_taint, owned,
    quick_to_notice, start, taints_of, two_ready_on, unreachable_toleration, wait_for_event,
    wait_for_no_execute_taint, wait_until_marked_for_deletion, wait_until_running,
};
use jiff::SignedDuration;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_controllers::ControllerManagerOptions;

#[tokio::test]
async fn a_silent_node_turns_unknown_is_tainted_and_its_intolerant_pods_are_evicted() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let doomed = cluster.hollow_node("doomed").await;
    let _healthy = cluster.hollow_node("healthy").await;
    create_pod_on(
        &client,
        "victim",
        "doomed",
        json!([unreachable_toleration(Some(0))]),
    )
    .await;
    wait_until_running(&client, "victim").await;

    doomed.stop();
    let nodes: Api<Node> = Api::all(client.clone());
    let node = eventually("doomed to be Unknown", NOTICED_WITHIN, || async {
        let node = nodes
            .get("doomed")
            .await
            .map_err(|error| error.to_string())?;
        match condition_of(&node, "Ready") {
            Some((status, ..)) if status == "Unknown" => Ok(node),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        condition_of(&node, "Ready"),
        owned(
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status."
        )
    );
    for never_posted in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        let expected = owned(
            "Unknown",
            "NodeStatusNeverUpdated",
            "Kubelet never posted node status.",
        );
        assert_eq!(
            condition_of(&node, never_posted),
            expected,
            "{never_posted}"
        );
    }
    wait_for_no_execute_taint(&client, "doomed", UNREACHABLE).await;
    let node = nodes.get("doomed").await.expect("the node");
    assert!(has_taint(&node, UNREACHABLE, "NoSchedule"));
    let component = wait_for_event(
        &client,
        "doomed",
        "NodeNotReady",
        "Node doomed status is now: NodeNotReady",
    )
    .await;
    assert_eq!(component, "node-controller");

    let victim = wait_until_marked_for_deletion(&client, "victim").await;
    assert_eq!(
        condition_of(&victim, "DisruptionTarget"),
        owned(
            "True",
            "DeletionByTaintManager",
            "Taint manager: deleting due to NoExecute taint"
        )
    );
    assert_eq!(
        condition_of(&victim, "Ready").map(|(status, ..)| status),
        Some("False".to_owned())
    );
    let component = wait_for_event(
        &client,
        "victim",
        "TaintManagerEviction",
        "Marking for deletion Pod default/victim",
    )
    .await;
    assert_eq!(component, "taint-eviction-controller");
    wait_for_event(&client, "victim", "NodeNotReady", "Node is not ready").await;

    let healthy = nodes.get("healthy").await.expect("the node");
    assert_eq!(taints_of(&healthy), Vec::<Taint>::new());
    assert_eq!(
        condition_of(&healthy, "Ready").map(|(status, ..)| status),
        Some("True".to_owned())
    );
}

#[tokio::test]
async fn toleration_seconds_count_from_the_taint_and_a_forever_toleration_keeps_its_pod() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let doomed = cluster.hollow_node("doomed").await;
    let _healthy = cluster.hollow_node("healthy").await;
    let tolerated_seconds = 3;
    create_pod_on(
        &client,
        "short",
        "doomed",
        json!([unreachable_toleration(Some(tolerated_seconds))]),
    )
    .await;
    create_pod_on(
        &client,
        "forever",
        "doomed",
        json!([unreachable_toleration(None)]),
    )
    .await;
    wait_until_running(&client, "short").await;
    wait_until_running(&client, "forever").await;

    doomed.stop();
    let tainted_at = wait_for_no_execute_taint(&client, "doomed", UNREACHABLE).await;
    let short = wait_until_marked_for_deletion(&client, "short").await;
    let deletion_timestamp = short
        .metadata
        .deletion_timestamp
        .as_ref()
        .expect("a deletion timestamp")
        .0;
    let grace_period = short
        .metadata
        .deletion_grace_period_seconds
        .expect("a grace period");
    let deleted_at = deletion_timestamp - SignedDuration::from_secs(grace_period);
    assert!(
        deleted_at >= tainted_at + SignedDuration::from_secs(tolerated_seconds),
        "deleted at {deleted_at}, tainted at {tainted_at}: before the toleration ran out"
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let forever = pods.get("forever").await.expect("the pod");
    assert!(forever.metadata.deletion_timestamp.is_none());
    assert_eq!(condition_of(&forever, "DisruptionTarget"), None);
}

#[tokio::test]
async fn a_node_that_comes_back_is_ready_again_and_its_pending_evictions_are_cancelled() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let mut returning = cluster.hollow_node("returning").await;
    let _healthy = cluster.hollow_node("healthy").await;
    create_pod_on(
        &client,
        "patient",
        "returning",
        json!([unreachable_toleration(Some(60))]),
    )
    .await;
    wait_until_running(&client, "patient").await;

    returning.stop();
    wait_for_no_execute_taint(&client, "returning", UNREACHABLE).await;
    returning.resume();
    let nodes: Api<Node> = Api::all(client.clone());
    eventually(
        "returning to be Ready and untainted",
        NOTICED_WITHIN,
        || async {
            let node = nodes
                .get("returning")
                .await
                .map_err(|error| error.to_string())?;
            let ready = condition_of(&node, "Ready").map(|(status, ..)| status);
            if ready.as_deref() == Some("True") && taints_of(&node).is_empty() {
                Ok(())
            } else {
                Err(format!("Ready {ready:?}, taints {:?}", taints_of(&node)))
            }
        },
    )
    .await;
    let component = wait_for_event(
        &client,
        "patient",
        "TaintManagerEviction",
        "Cancelling deletion of Pod default/patient",
    )
    .await;
    assert_eq!(component, "taint-eviction-controller");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let patient = pods.get("patient").await.expect("the pod");
    assert!(patient.metadata.deletion_timestamp.is_none());
}

#[tokio::test]
async fn with_every_node_lost_nothing_is_evicted_until_another_node_is_ready() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let only = cluster.hollow_node("only").await;
    create_pod_on(
        &client,
        "survivor",
        "only",
        json!([unreachable_toleration(Some(0))]),
    )
    .await;
    wait_until_running(&client, "survivor").await;

    only.stop();
    let nodes: Api<Node> = Api::all(client.clone());
    // The NoSchedule and NoExecute taints are decided and written together: once the
    // former is there, the latter was held back.
    let node = eventually("only to be tainted NoSchedule", NOTICED_WITHIN, || async {
        let node = nodes.get("only").await.map_err(|error| error.to_string())?;
        if has_taint(&node, UNREACHABLE, "NoSchedule") {
            Ok(node)
        } else {
            Err(format!("{:?}", taints_of(&node)))
        }
    })
    .await;
    assert!(!has_taint(&node, UNREACHABLE, "NoExecute"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let survivor = pods.get("survivor").await.expect("the pod");
    assert!(survivor.metadata.deletion_timestamp.is_none());

    let _rescuer = cluster.hollow_node("rescuer").await;
    wait_for_no_execute_taint(&client, "only", UNREACHABLE).await;
    wait_until_marked_for_deletion(&client, "survivor").await;
}

#[tokio::test]
async fn replica_set_pods_of_a_lost_node_are_replaced_on_another_within_the_grace_period() {
    let api = ApiOptions {
        default_unreachable_toleration_seconds: 0,
        ..ApiOptions::default()
    };
    let cluster = TestControlPlane::start_with_api(quick_to_notice(), api).await;
    let client = cluster.client.clone();
    let doomed = cluster.hollow_node("doomed").await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let replica_set: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "hollow/run"}]},
            },
        },
    }))
    .expect("a replica set");
    replica_sets
        .create(&PostParams::default(), &replica_set)
        .await
        .expect("the replica set is created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let originals = eventually("two pods on doomed", NOTICED_WITHIN, || {
        two_ready_on(&pods, "doomed")
    })
    .await;
    let original = pods.get(&originals[0]).await.expect("a pod");
    let tolerations = original
        .spec
        .and_then(|spec| spec.tolerations)
        .unwrap_or_default();
    assert!(
        tolerations.iter().any(|toleration| {
            toleration.key.as_deref() == Some(UNREACHABLE)
                && toleration.toleration_seconds == Some(0)
        }),
        "admission gives the configured unreachable toleration: {tolerations:?}"
    );

    let _healthy = cluster.hollow_node("healthy").await;
    doomed.stop();
    let replaced_within = GRACE_PERIOD + Duration::from_secs(5);
    eventually("two replacements on healthy", replaced_within, || {
        two_ready_on(&pods, "healthy")
    })
    .await;
    for name in &originals {
        let original = pods.get(name).await.expect("the evicted pod");
        assert!(original.metadata.deletion_timestamp.is_some(), "{name}");
    }
}

#[tokio::test]
async fn admission_adds_the_configured_default_tolerations_only_where_missing() {
    let api = ApiOptions {
        default_not_ready_toleration_seconds: 111,
        default_unreachable_toleration_seconds: 222,
        ..ApiOptions::default()
    };
    let cluster = TestControlPlane::start_with_api(ControllerManagerOptions::default(), api).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let create = |name: &'static str, tolerations: Value| {
        let pods = pods.clone();
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "app", "image": "hollow/run"}], "tolerations": tolerations},
            }))
            .expect("a pod");
            let created = pods
                .create(&PostParams::default(), &pod)
                .await
                .expect("the pod is created");
            serde_json::to_value(created.spec.and_then(|spec| spec.tolerations))
                .expect("tolerations as JSON")
        }
    };
    let not_ready = json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 111});
    let unreachable = json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 222});
    assert_eq!(
        create("plain", Value::Null).await,
        json!([not_ready, unreachable])
    );
    let own = unreachable_toleration(Some(5));
    assert_eq!(create("own", json!([own])).await, json!([own, not_ready]));
    let everything = json!({"operator": "Exists"});
    assert_eq!(
        create("everything", json!([everything])).await,
        json!([everything])
    );

    // A replace that leaves the spec as it was keeps the tolerations as they are.
    // The scheduler and the hollow node write the pod too: a 409 means read it again.
    let mut attempts = 0;
    let replaced = loop {
        attempts += 1;
        let mut plain = pods.get("plain").await.expect("the pod");
        plain
            .labels_mut()
            .insert("touched".to_owned(), "yes".to_owned());
        match pods.replace("plain", &PostParams::default(), &plain).await {
            Ok(replaced) => break replaced,
            Err(kube::Error::Api(response)) if response.code == 409 && attempts < 10 => {}
            Err(error) => panic!("the pod is replaced: {error}"),
        }
    };
    assert_eq!(
        serde_json::to_value(replaced.spec.and_then(|spec| spec.tolerations))
            .expect("tolerations as JSON"),
        json!([not_ready, unreachable])
    );
}
