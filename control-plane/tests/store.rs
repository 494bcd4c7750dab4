//! The redb store against a real database file: revisions, conflicts, watches that resume
//! with no gaps or duplicates, compaction, lists at older revisions, group commit, and
//! durability across a clean reopen and across kill -9.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use wasmkube_control_plane::store::{
    EventType, ListRequest, ObjectKey, RedbStore, Storage, StoreError, StoreOptions, WriteRequest,
    key_prefix,
};

fn config_map(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"v": value}})
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("configmaps", "default", name)
}

async fn create(store: &RedbStore, name: &str, value: &str) -> u64 {
    store
        .write(WriteRequest::Create {
            key: key(name),
            object: config_map(name, value),
        })
        .await
        .unwrap()
        .revision
}

fn open(directory: &tempfile::TempDir) -> RedbStore {
    RedbStore::open(&directory.path().join("store.redb")).unwrap()
}

#[tokio::test]
async fn writes_take_increasing_revisions_and_stale_writes_conflict() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(&directory);
    let first = create(&store, "a", "1").await;
    let second = create(&store, "b", "1").await;
    assert_eq!((first, second), (1, 2));
    let stored = store.get(&key("a")).unwrap().unwrap();
    assert_eq!(stored.object["metadata"]["resourceVersion"], "1");

    let duplicate = store
        .write(WriteRequest::Create {
            key: key("a"),
            object: config_map("a", "x"),
        })
        .await;
    assert_eq!(duplicate.unwrap_err(), StoreError::AlreadyExists);

    let updated = store
        .write(WriteRequest::Update {
            key: key("a"),
            object: config_map("a", "2"),
            expected_revision: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(updated.revision, 3);
    let stale = store
        .write(WriteRequest::Update {
            key: key("a"),
            object: config_map("a", "3"),
            expected_revision: Some(1),
        })
        .await;
    assert_eq!(
        stale.unwrap_err(),
        StoreError::Conflict {
            expected: 1,
            found: 3
        }
    );
    let stale_delete = store
        .write(WriteRequest::Delete {
            key: key("a"),
            expected_revision: Some(2),
        })
        .await;
    assert_eq!(
        stale_delete.unwrap_err(),
        StoreError::Conflict {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        store.get(&key("a")).unwrap().unwrap().object["data"]["v"],
        "2",
        "a refused write changes nothing"
    );

    let deleted = store
        .write(WriteRequest::Delete {
            key: key("a"),
            expected_revision: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(deleted.revision, 4);
    assert_eq!(deleted.object["data"]["v"], "2");
    assert!(store.get(&key("a")).unwrap().is_none());
    let missing = store
        .write(WriteRequest::Update {
            key: key("a"),
            object: config_map("a", "9"),
            expected_revision: None,
        })
        .await;
    assert_eq!(missing.unwrap_err(), StoreError::NotFound);
    assert_eq!(
        store.current_revision(),
        4,
        "failed writes take no revision"
    );
}

#[tokio::test]
async fn concurrent_writers_share_commits_and_every_revision_is_used_once() {
    let directory = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&directory));
    let mut tasks = Vec::new();
    for client in 0..64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for item in 0..20 {
                revisions.push(create(&store, &format!("c{client}-{item}"), "v").await);
            }
            revisions
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.extend(task.await.unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=1280).collect::<Vec<u64>>());
    let batches = store.committed_batches();
    assert!(
        batches < 1280,
        "64 concurrent writers must share fsyncs, but {batches} commits were made for 1280 writes"
    );
    let page = store
        .list(&ListRequest {
            prefix: key_prefix("configmaps", Some("default")),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.items.len(), 1280);
    assert_eq!(page.revision, 1280);
}

#[tokio::test]
async fn a_watch_resumes_from_any_retained_revision_without_gaps_or_duplicates() {
    let directory = tempfile::tempdir().unwrap();
    // A tiny ring forces the resumed watch to read history from disk, then switch to memory.
    let store = RedbStore::open_with(
        &directory.path().join("store.redb"),
        StoreOptions { ring_capacity: 4 },
    )
    .unwrap();
    for index in 0..10 {
        create(&store, &format!("o{index}"), "v").await;
    }
    let mut watch = store.watch(&key_prefix("configmaps", None), 3).unwrap();
    let mut seen = Vec::new();
    for _ in 4..=10 {
        let event = watch.next().await.unwrap().unwrap();
        assert_eq!(event.event_type, EventType::Added);
        seen.push(event.revision);
    }
    assert_eq!(seen, (4..=10).collect::<Vec<_>>());

    store
        .write(WriteRequest::Update {
            key: key("o1"),
            object: config_map("o1", "new"),
            expected_revision: None,
        })
        .await
        .unwrap();
    store
        .write(WriteRequest::Create {
            key: ObjectKey::new("secrets", "default", "s"),
            object: json!({}),
        })
        .await
        .unwrap();
    store
        .write(WriteRequest::Delete {
            key: key("o2"),
            expected_revision: None,
        })
        .await
        .unwrap();
    let modified = watch.next().await.unwrap().unwrap();
    assert_eq!(
        (modified.revision, modified.event_type),
        (11, EventType::Modified)
    );
    assert_eq!(modified.previous.as_ref().unwrap()["data"]["v"], "v");
    let deleted = watch.next().await.unwrap().unwrap();
    assert_eq!(
        (deleted.revision, deleted.event_type),
        (13, EventType::Deleted),
        "the secret is outside the prefix"
    );
    assert_eq!(deleted.object["metadata"]["resourceVersion"], "13");
    assert_eq!(deleted.object["metadata"]["name"], "o2");
}

#[tokio::test]
async fn compaction_forgets_history_and_old_revisions_get_gone() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(&directory);
    for index in 0..6 {
        create(&store, &format!("o{index}"), "v").await;
    }
    store.compact(4).await.unwrap();
    assert_eq!(store.compacted_revision(), 4);
    assert!(matches!(
        store.watch("configmaps/", 3),
        Err(StoreError::Compacted {
            requested: 3,
            compacted: 4
        })
    ));
    let mut watch = store.watch("configmaps/", 4).unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().revision, 5);
    let old_list = store.list(&ListRequest {
        prefix: "configmaps/".into(),
        at_revision: Some(3),
        ..Default::default()
    });
    assert!(matches!(old_list, Err(StoreError::Compacted { .. })));
    // A live watch keeps the database open, as a reader should.
    drop(watch);
    drop(store);
    let store = open(&directory);
    assert_eq!(store.compacted_revision(), 4, "compaction is durable");
}

