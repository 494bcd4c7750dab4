//! The scheduler against a real API server: nodes created through the API (their status
//! through the status subresource, as a node agent posts it), pods without a node, and
//! what the scheduler does with them — bindings, `PodScheduled` conditions and events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Cluster, PODS, start_cluster, text};

pub const NODES: &str = "/api/v1/nodes";
pub const EVENTS: &str = "/api/v1/namespaces/default/events";
pub const PRIORITY_CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

/// How long the scheduler may take to act; it normally takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// A node as a node agent registers it, with its allocatable and Ready condition posted
/// through the status subresource. `extra` is merged into the Node (labels, taints).
pub async fn add_node(cluster: &Cluster, name: &str, cpu: &str, ready: bool, extra: Value) {
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    });
    merge(&mut node, &extra);
    cluster.create(NODES, &node).await;
    set_node_status(cluster, name, cpu, "10", ready).await;
}

pub async fn set_node_status(cluster: &Cluster, name: &str, cpu: &str, pods: &str, ready: bool) {
    let status = json!({"status": {
        "allocatable": {"cpu": cpu, "memory": "4Gi", "pods": pods},
        "capacity": {"cpu": cpu, "memory": "4Gi", "pods": pods},
        "conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
        }],
    }});
    cluster
        .merge_patch(&format!("{NODES}/{name}/status"), &status)
        .await
        .expect(200);
}

fn merge(target: &mut Value, extra: &Value) {
    match (target, extra) {
        (Value::Object(target), Value::Object(extra)) => {
            for (key, value) in extra {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, extra) => *target = extra.clone(),
    }
}

/// A pod asking for `cpu`; `extra` is merged into it (a spec's nodeSelector, say).
pub async fn add_pod(cluster: &Cluster, name: &str, cpu: &str, extra: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "app",
            "image": "registry.example/app:1",
            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
        }]},
    });
    merge(&mut pod, &extra);
    cluster.create(PODS, &pod).await
}

/// Polls the object at `path` until `done` accepts it, and returns it.
pub async fn wait_for(
    cluster: &Cluster,
    path: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let object = cluster.get(path).await.expect(200);
        if done(&object) {
            return object;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never became {what}; last seen: {object}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the pod to be bound and answers its node.
pub async fn node_of(cluster: &Cluster, pod: &str) -> String {
    let bound = wait_for(cluster, &format!("{PODS}/{pod}"), "bound", |pod| {
        pod.pointer("/spec/nodeName")
            .is_some_and(|node| node.is_string())
    })
    .await;
    text(&bound, "/spec/nodeName")
}

pub fn pod_scheduled(pod: &Value) -> Option<&Value> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == "PodScheduled")
}

/// Waits for the pod's `PodScheduled=False` condition to carry `message`.
pub async fn wait_unschedulable(cluster: &Cluster, pod: &str, message: &str) -> Value {
    let pod = wait_for(cluster, &format!("{PODS}/{pod}"), message, |pod| {
        pod_scheduled(pod).is_some_and(|condition| condition["message"] == message)
    })
    .await;
    let condition = pod_scheduled(&pod).expect("the condition");
    assert_eq!(condition["status"], "False", "{condition}");
    assert_eq!(condition["reason"], "Unschedulable", "{condition}");
    assert!(pod.pointer("/spec/nodeName").is_none(), "{pod}");
    pod
}

