//! The StatefulSet controller against a real API server, its scheduler and a hollow node:
//! ordered creation that waits for readiness, scaling by ordinal, a deleted pod coming back
//! under its name, Parallel pod management, a partitioned rolling update from the highest
//! ordinal down, and the refusal of volumeClaimTemplates.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::{TestControlPlane, eventually};
use tokio::task::JoinHandle;

const NAMESPACE: &str = "default";
const TIMEOUT: Duration = Duration::from_secs(10);

fn stateful_set(replicas: i32, image: &str, extra_spec: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}},
    });
    for (key, value) in extra_spec.as_object().expect("an object") {
        spec[key] = value.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec}))
        .expect("a stateful set")
}

fn sets(client: &Client) -> Api<StatefulSet> {
    Api::namespaced(client.clone(), NAMESPACE)
}

fn pods(client: &Client) -> Api<Pod> {
    Api::namespaced(client.clone(), NAMESPACE)
}

async fn create(client: &Client, set: &StatefulSet) {
    sets(client)
        .create(&PostParams::default(), set)
        .await
        .expect("the stateful set is created");
}

async fn patch_set(client: &Client, patch: Value) {
    sets(client)
        .patch("web", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("the stateful set is changed");
}

fn is_ready(pod: &Pod) -> bool {
    wasmkube_controllers::pods::is_pod_ready(pod)
}

fn is_running(pod: &Pod) -> bool {
    wasmkube_controllers::pods::pod_phase(pod) == Some("Running")
}

/// The set's pods by name, sorted.
async fn current_pods(client: &Client) -> Result<Vec<Pod>, String> {
    let mut list = pods(client)
        .list(&ListParams::default().labels("app=web"))
        .await
        .map_err(|error| error.to_string())?
        .items;
    list.sort_by_key(ResourceExt::name_any);
    Ok(list)
}

fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter().map(ResourceExt::name_any).collect()
}

/// Waits until the set's pods are exactly `wanted`, all Running, none being deleted, and
/// (when `ready`) all Ready.
async fn wait_for_pods(client: &Client, wanted: &[&str], ready: bool) -> Vec<Pod> {
    eventually(
        &format!("pods {wanted:?} running (ready: {ready})"),
        TIMEOUT,
        || async {
            let pods = current_pods(client).await?;
            let settled = names(&pods) == wanted
                && pods.iter().all(|pod| {
                    is_running(pod)
                        && pod.metadata.deletion_timestamp.is_none()
                        && (!ready || is_ready(pod))
                });
            if settled {
                Ok(pods)
            } else {
                Err(format!("{:?}", names(&pods)))
            }
        },
    )
    .await
}

/// Asserts for a while that the set's pods stay exactly `wanted`: what must not happen is
/// checked by watching long enough for the controller to have done it.
async fn pods_stay(client: &Client, wanted: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1000);
    while tokio::time::Instant::now() < deadline {
        let pods = current_pods(client).await.expect("pods");
        assert_eq!(names(&pods), wanted);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Marks a pod Ready, as its kubelet would once its readiness probe passes.
async fn mark_ready(client: &Client, name: &str) {
    let now = Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
    ]}});
    pods(client)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("the pod is marked ready");
}

async fn status_of(client: &Client) -> Result<(Option<i64>, Value), String> {
    let set = sets(client)
        .get("web")
        .await
        .map_err(|error| error.to_string())?;
    let status = serde_json::to_value(set.status).map_err(|error| error.to_string())?;
    Ok((set.metadata.generation, status))
}