#[tokio::test]
async fn a_list_at_an_older_revision_is_the_state_at_that_revision() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(&directory);
    create(&store, "a", "1").await; // 1
    create(&store, "b", "1").await; // 2
    create(&store, "c", "1").await; // 3
    store
        .write(WriteRequest::Update {
            key: key("a"),
            object: config_map("a", "2"),
            expected_revision: None,
        })
        .await
        .unwrap(); // 4
    store
        .write(WriteRequest::Delete {
            key: key("b"),
            expected_revision: None,
        })
        .await
        .unwrap(); // 5
    create(&store, "d", "1").await; // 6

    let names = |page: &wasmkube_control_plane::store::ListPage| -> Vec<(String, String)> {
        page.items
            .iter()
            .map(|(_, item)| {
                (
                    item.object["metadata"]["name"].as_str().unwrap().to_owned(),
                    item.object["data"]["v"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let at_three = store
        .list(&ListRequest {
            prefix: "configmaps/".into(),
            at_revision: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(at_three.revision, 3);
    assert_eq!(
        names(&at_three),
        [
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("c".into(), "1".into())
        ]
    );

    // Paging at a fixed revision: the second page continues the same snapshot.
    let first_page = store
        .list(&ListRequest {
            prefix: "configmaps/".into(),
            at_revision: Some(3),
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert!(first_page.more);
    assert_eq!(names(&first_page).len(), 2);
    let second_page = store
        .list(&ListRequest {
            prefix: "configmaps/".into(),
            at_revision: Some(3),
            limit: Some(2),
            after_key: Some(first_page.items[1].0.clone()),
            ..Default::default()
        })
        .unwrap();
    assert!(!second_page.more);
    assert_eq!(names(&second_page), [("c".into(), "1".into())]);

    let latest = store
        .list(&ListRequest {
            prefix: "configmaps/".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        names(&latest),
        [
            ("a".into(), "2".into()),
            ("c".into(), "1".into()),
            ("d".into(), "1".into())
        ]
    );
    let future = store.list(&ListRequest {
        prefix: "configmaps/".into(),
        at_revision: Some(99),
        ..Default::default()
    });
    assert!(matches!(
        future,
        Err(StoreError::FutureRevision {
            requested: 99,
            current: 6
        })
    ));
}

#[tokio::test]
async fn a_reopened_store_has_every_object_and_continues_the_revisions() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = open(&directory);
        create(&store, "a", "1").await;
        create(&store, "b", "1").await;
    }
    let store = open(&directory);
    assert_eq!(store.current_revision(), 2);
    assert!(store.get(&key("b")).unwrap().is_some());
    assert_eq!(create(&store, "c", "1").await, 3);
    let mut watch = store.watch("configmaps/", 0).unwrap();
    let replayed: Vec<u64> = [watch.next().await, watch.next().await, watch.next().await]
        .into_iter()
        .map(|event| event.unwrap().unwrap().revision)
        .collect();
    assert_eq!(replayed, [1, 2, 3], "history survives a reopen");
}

/// The child half of the crash test: writes as fast as it can from 16 tasks and prints
/// each key once its write is acknowledged, until it is killed.
#[tokio::test]
async fn crash_child_writer() {
    let Ok(path) = std::env::var("WASMKUBE_CRASH_CHILD_STORE") else {
        return;
    };
    let round = std::env::var("WASMKUBE_CRASH_CHILD_ROUND").unwrap_or_default();
    let store = Arc::new(RedbStore::open(std::path::Path::new(&path)).unwrap());
    let mut tasks = Vec::new();
    for client in 0..16 {
        let store = Arc::clone(&store);
        let round = round.clone();
        tasks.push(tokio::spawn(async move {
            for item in 0.. {
                let name = format!("r{round}-k{client}-{item}");
                create(&store, &name, "v").await;
                println!("ACK {name}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[test]
fn no_acknowledged_write_is_lost_when_the_writer_is_killed() {
    use std::io::BufRead;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store.redb");
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("WASMKUBE_CRASH_CHILD_STORE", &path)
            .env("WASMKUBE_CRASH_CHILD_ROUND", round.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut acknowledged = HashSet::new();
        let reader = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in reader.lines() {
            if let Some(name) = line.unwrap().strip_prefix("ACK ") {
                acknowledged.insert(name.to_owned());
            }
            if acknowledged.len() >= 300 + round * 100 {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let store = RedbStore::open(&path).unwrap();
        for name in &acknowledged {
            assert!(
                store.get(&key(name)).unwrap().is_some(),
                "round {round}: acknowledged write {name} was lost"
            );
        }
        let page = store
            .list(&ListRequest {
                prefix: "configmaps/".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.revision, store.current_revision());
        assert_eq!(
            page.items.len() as u64,
            page.revision,
            "every revision is one create; none is half-applied"
        );
        drop(store);
        drop(runtime);
    }
}
