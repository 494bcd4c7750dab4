//! The DaemonSet controller against a real API server, its scheduler and hollow nodes: one
//! pod per eligible node, bound by the scheduler; pods that follow nodes as they come, go,
//! get tainted or relabelled; a rolling update within `maxUnavailable`; failed pods
//! replaced; and the status `kubectl rollout status` reads.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually};

const NAMESPACE: &str = "default";
const TIMEOUT: Duration = Duration::from_secs(10);

fn daemon_set(name: &str, template_spec: Value, strategy: Value) -> DaemonSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec},
            "updateStrategy": strategy,
        },
    }))
    .expect("a daemon set")
}

async fn create_daemon_set(client: &Client, daemon_set: &DaemonSet) -> DaemonSet {
    Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), daemon_set)
        .await
        .expect("the daemon set is created")
}

async fn pods_of(client: &Client, app: &str) -> Result<Vec<Pod>, String> {
    Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|list| list.items)
        .map_err(|error| error.to_string())
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.clone())
        .unwrap_or_default()
}

fn is_running(pod: &Pod) -> bool {
    wasmkube_controllers::pods::pod_phase(pod) == Some("Running")
}

/// The bound, running pods by node, once the pods are exactly one Running pod on each of
/// `nodes` (and none being deleted).
async fn wait_for_one_pod_per_node(
    client: &Client,
    app: &str,
    nodes: &[&str],
) -> BTreeMap<String, Pod> {
    let wanted: Vec<String> = nodes.iter().map(|node| (*node).to_owned()).collect();
    eventually(
        &format!("one running {app} pod on each of {nodes:?}"),
        TIMEOUT,
        || async {
            let pods = pods_of(client, app).await?;
            let by_node: BTreeMap<String, Pod> =
                pods.iter().map(|pod| (node_of(pod), pod.clone())).collect();
            let settled = pods.len() == wanted.len()
                && by_node.keys().eq(wanted.iter())
                && pods
                    .iter()
                    .all(|pod| is_running(pod) && pod.metadata.deletion_timestamp.is_none());
            if settled {
                Ok(by_node)
            } else {
                let seen: Vec<(String, String)> = pods
                    .iter()
                    .map(|pod| (pod.name_any(), node_of(pod)))
                    .collect();
                Err(format!("{seen:?}"))
            }
        },
    )
    .await
}

async fn status_of(client: &Client, name: &str) -> Result<(Option<i64>, Value), String> {
    let daemon_set = Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE)
        .get(name)
        .await
        .map_err(|error| error.to_string())?;
    let status = serde_json::to_value(daemon_set.status).map_err(|error| error.to_string())?;
    Ok((daemon_set.metadata.generation, status))
}

/// Waits until the status has these counts and has observed the current generation.
async fn wait_for_status(client: &Client, name: &str, expected: Value) {
    eventually(
        &format!("{name}'s status to be {expected}"),
        TIMEOUT,
        || async {
            let (generation, status) = status_of(client, name).await?;
            let matches = expected
                .as_object()
                .expect("an object")
                .iter()
                .all(|(key, value)| status.get(key) == Some(value))
                && status.get("observedGeneration").and_then(Value::as_i64) == generation;
            if matches {
                Ok(())
            } else {
                Err(status.to_string())
            }
        },
    )
    .await;
}

fn counts(desired: i32, ready: i32, updated: i32, available: i32) -> Value {
    json!({
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": desired,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
        "numberUnavailable": desired - available,
    })
}

async fn event_messages(client: &Client, reason: &str) -> Result<Vec<String>, String> {
    let events = Api::<Event>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .map_err(|error| error.to_string())?;
    Ok(events
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some(reason))
        .filter_map(|event| event.message)
        .collect())
}

