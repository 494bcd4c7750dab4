use serde_json::{Value, json};

use super::*;

fn set(spec: Value) -> StatefulSet {
    let mut full = json!({
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "hollow/run"}]}},
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    });
    for (key, value) in spec.as_object().expect("an object") {
        full[key] = value.clone();
    }
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "generation": 3},
        "spec": full,
    }))
    .expect("a stateful set")
}

/// Pod `web-<ordinal>` at `revision`; ready pods have been ready since long ago.
fn pod(ordinal: i32, revision: &str, ready: bool) -> Pod {
    let name = format!("web-{ordinal}");
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": {
            "app": "web",
            "statefulset.kubernetes.io/pod-name": name,
            "controller-revision-hash": revision,
        }},
        "spec": {"containers": []},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
    }))
    .expect("a pod")
}

const SAME: Revisions<'static> = Revisions {
    current: "web-a",
    update: "web-a",
};
const ROLLING: Revisions<'static> = Revisions {
    current: "web-a",
    update: "web-b",
};

fn create(ordinal: i32, revision: Revision) -> Step {
    Step::Create { ordinal, revision }
}

fn delete(name: &str) -> Step {
    Step::Delete {
        name: name.to_owned(),
    }
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_after_its_predecessors_are_ready() {
    let three = set(json!({"replicas": 3}));
    let now = Timestamp::now();
    assert_eq!(
        plan_update(&three, &[], &SAME, now),
        [create(0, Revision::Update)]
    );
    assert!(plan_update(&three, &[pod(0, "web-a", false)], &SAME, now).is_empty());
    assert_eq!(
        plan_update(&three, &[pod(0, "web-a", true)], &SAME, now),
        [create(1, Revision::Update)]
    );
}

#[test]
fn parallel_creates_every_missing_pod_at_once() {
    let parallel = set(json!({"replicas": 3, "podManagementPolicy": "Parallel"}));
    assert_eq!(
        plan_update(
            &parallel,
            &[pod(1, "web-a", false)],
            &SAME,
            Timestamp::now()
        ),
        [create(0, Revision::Update), create(2, Revision::Update)]
    );
}

#[test]
fn scaling_down_deletes_the_highest_ordinal_first_and_one_at_a_time() {
    let two = set(json!({"replicas": 2}));
    let pods: Vec<Pod> = (0..5).map(|ordinal| pod(ordinal, "web-a", true)).collect();
    let now = Timestamp::now();
    assert_eq!(plan_update(&two, &pods, &SAME, now), [delete("web-4")]);
    let mut terminating = pods[..4].to_vec();
    terminating[3].metadata.deletion_timestamp =
        Some(serde_json::from_value(json!("2024-01-01T00:00:00Z")).expect("a time"));
    assert!(plan_update(&two, &terminating, &SAME, now).is_empty());
    let parallel = set(json!({"replicas": 2, "podManagementPolicy": "Parallel"}));
    assert_eq!(
        plan_update(&parallel, &pods, &SAME, now),
        [delete("web-4"), delete("web-3"), delete("web-2")]
    );
}

#[test]
fn a_failed_pod_is_deleted_to_be_created_again() {
    let mut failed = pod(0, "web-a", false);
    if let Some(status) = failed.status.as_mut() {
        status.phase = Some("Failed".to_owned());
    }
    assert_eq!(
        plan_update(
            &set(json!({"replicas": 1})),
            &[failed],
            &SAME,
            Timestamp::now()
        ),
        [delete("web-0")]
    );
}

#[test]
fn a_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
    let partitioned = set(json!({
        "replicas": 3,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
    }));
    let now = Timestamp::now();
    let old: Vec<Pod> = (0..3).map(|ordinal| pod(ordinal, "web-a", true)).collect();
    assert_eq!(
        plan_update(&partitioned, &old, &ROLLING, now),
        [delete("web-2")]
    );
    let unready_new = vec![old[0].clone(), old[1].clone(), pod(2, "web-b", false)];
    assert!(plan_update(&partitioned, &unready_new, &ROLLING, now).is_empty());
    let ready_new = vec![old[0].clone(), old[1].clone(), pod(2, "web-b", true)];
    assert_eq!(
        plan_update(&partitioned, &ready_new, &ROLLING, now),
        [delete("web-1")]
    );
    let done = vec![old[0].clone(), pod(1, "web-b", true), pod(2, "web-b", true)];
    assert!(plan_update(&partitioned, &done, &ROLLING, now).is_empty());
    assert_eq!(
        plan_update(&partitioned, &done[1..], &ROLLING, now),
        [create(0, Revision::Current)]
    );
    let on_delete = set(json!({"replicas": 3, "updateStrategy": {"type": "OnDelete"}}));
    assert!(plan_update(&on_delete, &old, &ROLLING, now).is_empty());
}

#[test]
fn the_status_counts_revisions_and_completes_a_finished_rolling_update() {
    let three = set(json!({"replicas": 3}));
    let now = Timestamp::now();
    let mixed = vec![
        pod(0, "web-a", true),
        pod(1, "web-b", true),
        pod(2, "web-b", false),
    ];
    let status = compute_status(&three, &mixed, &ROLLING, now);
    assert_eq!(status.replicas, 3);
    assert_eq!(status.ready_replicas, Some(2));
    assert_eq!(status.available_replicas, Some(2));
    assert_eq!(status.current_replicas, Some(1));
    assert_eq!(status.updated_replicas, Some(2));
    assert_eq!(status.current_revision.as_deref(), Some("web-a"));
    assert_eq!(status.update_revision.as_deref(), Some("web-b"));
    assert_eq!(status.observed_generation, Some(3));
    let finished: Vec<Pod> = (0..3).map(|ordinal| pod(ordinal, "web-b", true)).collect();
    let status = compute_status(&three, &finished, &ROLLING, now);
    assert_eq!(status.current_revision.as_deref(), Some("web-b"));
    assert_eq!(status.current_replicas, Some(3));
}
