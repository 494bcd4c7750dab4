//! The scheduler's pod affinity, its FailedScheduling reports for pods no node can hold,
//! and the Priority admission plugin, against a real API server.

use serde_json::{Value, json};

use crate::scheduler::{
    EVENTS, PRIORITY_CLASSES, add_node, add_pod, events_of, node_of, pod_scheduled, wait_for_event,
    wait_unschedulable,
};
use crate::support::{Cluster, PODS, start_cluster, text};

/// A replica of `app` that refuses to share a node with another replica of it.
fn spread(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"},
        ]}}},
    })
}

#[tokio::test]
async fn required_anti_affinity_spreads_replicas_over_the_nodes_and_waits_for_a_free_one() {
    let cluster = start_cluster().await;
    for name in ["node-a", "node-b", "node-c"] {
        add_node(&cluster, name, "4", true, json!({})).await;
    }
    let mut nodes = Vec::new();
    for replica in ["web-1", "web-2", "web-3"] {
        add_pod(&cluster, replica, "100m", spread("web")).await;
        nodes.push(node_of(&cluster, replica).await);
    }
    nodes.sort();
    assert_eq!(
        nodes,
        ["node-a", "node-b", "node-c"],
        "one replica per node"
    );

    let fourth = add_pod(&cluster, "web-4", "100m", spread("web")).await;
    let message = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod..";
    wait_unschedulable(&cluster, "web-4", message).await;
    let event = wait_for_event(&cluster, &fourth, "FailedScheduling").await;
    assert_eq!(event["message"], message);

    // A pod the replicas' terms select is kept off their nodes too, terms or not.
    add_pod(
        &cluster,
        "web-plain",
        "100m",
        json!({"metadata": {"labels": {"app": "web"}}}),
    )
    .await;
    wait_unschedulable(
        &cluster,
        "web-plain",
        "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod..",
    )
    .await;

    // A replica going away frees its node for the waiting one.
    let freed = node_of(&cluster, "web-2").await;
    cluster
        .delete(&format!("{PODS}/web-2?gracePeriodSeconds=0"))
        .await
        .expect(200);
    let taken = node_of(&cluster, "web-4").await;
    assert_eq!(taken, freed);
}

#[tokio::test]
async fn preferred_pod_affinity_draws_a_pod_to_its_peer_and_anti_affinity_away() {
    let cluster = start_cluster().await;
    add_node(&cluster, "node-a", "4", true, json!({})).await;
    add_node(&cluster, "node-b", "4", true, json!({})).await;
    add_pod(
        &cluster,
        "db",
        "500m",
        json!({"metadata": {"labels": {"app": "db"}}}),
    )
    .await;
    let db_node = node_of(&cluster, "db").await;
    let other = if db_node == "node-a" {
        "node-b"
    } else {
        "node-a"
    };

    let preferring = |kind: &str| {
        json!({"spec": {"affinity": {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"},
        }]}}}})
    };
    add_pod(&cluster, "near", "100m", preferring("podAffinity")).await;
    assert_eq!(
        node_of(&cluster, "near").await,
        db_node,
        "the less loaded node loses to the preferred peer"
    );
    add_pod(&cluster, "far", "100m", preferring("podAntiAffinity")).await;
    assert_eq!(node_of(&cluster, "far").await, other);
}

#[tokio::test]
async fn a_pod_asking_for_more_cpu_than_any_node_has_is_told_so_and_stays_pending() {
    let cluster = start_cluster().await;
    add_node(&cluster, "small-a", "2", true, json!({})).await;
    add_node(&cluster, "small-b", "2", true, json!({})).await;
    let created = add_pod(&cluster, "huge", "8", json!({})).await;

    let message = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..";
    let pending = wait_unschedulable(&cluster, "huge", message).await;
    assert_eq!(pending["status"]["phase"], "Pending");
    let condition = pod_scheduled(&pending).expect("the condition");
    assert!(condition["lastTransitionTime"].is_string(), "{condition}");
    let event = wait_for_event(&cluster, &created, "FailedScheduling").await;
    assert_eq!(event["message"], message);
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reportingComponent"], "default-scheduler");
    assert_eq!(event["involvedObject"]["name"], "huge");
    assert!(events_of(&cluster, &created, "Scheduled").await.is_empty());
    let listed = cluster
        .get(&format!("{EVENTS}?fieldSelector=reason=FailedScheduling"))
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

async fn forbidden_message(cluster: &Cluster, path: &str, object: &Value) -> String {
    let status = cluster
        .post(path, object)
        .await
        .expect_failure(403, "Forbidden");
    text(&status, "/message")
}

fn class(name: &str, value: i64, global_default: bool) -> Value {
    json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "globalDefault": global_default,
    })
}

fn bare_pod(name: &str, spec: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    });
    for (field, value) in spec.as_object().into_iter().flatten() {
        pod["spec"][field] = value.clone();
    }
    pod
}

#[tokio::test]
async fn priority_admission_resolves_classes_and_refuses_what_kubernetes_refuses() {
    let cluster = start_cluster().await;
    for (name, value) in [
        ("system-node-critical", 2_000_001_000),
        ("system-cluster-critical", 2_000_000_000),
    ] {
        let system = cluster
            .get(&format!("{PRIORITY_CLASSES}/{name}"))
            .await
            .expect(200);
        assert_eq!(system["value"], value);
        assert_eq!(system["preemptionPolicy"], "PreemptLowerPriority");
    }

    let plain = cluster.create(PODS, &bare_pod("plain", json!({}))).await;
    assert_eq!(plain["spec"]["priority"], 0);
    assert_eq!(plain["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    let critical = cluster
        .create(
            PODS,
            &bare_pod(
                "critical",
                json!({"priorityClassName": "system-cluster-critical"}),
            ),
        )
        .await;
    assert_eq!(critical["spec"]["priority"], 2_000_000_000);

    assert_eq!(
        forbidden_message(
            &cluster,
            PODS,
            &bare_pod("lost", json!({"priorityClassName": "missing"}))
        )
        .await,
        "pods \"lost\" is forbidden: no PriorityClass with name missing was found"
    );
    assert_eq!(
        forbidden_message(&cluster, PODS, &bare_pod("pushy", json!({"priority": 100}))).await,
        "pods \"pushy\" is forbidden: the integer value of priority (100) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
    );

    cluster
        .create(PRIORITY_CLASSES, &class("standard", 500, true))
        .await;
    let defaulted = cluster
        .create(PODS, &bare_pod("defaulted", json!({})))
        .await;
    assert_eq!(defaulted["spec"]["priorityClassName"], "standard");
    assert_eq!(defaulted["spec"]["priority"], 500);
    assert_eq!(
        forbidden_message(&cluster, PRIORITY_CLASSES, &class("rival", 1, true)).await,
        "priorityclasses.scheduling.k8s.io \"rival\" is forbidden: PriorityClass standard is already marked as default. Only one default can exist"
    );
    let reserved = cluster
        .post(PRIORITY_CLASSES, &class("system-mine", 1, false))
        .await
        .expect_failure(422, "Invalid");
    assert!(
        text(&reserved, "/message").contains(
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only"
        ),
        "{reserved}"
    );
}
