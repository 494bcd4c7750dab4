//! Watches over HTTP: the changes after a resourceVersion in order, bookmarks when asked
//! for, selectors on both sides of a change, and resuming with no gaps or duplicates.
//!
//! No test here waits for something not to happen: each ends by writing a sentinel
//! object and checking that it is the very next event, which proves nothing else came.

use std::time::Duration;

use serde_json::json;
use wasmkube_control_plane::api::ApiOptions;

use super::support::*;

async fn list_revision(cluster: &Cluster, path: &str) -> String {
    text(
        &cluster.get(path).await.expect(200),
        "/metadata/resourceVersion",
    )
}

fn watch_path(after: &str, extra: &str) -> String {
    format!("{CONFIG_MAPS}?watch=1&resourceVersion={after}{extra}")
}

async fn expect_sentinel(cluster: &Cluster, watch: &mut Watch) {
    let sentinel = cluster
        .create(CONFIG_MAPS, &config_map("sentinel", json!({"app": "web"})))
        .await;
    let event = watch.next_change().await;
    assert_eq!(
        summary(&event),
        (
            "ADDED".to_owned(),
            "sentinel".to_owned(),
            text(&sentinel, "/metadata/resourceVersion")
        ),
        "nothing else came before the sentinel"
    );
}

#[tokio::test]
async fn a_watch_sees_added_modified_and_deleted_in_order_after_its_revision() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("before", json!({})))
        .await;
    let after = list_revision(&cluster, CONFIG_MAPS).await;
    let mut watch = cluster.watch(&watch_path(&after, "")).await;

    let created = cluster
        .create(CONFIG_MAPS, &config_map("x", json!({})))
        .await;
    // Neither another resource nor another namespace belongs to this watch.
    cluster
        .create(
            SECRETS,
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
        )
        .await;
    cluster
        .create(
            "/api/v1/namespaces/kube-system/configmaps",
            &config_map("x", json!({})),
        )
        .await;
    let mut changed = created.clone();
    changed["data"] = json!({"key": "changed"});
    let updated = cluster
        .put(&format!("{CONFIG_MAPS}/x"), &changed)
        .await
        .expect(200);
    let deleted = cluster
        .delete(&format!("{CONFIG_MAPS}/x"))
        .await
        .expect(200);
    assert_eq!(deleted["kind"], "Status");
    assert_eq!(deleted["status"], "Success");

    let added = watch.next_change().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"], created);
    let modified = watch.next_change().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"], updated);
    let removed = watch.next_change().await;
    assert_eq!(removed["type"], "DELETED");
    assert_eq!(text(&removed, "/object/metadata/name"), "x");
    assert_eq!(removed["object"]["data"], json!({"key": "changed"}));
    assert!(
        revision(&removed["object"]) > revision(&updated),
        "a deletion takes a revision of its own: {removed}"
    );
    expect_sentinel(&cluster, &mut watch).await;
}

#[tokio::test]
async fn bookmarks_come_only_to_watches_that_allow_them() {
    let cluster = start_cluster_with(ApiOptions {
        bookmark_interval: Duration::from_millis(50),
        ..ApiOptions::default()
    })
    .await;
    let after = list_revision(&cluster, CONFIG_MAPS).await;
    let mut plain = cluster.watch(&watch_path(&after, "")).await;
    let mut bookmarked = cluster
        .watch(&watch_path(&after, "&allowWatchBookmarks=true"))
        .await;

    let first = bookmarked.next().await;
    assert_eq!(first["type"], "BOOKMARK", "{first}");
    assert_eq!(first["object"]["kind"], "ConfigMap");
    assert_eq!(first["object"]["apiVersion"], "v1");
    assert!(revision(&first["object"]) >= after.parse::<u64>().expect("a revision"));
    let object_fields: Vec<&String> = first["object"]
        .as_object()
        .expect("an object")
        .keys()
        .collect();
    assert_eq!(object_fields, ["apiVersion", "kind", "metadata"], "{first}");

    let created = cluster
        .create(CONFIG_MAPS, &config_map("x", json!({})))
        .await;
    let added = bookmarked.next_change().await;
    assert_eq!(added["object"], created);
    let later = loop {
        let event = bookmarked.next().await;
        assert_eq!(event["type"], "BOOKMARK", "{event}");
        if revision(&event["object"]) >= revision(&created) {
            break event;
        }
    };
    assert!(revision(&later["object"]) >= revision(&created));

    // Several bookmark periods have passed for the watch that did not ask for them.
    let event = plain.next().await;
    assert_eq!(event["type"], "ADDED", "{event}");
    assert_eq!(event["object"], created);
}