/// The pod's events with this reason, as `kubectl describe` finds them.
pub async fn events_of(cluster: &Cluster, pod: &Value, reason: &str) -> Vec<Value> {
    let selector = format!(
        "involvedObject.name={},involvedObject.uid={},reason={reason}",
        text(pod, "/metadata/name"),
        text(pod, "/metadata/uid"),
    );
    let list = cluster
        .get(&format!("{EVENTS}?fieldSelector={selector}"))
        .await
        .expect(200);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Waits for the first event of the pod with this reason (the scheduler reports after it
/// acts).
pub async fn wait_for_event(cluster: &Cluster, pod: &Value, reason: &str) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(event) = events_of(cluster, pod, reason).await.into_iter().next() {
            return event;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {reason} event for {pod}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pod_is_bound_to_the_only_ready_node_and_told_so() {
    let cluster = start_cluster().await;
    add_node(&cluster, "solo", "2", true, json!({})).await;
    let created = add_pod(&cluster, "web", "500m", json!({})).await;

    assert_eq!(node_of(&cluster, "web").await, "solo");
    let pod = cluster.get(&format!("{PODS}/web")).await.expect(200);
    assert_eq!(pod_scheduled(&pod).expect("a condition")["status"], "True");
    let event = wait_for_event(&cluster, &created, "Scheduled").await;
    assert_eq!(
        event["message"],
        "Successfully assigned default/web to solo"
    );
    assert_eq!(event["type"], "Normal");
    assert_eq!(event["source"]["component"], "default-scheduler");
    assert_eq!(event["involvedObject"]["kind"], "Pod");
    assert_eq!(events_of(&cluster, &created, "Scheduled").await.len(), 1);
    assert!(
        events_of(&cluster, &created, "FailedScheduling")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn node_selector_picks_the_matching_node() {
    let cluster = start_cluster().await;
    add_node(
        &cluster,
        "east",
        "2",
        true,
        json!({"metadata": {"labels": {"zone": "east"}}}),
    )
    .await;
    add_node(
        &cluster,
        "west",
        "2",
        true,
        json!({"metadata": {"labels": {"zone": "west"}}}),
    )
    .await;
    add_pod(
        &cluster,
        "web",
        "100m",
        json!({"spec": {"nodeSelector": {"zone": "west"}}}),
    )
    .await;
    assert_eq!(node_of(&cluster, "web").await, "west");
}

#[tokio::test]
async fn insufficient_cpu_keeps_a_pod_pending_until_a_big_enough_node_joins() {
    let cluster = start_cluster().await;
    add_node(&cluster, "reserved", "16", true, json!({})).await;
    add_node(&cluster, "small-1", "1", true, json!({})).await;
    add_node(&cluster, "small-2", "1", true, json!({})).await;
    let not_reserved = json!({"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["reserved"]}],
        }]},
    }}}});
    let created = add_pod(&cluster, "big", "2", not_reserved).await;

    let message = "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..";
    let pending = wait_unschedulable(&cluster, "big", message).await;
    let event = wait_for_event(&cluster, &created, "FailedScheduling").await;
    assert_eq!(event["message"], message);
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["source"]["component"], "default-scheduler");
    assert_eq!(event["involvedObject"]["namespace"], "default");
    assert_eq!(event["count"], 1);

    // A node change that makes no room: the pod is tried again and fails the same way,
    // which counts on the same event and leaves the pod's condition as it was.
    cluster
        .merge_patch(
            &format!("{NODES}/reserved"),
            &json!({"metadata": {"labels": {"team": "ops"}}}),
        )
        .await
        .expect(200);
    let event_path = format!("{EVENTS}/{}", text(&event, "/metadata/name"));
    wait_for(&cluster, &event_path, "counted twice", |event| {
        event["count"] == 2
    })
    .await;
    assert_eq!(
        events_of(&cluster, &created, "FailedScheduling")
            .await
            .len(),
        1
    );
    let still_pending = cluster.get(&format!("{PODS}/big")).await.expect(200);
    assert_eq!(
        still_pending["metadata"]["resourceVersion"],
        pending["metadata"]["resourceVersion"]
    );

    add_node(&cluster, "large", "4", true, json!({})).await;
    assert_eq!(node_of(&cluster, "big").await, "large");
}

#[tokio::test]
async fn a_tainted_node_is_skipped_unless_the_pod_tolerates_its_taint() {
    let cluster = start_cluster().await;
    let taint =
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}});
    add_node(&cluster, "a-gpu", "2", true, taint).await;
    add_node(&cluster, "b-plain", "2", true, json!({})).await;
    add_pod(&cluster, "anywhere", "100m", json!({})).await;
    assert_eq!(node_of(&cluster, "anywhere").await, "b-plain");

    let on_gpu = json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "a-gpu"}}});
    add_pod(&cluster, "intolerant", "100m", on_gpu.clone()).await;
    wait_unschedulable(
        &cluster,
        "intolerant",
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..",
    )
    .await;
    let mut tolerant = on_gpu;
    tolerant["spec"]["tolerations"] =
        json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
    add_pod(&cluster, "tolerant", "100m", tolerant).await;
    assert_eq!(node_of(&cluster, "tolerant").await, "a-gpu");
}