#[tokio::test]
async fn one_pod_per_eligible_node_following_nodes_as_they_come_change_and_go() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let _first = cluster.hollow_node("hollow-1").await;
    let _second = cluster.hollow_node("hollow-2").await;
    let _third = cluster.hollow_node("hollow-3").await;
    let _tainted = cluster.hollow_node("hollow-tainted").await;
    nodes
        .patch(
            "hollow-tainted",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}})),
        )
        .await
        .expect("the node is tainted");

    let agent = daemon_set(
        "agent",
        json!({"nodeSelector": {"type": "hollow"}, "containers": [{"name": "agent", "image": "hollow/run"}]}),
        json!({"type": "RollingUpdate"}),
    );
    create_daemon_set(&client, &agent).await;
    let pods =
        wait_for_one_pod_per_node(&client, "agent", &["hollow-1", "hollow-2", "hollow-3"]).await;
    wait_for_status(&client, "agent", counts(3, 3, 3, 3)).await;

    let pod = &pods["hollow-1"];
    let spec = serde_json::to_value(pod.spec.as_ref().expect("a spec")).expect("json");
    assert_eq!(
        spec.pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"),
        Some(&json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["hollow-1"]}]}]))
    );
    let tolerations = spec["tolerations"].as_array().expect("tolerations");
    assert!(tolerations.contains(
        &json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"})
    ));
    assert!(tolerations.contains(&json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"})));
    assert!(pod.labels().contains_key("controller-revision-hash"));
    assert!(pod.name_any().starts_with("agent-"));

    let _fifth = cluster.hollow_node("hollow-5").await;
    wait_for_one_pod_per_node(
        &client,
        "agent",
        &["hollow-1", "hollow-2", "hollow-3", "hollow-5"],
    )
    .await;

    nodes
        .patch(
            "hollow-2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"type": "other"}}})),
        )
        .await
        .expect("the node is relabelled");
    wait_for_one_pod_per_node(&client, "agent", &["hollow-1", "hollow-3", "hollow-5"]).await;

    nodes
        .delete("hollow-3", &DeleteParams::default())
        .await
        .expect("the node is deleted");
    wait_for_one_pod_per_node(&client, "agent", &["hollow-1", "hollow-5"]).await;
    wait_for_status(&client, "agent", counts(2, 2, 2, 2)).await;

    let created = event_messages(&client, "SuccessfulCreate")
        .await
        .expect("events");
    assert_eq!(created.len(), 4, "{created:?}");
    assert!(
        created
            .iter()
            .all(|message| message.starts_with("Created pod: agent-"))
    );
    let deleted = event_messages(&client, "SuccessfulDelete")
        .await
        .expect("events");
    assert_eq!(deleted.len(), 2, "{deleted:?}");
}

#[tokio::test]
async fn a_template_change_rolls_the_pods_within_max_unavailable() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let names = ["hollow-1", "hollow-2", "hollow-3"];
    let mut hollow_nodes = Vec::new();
    for name in names {
        hollow_nodes.push(cluster.hollow_node(name).await);
    }
    let agent = daemon_set(
        "agent",
        json!({"containers": [{"name": "agent", "image": "hollow/run"}]}),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
    );
    create_daemon_set(&client, &agent).await;
    let original = wait_for_one_pod_per_node(&client, "agent", &names).await;
    wait_for_status(&client, "agent", counts(3, 3, 3, 3)).await;
    let original_hash = original["hollow-1"].labels()["controller-revision-hash"].clone();

    // New pods that never become ready hold the rollout after the first replacement.
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    let set_image = |image: &'static str| {
        let daemon_sets = daemon_sets.clone();
        async move {
            let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": image}]}}}});
            daemon_sets
                .patch("agent", &PatchParams::default(), &Patch::Strategic(patch))
                .await
                .expect("the template is changed");
        }
    };
    set_image("hollow/not-ready").await;
    let split = |pods: &[Pod]| {
        let new = pods
            .iter()
            .filter(|pod| pod.labels()["controller-revision-hash"] != original_hash)
            .count();
        (new, pods.len() - new)
    };
    eventually("one pod replaced", TIMEOUT, || async {
        let pods = pods_of(&client, "agent").await?;
        let live: Vec<Pod> = pods
            .into_iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .collect();
        if split(&live) == (1, 2) && live.iter().all(is_running) {
            Ok(())
        } else {
            Err(format!("{:?}", split(&live)))
        }
    })
    .await;
    wait_for_status(&client, "agent", counts(3, 2, 1, 2)).await;
    // With one pod unavailable, maxUnavailable 1 lets no other old pod go.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        let pods = pods_of(&client, "agent").await.expect("pods");
        assert_eq!(split(&pods), (1, 2), "the rollout went past maxUnavailable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Going back to the original template makes the old pods current again; the one
    // unavailable pod, now old, is replaced at once.
    set_image("hollow/run").await;
    wait_for_status(&client, "agent", counts(3, 3, 3, 3)).await;
    let rolled_back = wait_for_one_pod_per_node(&client, "agent", &names).await;
    assert!(
        rolled_back
            .values()
            .all(|pod| pod.labels()["controller-revision-hash"] == original_hash)
    );
    let kept = rolled_back
        .values()
        .filter(|pod| original.values().any(|old| old.uid() == pod.uid()))
        .count();
    assert_eq!(kept, 2, "only the replaced pod was replaced again");
}

#[tokio::test]
async fn on_delete_waits_for_pods_to_be_deleted() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    let agent = daemon_set(
        "agent",
        json!({"containers": [{"name": "agent", "image": "hollow/run"}]}),
        json!({"type": "OnDelete"}),
    );
    create_daemon_set(&client, &agent).await;
    let original = wait_for_one_pod_per_node(&client, "agent", &["hollow-1"]).await;
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"revision": "2"}}}}});
    Api::<DaemonSet>::namespaced(client.clone(), NAMESPACE)
        .patch("agent", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("the template is changed");
    wait_for_status(
        &client,
        "agent",
        json!({"updatedNumberScheduled": 0, "numberAvailable": 1}),
    )
    .await;
    let pods = pods_of(&client, "agent").await.expect("pods");
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].uid(), original["hollow-1"].uid());

    Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .delete(&pods[0].name_any(), &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    let replaced = wait_for_one_pod_per_node(&client, "agent", &["hollow-1"]).await;
    assert_eq!(
        replaced["hollow-1"]
            .annotations()
            .get("revision")
            .map(String::as_str),
        Some("2")
    );
    wait_for_status(&client, "agent", counts(1, 1, 1, 1)).await;
}

#[tokio::test]
async fn a_failed_daemon_pod_is_deleted_with_a_warning_and_replaced() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    let crashing = daemon_set(
        "crashing",
        json!({"containers": [{"name": "agent", "image": "hollow/fail"}]}),
        json!({"type": "RollingUpdate"}),
    );
    create_daemon_set(&client, &crashing).await;
    // Two different failed pods seen means the first was replaced and failed again.
    let messages = eventually("two failed pods replaced", TIMEOUT, || async {
        let messages = event_messages(&client, "FailedDaemonPod").await?;
        if messages.len() >= 2 {
            Ok(messages)
        } else {
            Err(format!("{messages:?}"))
        }
    })
    .await;
    assert!(
        messages[0].starts_with("Found failed daemon pod default/crashing-")
            && messages[0].ends_with(" on node hollow-1, will try to kill it"),
        "{messages:?}"
    );
    let created = event_messages(&client, "SuccessfulCreate")
        .await
        .expect("events");
    assert!(created.len() >= 2, "{created:?}");
}