/// Waits until the status has these fields and has observed the current generation.
async fn wait_for_status(client: &Client, expected: Value) -> Value {
    eventually(&format!("the status to be {expected}"), TIMEOUT, || async {
        let (generation, status) = status_of(client).await?;
        let matches = expected
            .as_object()
            .expect("an object")
            .iter()
            .all(|(key, value)| status.get(key) == Some(value))
            && status.get("observedGeneration").and_then(Value::as_i64) == generation;
        if matches {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
    .await
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Created(String),
    Deleted(String),
}

/// Records the set's pods being created and deleted, in the order the API server's watch
/// reports them.
struct PodHistory {
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for PodHistory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PodHistory {
    async fn start(client: &Client) -> PodHistory {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (listed, listed_now) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            let config = watcher::Config::default().labels("app=web");
            let pods = pods(client);
            async move {
                let mut known = std::collections::BTreeSet::new();
                let mut listed = Some(listed);
                let mut events = std::pin::pin!(watcher(pods, config));
                while let Some(event) = events.next().await {
                    let mut seen = seen.lock().expect("the history");
                    match event {
                        Ok(watcher::Event::InitApply(pod)) => {
                            known.insert(pod.uid());
                        }
                        Ok(watcher::Event::InitDone) => {
                            if let Some(listed) = listed.take() {
                                let _ = listed.send(());
                            }
                        }
                        Ok(watcher::Event::Apply(pod)) => {
                            if known.insert(pod.uid()) {
                                seen.push(Seen::Created(pod.name_any()));
                            }
                        }
                        Ok(watcher::Event::Delete(pod)) => seen.push(Seen::Deleted(pod.name_any())),
                        Ok(watcher::Event::Init) | Err(_) => {}
                    }
                }
            }
        });
        listed_now.await.expect("the watch lists the pods");
        PodHistory { seen, task }
    }

    /// Waits until the pods seen created and deleted since the last call are `expected`,
    /// and forgets them.
    async fn expect(&self, expected: Vec<Seen>) {
        eventually(
            &format!("the pods' history to be {expected:?}"),
            TIMEOUT,
            || async {
                let mut seen = self.seen.lock().expect("the history");
                if *seen == expected {
                    seen.clear();
                    Ok(())
                } else {
                    Err(format!("{:?}", *seen))
                }
            },
        )
        .await;
    }
}

fn created(names: &[&str]) -> Vec<Seen> {
    names
        .iter()
        .map(|name| Seen::Created((*name).to_owned()))
        .collect()
}

fn deleted(names: &[&str]) -> Vec<Seen> {
    names
        .iter()
        .map(|name| Seen::Deleted((*name).to_owned()))
        .collect()
}

#[tokio::test]
async fn ordered_ready_creates_each_pod_only_after_its_predecessor_is_ready() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    create(&client, &stateful_set(3, "hollow/not-ready", json!({}))).await;

    let first = wait_for_pods(&client, &["web-0"], false).await;
    pods_stay(&client, &["web-0"]).await;
    let pod = &first[0];
    assert_eq!(pod.labels()["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(pod.labels()["apps.kubernetes.io/pod-index"], "0");
    let spec = pod.spec.as_ref().expect("a spec");
    assert_eq!(spec.hostname.as_deref(), Some("web-0"));
    assert_eq!(spec.subdomain.as_deref(), Some("web"));
    assert_eq!(spec.node_name.as_deref(), Some("hollow-1"));
    let status = wait_for_status(&client, json!({"replicas": 1, "readyReplicas": 0})).await;
    let revision = status["updateRevision"]
        .as_str()
        .expect("a revision")
        .to_owned();
    assert!(revision.starts_with("web-"));
    assert_eq!(pod.labels()["controller-revision-hash"], revision);

    mark_ready(&client, "web-0").await;
    wait_for_pods(&client, &["web-0", "web-1"], false).await;
    pods_stay(&client, &["web-0", "web-1"]).await;
    mark_ready(&client, "web-1").await;
    wait_for_pods(&client, &["web-0", "web-1", "web-2"], false).await;
    mark_ready(&client, "web-2").await;
    wait_for_status(
        &client,
        json!({
            "replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "currentReplicas": 3,
            "updatedReplicas": 3, "currentRevision": revision, "updateRevision": revision,
        }),
    )
    .await;

    let events = Api::<Event>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .expect("events");
    let messages: Vec<String> = events
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("SuccessfulCreate"))
        .filter_map(|event| event.message)
        .collect();
    assert!(messages.contains(&"create Pod web-0 in StatefulSet web successful".to_owned()));
}

#[tokio::test]
async fn scaling_goes_by_ordinal_and_a_deleted_pod_comes_back_under_its_name() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    let history = PodHistory::start(&client).await;
    create(&client, &stateful_set(3, "hollow/run", json!({}))).await;
    wait_for_pods(&client, &["web-0", "web-1", "web-2"], true).await;
    history.expect(created(&["web-0", "web-1", "web-2"])).await;

    patch_set(&client, json!({"spec": {"replicas": 5}})).await;
    wait_for_pods(
        &client,
        &["web-0", "web-1", "web-2", "web-3", "web-4"],
        true,
    )
    .await;
    history.expect(created(&["web-3", "web-4"])).await;
    wait_for_status(&client, json!({"replicas": 5, "readyReplicas": 5})).await;

    patch_set(&client, json!({"spec": {"replicas": 2}})).await;
    wait_for_pods(&client, &["web-0", "web-1"], true).await;
    history.expect(deleted(&["web-4", "web-3", "web-2"])).await;
    wait_for_status(
        &client,
        json!({"replicas": 2, "readyReplicas": 2, "currentReplicas": 2}),
    )
    .await;

    let before = pods(&client).get("web-1").await.expect("web-1");
    pods(&client)
        .delete("web-1", &DeleteParams::default())
        .await
        .expect("web-1 is deleted");
    let after = eventually("web-1 to come back", TIMEOUT, || async {
        let pod = pods(&client)
            .get("web-1")
            .await
            .map_err(|error| error.to_string())?;
        if pod.uid() != before.uid() && is_ready(&pod) {
            Ok(pod)
        } else {
            Err(format!("{:?}", pod.uid()))
        }
    })
    .await;
    assert_eq!(
        after.labels()["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    wait_for_pods(&client, &["web-0", "web-1"], true).await;
}

#[tokio::test]
async fn parallel_pod_management_creates_and_deletes_all_at_once() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    create(
        &client,
        &stateful_set(
            3,
            "hollow/not-ready",
            json!({"podManagementPolicy": "Parallel"}),
        ),
    )
    .await;
    // None of them ever becomes ready, and all are there.
    wait_for_pods(&client, &["web-0", "web-1", "web-2"], false).await;
    wait_for_status(&client, json!({"replicas": 3, "readyReplicas": 0})).await;
    patch_set(&client, json!({"spec": {"replicas": 0}})).await;
    wait_for_pods(&client, &[], false).await;
    wait_for_status(&client, json!({"replicas": 0})).await;
}

#[tokio::test]
async fn a_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    let partitioned =
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}});
    create(&client, &stateful_set(3, "hollow/run", partitioned)).await;
    wait_for_pods(&client, &["web-0", "web-1", "web-2"], true).await;
    let status = wait_for_status(&client, json!({"readyReplicas": 3, "updatedReplicas": 3})).await;
    let old_revision = status["currentRevision"].clone();

    let history = PodHistory::start(&client).await;
    patch_set(
        &client,
        json!({"spec": {"template": {"metadata": {"annotations": {"release": "2"}}}}}),
    )
    .await;
    let revision_of = |pod: &Pod| Value::from(pod.labels()["controller-revision-hash"].clone());
    let new_revision = eventually("web-2 and web-1 updated", TIMEOUT, || async {
        let pods = current_pods(&client).await?;
        let (generation, status) = status_of(&client).await?;
        let update_revision = status["updateRevision"].clone();
        let revisions: Vec<Value> = pods.iter().map(revision_of).collect();
        let done = generation == status["observedGeneration"].as_i64()
            && update_revision != old_revision
            && revisions
                == [
                    old_revision.clone(),
                    update_revision.clone(),
                    update_revision.clone(),
                ]
            && pods.iter().all(is_ready);
        if done {
            Ok(update_revision)
        } else {
            Err(format!("{revisions:?} {status}"))
        }
    })
    .await;
    history
        .expect(vec![
            Seen::Deleted("web-2".to_owned()),
            Seen::Created("web-2".to_owned()),
            Seen::Deleted("web-1".to_owned()),
            Seen::Created("web-1".to_owned()),
        ])
        .await;
    wait_for_status(
        &client,
        json!({"replicas": 3, "readyReplicas": 3, "currentReplicas": 1, "updatedReplicas": 2,
               "currentRevision": old_revision, "updateRevision": new_revision}),
    )
    .await;

    // Below the partition a deleted pod comes back at the current, old revision.
    pods(&client)
        .delete("web-0", &DeleteParams::default())
        .await
        .expect("web-0 is deleted");
    eventually("web-0 back at the old revision", TIMEOUT, || async {
        let pods = current_pods(&client).await?;
        let back = pods.first().is_some_and(|pod| {
            pod.name_any() == "web-0" && is_ready(pod) && revision_of(pod) == old_revision
        });
        if back {
            Ok(())
        } else {
            Err(format!(
                "{:?}",
                pods.iter().map(revision_of).collect::<Vec<_>>()
            ))
        }
    })
    .await;
    history
        .expect(vec![
            Seen::Deleted("web-0".to_owned()),
            Seen::Created("web-0".to_owned()),
        ])
        .await;
    let web_0 = pods(&client).get("web-0").await.expect("web-0");
    assert_eq!(web_0.annotations().get("release"), None);

    patch_set(
        &client,
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}),
    )
    .await;
    wait_for_status(
        &client,
        json!({"readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
               "currentRevision": new_revision, "updateRevision": new_revision}),
    )
    .await;
    let updated = wait_for_pods(&client, &["web-0", "web-1", "web-2"], true).await;
    assert!(updated.iter().all(|pod| revision_of(pod) == new_revision));
}

#[tokio::test]
async fn volume_claim_templates_get_a_warning_and_no_pods() {
    let cluster = TestControlPlane::start().await;
    let client = cluster.client.clone();
    let _node = cluster.hollow_node("hollow-1").await;
    let claims = json!({"volumeClaimTemplates": [{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }]});
    create(&client, &stateful_set(2, "hollow/run", claims)).await;
    let warning = eventually("the warning", TIMEOUT, || async {
        let events = Api::<Event>::namespaced(client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .map_err(|error| error.to_string())?;
        events
            .items
            .into_iter()
            .find(|event| event.reason.as_deref() == Some("FailedCreate"))
            .ok_or_else(|| "no FailedCreate event".to_owned())
    })
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(
        warning.message.as_deref(),
        Some(
            "create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: PersistentVolumeClaims are not served by this API server, so pods with volumeClaimTemplates are not created"
        )
    );
    wait_for_status(&client, json!({"replicas": 0})).await;
    assert!(current_pods(&client).await.expect("pods").is_empty());
}
