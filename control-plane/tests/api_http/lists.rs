//! Lists: paging through one consistent snapshot with `limit` and `continue`, label and
//! field selectors, and 410 Expired for revisions that compaction has forgotten.

use serde_json::{Value, json};

use super::support::*;

/// Query parameters, as name and value.
type Query<'a> = &'a [(&'a str, &'a str)];

fn query(pairs: Query) -> String {
    serde_urlencoded::to_string(pairs).expect("an encodable query")
}

fn remaining_item_count(list: &Value) -> Option<u64> {
    list.pointer("/metadata/remainingItemCount")
        .map(|count| count.as_u64().expect("remainingItemCount is a count"))
}

fn continue_token(list: &Value) -> Option<String> {
    list.pointer("/metadata/continue")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

#[tokio::test]
async fn paging_sees_every_object_once_in_one_snapshot() {
    let cluster = start_cluster().await;
    let mut expected = Vec::new();
    for index in 0..25 {
        let name = format!("cm-{index:02}");
        cluster
            .create(CONFIG_MAPS, &config_map(&name, json!({})))
            .await;
        expected.push(name);
    }
    // The namespace's own kube-root-ca.crt is part of the snapshot too, after cm-24.
    expected.push(ROOT_CA.to_owned());
    let last = cluster
        .get(&format!("{CONFIG_MAPS}/cm-24"))
        .await
        .expect(200);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut snapshot: Option<String> = None;
    loop {
        let path = match &token {
            None => format!("{CONFIG_MAPS}?limit=10"),
            Some(token) => format!(
                "{CONFIG_MAPS}?{}",
                query(&[("limit", "10"), ("continue", token)])
            ),
        };
        let page = cluster.get(&path).await.expect(200);
        assert_eq!(page["kind"], "ConfigMapList");
        assert_eq!(page["apiVersion"], "v1");
        let names = names(&page);
        assert!(!names.is_empty() && names.len() <= 10, "{names:?}");
        seen.extend(names);
        let page_revision = text(&page, "/metadata/resourceVersion");
        assert_eq!(
            snapshot.get_or_insert_with(|| page_revision.clone()),
            &page_revision,
            "every page reports the revision of the first"
        );
        if token.is_none() {
            // Changes made while paging belong to a later snapshot.
            cluster
                .create(CONFIG_MAPS, &config_map("cm-late", json!({})))
                .await;
            let mut changed = last.clone();
            changed["data"] = json!({"key": "changed"});
            cluster
                .put(&format!("{CONFIG_MAPS}/cm-24"), &changed)
                .await
                .expect(200);
        }
        match continue_token(&page) {
            Some(next) => {
                assert_eq!(
                    remaining_item_count(&page),
                    Some((expected.len() - seen.len()) as u64),
                    "{page}"
                );
                token = Some(next);
            }
            None => {
                assert_eq!(remaining_item_count(&page), None, "{page}");
                let final_page = page["items"].as_array().expect("items");
                let cm_24 = final_page
                    .iter()
                    .find(|item| item["metadata"]["name"] == "cm-24")
                    .expect("cm-24 is on the last page");
                assert_eq!(cm_24["data"]["key"], "value", "the page shows the snapshot");
                assert_eq!(revision(cm_24), revision(&last));
                break;
            }
        }
    }
    assert_eq!(seen, expected, "each object exactly once, in name order");
    let now = cluster.list_names(CONFIG_MAPS).await;
    assert_eq!(
        now.len(),
        expected.len() + 1,
        "a new list sees the late object"
    );
    assert!(now.iter().any(|name| name == "cm-late"), "{now:?}");
}

#[tokio::test]
async fn paging_with_a_selector_filters_before_the_limit() {
    let cluster = start_cluster().await;
    let mut expected = Vec::new();
    for index in 0..25 {
        let name = format!("cm-{index:02}");
        let parity = if index % 2 == 0 { "even" } else { "odd" };
        cluster
            .create(CONFIG_MAPS, &config_map(&name, json!({"parity": parity})))
            .await;
        if parity == "even" {
            expected.push(name);
        }
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let path = format!(
            "{CONFIG_MAPS}?{}",
            query(&[
                ("labelSelector", "parity=even"),
                ("limit", "4"),
                ("continue", &token)
            ])
        );
        let page = cluster.get(&path).await.expect(200);
        seen.extend(names(&page));
        // The count of what follows is only known without selectors.
        assert_eq!(remaining_item_count(&page), None, "{page}");
        match continue_token(&page) {
            Some(next) => token = next,
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn label_and_field_selectors_choose_what_a_list_shows() {
    let cluster = start_cluster().await;
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
        ("d", json!({})),
    ] {
        cluster.create(CONFIG_MAPS, &config_map(name, labels)).await;
    }
    let cases: &[(Query, &[&str])] = &[
        (&[("labelSelector", "app=web")], &["a", "b"]),
        (&[("labelSelector", "app==web,tier=back")], &["b"]),
        (&[("labelSelector", "app!=web")], &["c", "d", ROOT_CA]),
        (&[("labelSelector", "app in (web,db)")], &["a", "b", "c"]),
        (
            &[("labelSelector", "app notin (web)")],
            &["c", "d", ROOT_CA],
        ),
        (&[("labelSelector", "tier")], &["a", "b"]),
        (&[("labelSelector", "!app")], &["d", ROOT_CA]),
        (&[("fieldSelector", "metadata.name=c")], &["c"]),
        (
            &[("fieldSelector", "metadata.name!=c")],
            &["a", "b", "d", ROOT_CA],
        ),
        (
            &[("fieldSelector", "metadata.namespace=default")],
            &["a", "b", "c", "d", ROOT_CA],
        ),
        (
            &[
                ("labelSelector", "app=web"),
                ("fieldSelector", "metadata.name=b"),
            ],
            &["b"],
        ),
        (
            &[
                ("labelSelector", "app=db"),
                ("fieldSelector", "metadata.name=a"),
            ],
            &[],
        ),
    ];
    for (pairs, expected) in cases {
        let path = format!("{CONFIG_MAPS}?{}", query(pairs));
        assert_eq!(cluster.list_names(&path).await, *expected, "{pairs:?}");
    }
    // Across namespaces, a field selector on the namespace narrows the list.
    cluster
        .create(
            "/api/v1/namespaces/kube-public/configmaps",
            &config_map("system", json!({"app": "web"})),
        )
        .await;
    let everywhere = format!(
        "/api/v1/configmaps?{}",
        query(&[("labelSelector", "app=web")])
    );
    assert_eq!(cluster.list_names(&everywhere).await, ["a", "b", "system"]);
    let system_only = format!(
        "/api/v1/configmaps?{}",
        query(&[("fieldSelector", "metadata.namespace=kube-public")])
    );
    assert_eq!(cluster.list_names(&system_only).await, [ROOT_CA, "system"]);

    for bad in [
        ("labelSelector", "app in web"),
        ("fieldSelector", "data.key=value"),
    ] {
        let path = format!("{CONFIG_MAPS}?{}", query(&[bad]));
        cluster.get(&path).await.expect_failure(400, "BadRequest");
    }
}

#[tokio::test]
async fn an_exact_list_at_a_compacted_revision_is_expired() {
    let cluster = start_cluster().await;
    let first = cluster
        .create(CONFIG_MAPS, &config_map("first", json!({})))
        .await;
    let at_first = text(&first, "/metadata/resourceVersion");
    cluster
        .create(CONFIG_MAPS, &config_map("second", json!({})))
        .await;
    let exact = format!(
        "{CONFIG_MAPS}?{}",
        query(&[
            ("resourceVersion", &at_first),
            ("resourceVersionMatch", "Exact")
        ])
    );
    let before = cluster.get(&exact).await.expect(200);
    assert_eq!(
        names(&before),
        ["first", ROOT_CA],
        "the list as it was then"
    );
    assert_eq!(before["metadata"]["resourceVersion"], at_first);

    let storage = &cluster.plane.storage;
    storage
        .compact(storage.current_revision())
        .await
        .expect("compaction");
    let status = cluster.get(&exact).await.expect_failure(410, "Expired");
    assert_eq!(
        status["message"],
        "The resourceVersion for the provided list is too old."
    );
    assert_eq!(
        cluster.list_names(CONFIG_MAPS).await,
        ["first", ROOT_CA, "second"],
        "a list of the latest state still works"
    );
}

#[tokio::test]
async fn a_continue_token_older_than_compaction_is_expired() {
    let cluster = start_cluster().await;
    for index in 0..5 {
        cluster
            .create(CONFIG_MAPS, &config_map(&format!("cm-{index}"), json!({})))
            .await;
    }
    let page = cluster
        .get(&format!("{CONFIG_MAPS}?limit=2"))
        .await
        .expect(200);
    let token = continue_token(&page).expect("more pages follow");
    // A write after the snapshot, then compaction past it, leaves no way to rebuild it.
    cluster
        .create(CONFIG_MAPS, &config_map("later", json!({})))
        .await;
    let storage = &cluster.plane.storage;
    storage
        .compact(storage.current_revision())
        .await
        .expect("compaction");
    let path = format!(
        "{CONFIG_MAPS}?{}",
        query(&[("limit", "2"), ("continue", &token)])
    );
    let status = cluster.get(&path).await.expect_failure(410, "Expired");
    assert!(
        text(&status, "/message").starts_with("The provided continue parameter is too old"),
        "{status}"
    );
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_gets_an_expired_error_event() {
    let cluster = start_cluster().await;
    let first = cluster
        .create(CONFIG_MAPS, &config_map("first", json!({})))
        .await;
    cluster
        .create(CONFIG_MAPS, &config_map("second", json!({})))
        .await;
    let storage = &cluster.plane.storage;
    storage
        .compact(storage.current_revision())
        .await
        .expect("compaction");
    // As in Kubernetes, the watch itself is accepted and its one event is the error.
    let mut watch = cluster
        .watch(&format!(
            "{CONFIG_MAPS}?{}",
            query(&[
                ("watch", "1"),
                (
                    "resourceVersion",
                    &text(&first, "/metadata/resourceVersion")
                )
            ])
        ))
        .await;
    let event = watch.next().await;
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    assert!(
        text(status, "/message").starts_with("too old resource version: "),
        "{status}"
    );
}