#[tokio::test]
async fn a_node_that_is_not_ready_is_skipped_until_it_is() {
    let cluster = start_cluster().await;
    add_node(&cluster, "a-down", "2", false, json!({})).await;
    add_node(&cluster, "b-up", "2", true, json!({})).await;
    add_pod(&cluster, "anywhere", "100m", json!({})).await;
    assert_eq!(node_of(&cluster, "anywhere").await, "b-up");

    add_pod(
        &cluster,
        "pinned",
        "100m",
        json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "a-down"}}}),
    )
    .await;
    wait_unschedulable(
        &cluster,
        "pinned",
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..",
    )
    .await;
    set_node_status(&cluster, "a-down", "2", "10", true).await;
    assert_eq!(node_of(&cluster, "pinned").await, "a-down");
}

#[tokio::test]
async fn least_allocated_spreads_pods_over_equal_nodes() {
    let cluster = start_cluster().await;
    add_node(&cluster, "left", "2", true, json!({})).await;
    add_node(&cluster, "right", "2", true, json!({})).await;
    add_pod(&cluster, "first", "500m", json!({})).await;
    add_pod(&cluster, "second", "500m", json!({})).await;
    let mut nodes = [
        node_of(&cluster, "first").await,
        node_of(&cluster, "second").await,
    ];
    nodes.sort();
    assert_eq!(nodes, ["left", "right"]);
}

#[tokio::test]
async fn the_higher_priority_pod_takes_the_only_place_and_the_other_waits_for_room() {
    let cluster = start_cluster().await;
    let urgent_class = json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "urgent"},
        "value": 1000,
    });
    cluster.create(PRIORITY_CLASSES, &urgent_class).await;
    add_pod(&cluster, "ordinary", "100m", json!({})).await;
    let urgent = add_pod(
        &cluster,
        "urgent",
        "100m",
        json!({"spec": {"priorityClassName": "urgent"}}),
    )
    .await;
    assert_eq!(urgent["spec"]["priority"], 1000, "resolved at admission");
    wait_unschedulable(&cluster, "ordinary", "no nodes available to schedule pods").await;
    wait_unschedulable(&cluster, "urgent", "no nodes available to schedule pods").await;

    // A node with room for one pod joins; until it posts its status, it is not ready.
    let tiny = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "tiny"}});
    cluster.create(NODES, &tiny).await;
    set_node_status(&cluster, "tiny", "2", "1", true).await;
    assert_eq!(node_of(&cluster, "urgent").await, "tiny");
    // The node holds only higher-priority pods: preemption has no victims to offer.
    wait_unschedulable(
        &cluster,
        "ordinary",
        "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..",
    )
    .await;

    // Deleting the bound pod makes room for the waiting one.
    cluster
        .delete(&format!("{PODS}/urgent?gracePeriodSeconds=0"))
        .await
        .expect(200);
    assert_eq!(node_of(&cluster, "ordinary").await, "tiny");
}

#[tokio::test]
async fn a_pod_for_another_scheduler_is_left_alone() {
    let cluster = start_cluster().await;
    add_node(&cluster, "solo", "2", true, json!({})).await;
    let foreign = add_pod(
        &cluster,
        "foreign",
        "100m",
        json!({"spec": {"schedulerName": "my-scheduler"}}),
    )
    .await;
    // Created later, so the default scheduler would have taken the foreign pod first.
    add_pod(&cluster, "native", "100m", json!({})).await;
    assert_eq!(node_of(&cluster, "native").await, "solo");

    let pod = cluster.get(&format!("{PODS}/foreign")).await.expect(200);
    assert!(pod.pointer("/spec/nodeName").is_none(), "{pod}");
    assert!(pod_scheduled(&pod).is_none(), "{pod}");
    for reason in ["Scheduled", "FailedScheduling"] {
        assert!(events_of(&cluster, &foreign, reason).await.is_empty());
    }
}