#[tokio::test]
async fn a_resumed_watch_replays_exactly_the_missed_events() {
    let cluster = start_cluster().await;
    let start = list_revision(&cluster, CONFIG_MAPS).await;
    let mut expected = Vec::new();
    for index in 1..=5 {
        let created = cluster
            .create(CONFIG_MAPS, &config_map(&format!("c{index}"), json!({})))
            .await;
        expected.push(summary(&json!({"type": "ADDED", "object": created})));
    }

    let mut first_watch = cluster.watch(&watch_path(&start, "")).await;
    let mut seen = vec![
        summary(&first_watch.next_change().await),
        summary(&first_watch.next_change().await),
    ];
    assert_eq!(seen, expected[..2]);
    drop(first_watch);
    let resume_from = seen[1].2.clone();

    let created = cluster
        .create(CONFIG_MAPS, &config_map("c6", json!({})))
        .await;
    expected.push(summary(&json!({"type": "ADDED", "object": created})));
    let c1 = cluster.get(&format!("{CONFIG_MAPS}/c1")).await.expect(200);
    let mut changed = c1.clone();
    changed["data"] = json!({"key": "changed"});
    let updated = cluster
        .put(&format!("{CONFIG_MAPS}/c1"), &changed)
        .await
        .expect(200);
    expected.push(summary(&json!({"type": "MODIFIED", "object": updated})));
    cluster
        .delete(&format!("{CONFIG_MAPS}/c2"))
        .await
        .expect(200);

    let mut resumed = cluster.watch(&watch_path(&resume_from, "")).await;
    for _ in 2..expected.len() {
        seen.push(summary(&resumed.next_change().await));
    }
    let deletion = summary(&resumed.next_change().await);
    assert_eq!(
        (deletion.0.as_str(), deletion.1.as_str()),
        ("DELETED", "c2")
    );
    seen.push(deletion.clone());
    expected.push(deletion);
    assert_eq!(seen, expected);
    let revisions: Vec<u64> = seen
        .iter()
        .map(|(_, _, revision)| revision.parse().expect("a revision"))
        .collect();
    assert!(
        revisions.windows(2).all(|pair| pair[0] < pair[1]),
        "no duplicates and in order: {revisions:?}"
    );
    expect_sentinel(&cluster, &mut resumed).await;
}

#[tokio::test]
async fn a_watch_with_a_label_selector_sees_objects_enter_and_leave_it() {
    let cluster = start_cluster().await;
    let after = list_revision(&cluster, CONFIG_MAPS).await;
    let mut watch = cluster
        .watch(&watch_path(&after, "&labelSelector=app%3Dweb"))
        .await;
    let path = format!("{CONFIG_MAPS}/moving");
    cluster
        .create(CONFIG_MAPS, &config_map("other", json!({"app": "db"})))
        .await;
    cluster
        .create(CONFIG_MAPS, &config_map("moving", json!({"app": "web"})))
        .await;
    let relabel = |app: &str| json!({"metadata": {"labels": {"app": app}}});
    cluster.merge_patch(&path, &relabel("db")).await.expect(200);
    cluster
        .merge_patch(&path, &relabel("web"))
        .await
        .expect(200);

    let types: Vec<(String, String)> = [
        watch.next_change().await,
        watch.next_change().await,
        watch.next_change().await,
    ]
    .iter()
    .map(|event| (text(event, "/type"), text(event, "/object/metadata/name")))
    .collect();
    let expected: Vec<(String, String)> = ["ADDED", "DELETED", "ADDED"]
        .iter()
        .map(|kind| ((*kind).to_owned(), "moving".to_owned()))
        .collect();
    assert_eq!(types, expected);
    expect_sentinel(&cluster, &mut watch).await;
}
