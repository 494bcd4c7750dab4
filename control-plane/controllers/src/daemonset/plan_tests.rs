use serde_json::{Value, json};

use super::*;

fn daemon_set(max_unavailable: Value) -> DaemonSet {
    serde_json::from_value(json!({
        "metadata": {"name": "agent", "namespace": "default", "uid": "u1", "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "app", "image": "hollow/run"}]}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
        },
    }))
    .expect("a daemon set")
}

/// A pod on `node` with revision `hash`, in `phase`, ready or not.
fn pod(name: &str, node: &str, hash: &str, phase: &str, ready: bool) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "agent", "controller-revision-hash": hash}, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"containers": [], "nodeName": node},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .expect("a pod")
}

fn runs(names: &[&str]) -> Vec<(String, NodeVerdict)> {
    names
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                NodeVerdict {
                    should_run: true,
                    should_continue_running: true,
                },
            )
        })
        .collect()
}

fn on_nodes(pods: Vec<Pod>) -> NodePods {
    let mut grouped = NodePods::new();
    for pod in pods {
        let node = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.clone())
            .expect("a node");
        grouped.entry(node).or_default().push(pod);
    }
    grouped
}

fn names(deletions: &[PodDeletion]) -> Vec<&str> {
    deletions
        .iter()
        .map(|deletion| deletion.name.as_str())
        .collect()
}

#[test]
fn manage_creates_where_missing_and_deletes_extra_unwanted_and_orphaned_pods() {
    let mut verdicts = runs(&["n1", "n2", "n3"]);
    verdicts.push((
        "n4".to_owned(),
        NodeVerdict {
            should_run: false,
            should_continue_running: false,
        },
    ));
    let mut younger = pod("n2-b", "n2", "h", "Running", true);
    younger.metadata.creation_timestamp =
        Some(serde_json::from_value(json!("2024-01-02T00:00:00Z")).expect("a time"));
    let pods = on_nodes(vec![
        pod("n1-a", "n1", "h", "Running", true),
        pod("n2-a", "n2", "h", "Running", true),
        younger,
        pod("n4-a", "n4", "h", "Running", true),
        pod("gone-a", "gone", "h", "Running", true),
    ]);
    let plan = plan_manage(
        &daemon_set(json!(1)),
        &verdicts,
        &pods,
        &mut FailedPodsBackoff::default(),
        Instant::now(),
    );
    assert_eq!(plan.nodes_needing_pods, ["n3"]);
    assert_eq!(names(&plan.pods_to_delete), ["n2-b", "n4-a", "gone-a"]);
    assert!(plan.pods_to_delete[2].immediately);
    assert!(!plan.pods_to_delete[0].immediately);
}

#[test]
fn a_failed_pod_is_deleted_with_a_warning_then_held_by_the_back_off() {
    let verdicts = runs(&["n1"]);
    let pods = on_nodes(vec![pod("n1-a", "n1", "h", "Failed", false)]);
    let mut backoff = FailedPodsBackoff::default();
    let now = Instant::now();
    let first = plan_manage(&daemon_set(json!(1)), &verdicts, &pods, &mut backoff, now);
    assert_eq!(names(&first.pods_to_delete), ["n1-a"]);
    assert_eq!(
        first.notices,
        [Notice {
            event_type: EventType::Warning,
            reason: "FailedDaemonPod",
            message: "Found failed daemon pod default/n1-a on node n1, will try to kill it"
                .to_owned(),
        }]
    );
    let again = plan_manage(&daemon_set(json!(1)), &verdicts, &pods, &mut backoff, now);
    assert!(again.pods_to_delete.is_empty());
    assert_eq!(again.retry_after, Some(Duration::from_secs(1)));
}

#[test]
fn a_rolling_update_replaces_at_most_max_unavailable_available_pods() {
    let verdicts = runs(&["n1", "n2", "n3", "n4"]);
    let all_old = on_nodes(
        ["n1", "n2", "n3", "n4"]
            .iter()
            .map(|node| pod(&format!("{node}-old"), node, "old", "Running", true))
            .collect(),
    );
    let plan = |max_unavailable: Value, pods: &NodePods| {
        plan_rolling_update(
            &daemon_set(max_unavailable),
            &verdicts,
            pods,
            "new",
            None,
            Timestamp::now(),
        )
        .expect("a plan")
    };
    assert_eq!(names(&plan(json!(1), &all_old)), ["n1-old"]);
    assert_eq!(names(&plan(json!("50%"), &all_old)), ["n1-old", "n2-old"]);
    assert_eq!(names(&plan(json!(0), &all_old)), ["n1-old"]);
    let mut one_unready_new = all_old.clone();
    one_unready_new.insert(
        "n1".to_owned(),
        vec![pod("n1-new", "n1", "new", "Running", false)],
    );
    assert!(plan(json!(1), &one_unready_new).is_empty());
    let mut old_unavailable = one_unready_new.clone();
    old_unavailable.insert(
        "n4".to_owned(),
        vec![pod("n4-old", "n4", "old", "Running", false)],
    );
    assert_eq!(names(&plan(json!(1), &old_unavailable)), ["n4-old"]);
    assert!(
        plan_rolling_update(
            &daemon_set(json!("half")),
            &verdicts,
            &all_old,
            "new",
            None,
            Timestamp::now()
        )
        .is_err()
    );
}

#[test]
fn the_status_counts_the_oldest_pod_of_each_node() {
    let mut verdicts = runs(&["n1", "n2", "n3"]);
    verdicts.push((
        "n4".to_owned(),
        NodeVerdict {
            should_run: false,
            should_continue_running: false,
        },
    ));
    let pods = on_nodes(vec![
        pod("n1-a", "n1", "new", "Running", true),
        pod("n2-a", "n2", "old", "Running", false),
        pod("n4-a", "n4", "new", "Running", true),
    ]);
    let status = compute_status(
        &daemon_set(json!(1)),
        &verdicts,
        &pods,
        "new",
        None,
        Timestamp::now(),
    );
    assert_eq!(status.desired_number_scheduled, 3);
    assert_eq!(status.current_number_scheduled, 2);
    assert_eq!(status.number_misscheduled, 1);
    assert_eq!(status.number_ready, 1);
    assert_eq!(status.updated_number_scheduled, Some(1));
    assert_eq!(status.number_available, Some(1));
    assert_eq!(status.number_unavailable, Some(2));
    assert_eq!(status.observed_generation, Some(2));
}
