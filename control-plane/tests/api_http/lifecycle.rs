//! What happens to objects over their life: server-side printing as a Table, generation
//! on spec changes, deletion held by finalizers, and deleting a selected collection.

use http::Method;
use serde_json::{Value, json};

use super::support::*;

/// What kubectl get sends: Table first, plain JSON as the fallback.
const KUBECTL_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The Table form alone, as other clients ask for it.
const TABLE_ONLY: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

async fn get_table(cluster: &Cluster, path: &str, accept: &str) -> Value {
    cluster
        .request(Method::GET, path, &[("accept", accept)], "")
        .await
        .expect(200)
}

#[tokio::test]
async fn pods_print_as_a_table_with_kubectls_columns() {
    let cluster = start_cluster().await;
    let created = cluster.create(PODS, &pod("web")).await;

    let table = get_table(&cluster, PODS, KUBECTL_TABLE).await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(table["metadata"]["resourceVersion"].is_string(), "{table}");
    let columns = table["columnDefinitions"].as_array().expect("columns");
    let default_columns: Vec<String> = columns
        .iter()
        .filter(|column| column["priority"] == 0)
        .map(|column| text(column, "/name").to_uppercase())
        .collect();
    assert_eq!(
        default_columns,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let wide_columns: Vec<String> = columns
        .iter()
        .filter(|column| column["priority"] == 1)
        .map(|column| text(column, "/name").to_uppercase())
        .collect();
    assert_eq!(
        wide_columns,
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    );
    assert_eq!(columns[0]["format"], "name");

    let rows = table["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let cells = rows[0]["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), columns.len());
    assert_eq!(
        cells[..4],
        [json!("web"), json!("0/1"), json!("Pending"), json!("0")]
    );
    // Without includeObject, each row carries the object's metadata, as kubectl expects.
    let object = &rows[0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["uid"], created["metadata"]["uid"]);

    let single = get_table(&cluster, &format!("{PODS}/web"), TABLE_ONLY).await;
    assert_eq!(single["kind"], "Table");
    assert_eq!(single["rows"].as_array().expect("rows").len(), 1);
    assert_eq!(single["rows"][0]["cells"][0], "web");
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let cluster = start_cluster().await;
    let path = format!("{DEPLOYMENTS}/web");
    let created = cluster.create(DEPLOYMENTS, &deployment("web")).await;
    assert_eq!(created["metadata"]["generation"], 1);

    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(3);
    let scaled = cluster.put(&path, &scaled).await.expect(200);
    assert_eq!(scaled["metadata"]["generation"], 2, "a spec change");

    let labelled = cluster
        .merge_patch(
            &path,
            &json!({"metadata": {"labels": {"team": "blue"}, "annotations": {"note": "x"}}}),
        )
        .await
        .expect(200);
    assert_eq!(labelled["metadata"]["generation"], 2, "metadata only");
    assert!(revision(&labelled) > revision(&scaled));

    let status = cluster
        .merge_patch(
            &format!("{path}/status"),
            &json!({"status": {"observedGeneration": 2, "replicas": 3}}),
        )
        .await
        .expect(200);
    assert_eq!(status["metadata"]["generation"], 2, "status only");

    let patched = cluster
        .merge_patch(
            &path,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}}}),
        )
        .await
        .expect(200);
    assert_eq!(patched["metadata"]["generation"], 3, "a patched spec");
}

#[tokio::test]
async fn marking_an_object_for_deletion_bumps_its_generation() {
    let cluster = start_cluster().await;
    let mut held = deployment("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create(DEPLOYMENTS, &held).await;
    let path = format!("{DEPLOYMENTS}/held");
    let marked = cluster.delete(&path).await.expect(200);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(marked["metadata"]["generation"], 2);
    // A second delete changes nothing more.
    let again = cluster.delete(&path).await.expect(200);
    assert_eq!(again["metadata"]["generation"], 2);
    assert_eq!(revision(&again), revision(&marked));
}

#[tokio::test]
async fn a_finalizer_holds_a_deleted_object_until_it_is_removed() {
    let cluster = start_cluster().await;
    let path = format!("{CONFIG_MAPS}/held");
    let mut held = config_map("held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create(CONFIG_MAPS, &held).await;

    // As in Kubernetes, a deletion that must wait answers 200 with the marked object.
    let marked = cluster.delete(&path).await.expect(200);
    assert_eq!(marked["kind"], "ConfigMap", "{marked}");
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(
        marked["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );

    let stored = cluster.get(&path).await.expect(200);
    assert_eq!(
        stored["metadata"]["deletionTimestamp"],
        marked["metadata"]["deletionTimestamp"]
    );
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, ["held", ROOT_CA]);
    // Other changes are still allowed while it waits.
    let updated = cluster
        .merge_patch(&path, &json!({"data": {"key": "still here"}}))
        .await
        .expect(200);
    assert_eq!(
        updated["metadata"]["deletionTimestamp"],
        marked["metadata"]["deletionTimestamp"]
    );

    let released = cluster
        .merge_patch(&path, &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    assert_eq!(released["metadata"]["name"], "held", "{released}");
    cluster.get(&path).await.expect_failure(404, "NotFound");
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);
}

/// Kubernetes deletes an object in the same step as the update that removes its last
/// finalizer (`shouldDeleteDuringUpdate`), so watchers see the marking, then DELETED.
#[tokio::test]

async fn removing_the_last_finalizer_deletes_in_one_step() {
    let cluster = start_cluster().await;
    let path = format!("{CONFIG_MAPS}/held");
    let mut held = config_map("held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let created = cluster.create(CONFIG_MAPS, &held).await;
    let mut watch = cluster
        .watch(&format!(
            "{CONFIG_MAPS}?watch=1&resourceVersion={}",
            text(&created, "/metadata/resourceVersion")
        ))
        .await;
    cluster.delete(&path).await.expect(200);
    cluster
        .merge_patch(&path, &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    let marked = watch.next_change().await;
    assert_eq!(marked["type"], "MODIFIED");
    assert!(marked["object"]["metadata"]["deletionTimestamp"].is_string());
    let next = watch.next_change().await;
    assert_eq!(next["type"], "DELETED", "{next}");
}

#[tokio::test]
async fn deletecollection_deletes_only_what_the_selector_chooses() {
    let cluster = start_cluster().await;
    for (name, app) in [
        ("a1", "a"),
        ("a2", "a"),
        ("a3", "a"),
        ("b1", "b"),
        ("b2", "b"),
    ] {
        cluster
            .create(CONFIG_MAPS, &config_map(name, json!({"app": app})))
            .await;
    }
    cluster
        .create(
            "/api/v1/namespaces/kube-public/configmaps",
            &config_map("a-elsewhere", json!({"app": "a"})),
        )
        .await;

    let deleted = cluster
        .delete(&format!("{CONFIG_MAPS}?labelSelector=app%3Da"))
        .await
        .expect(200);
    assert_eq!(deleted["kind"], "ConfigMapList");
    assert_eq!(names(&deleted), ["a1", "a2", "a3"]);
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, ["b1", "b2", ROOT_CA]);
    assert_eq!(
        cluster
            .list_names("/api/v1/namespaces/kube-public/configmaps")
            .await,
        ["a-elsewhere", ROOT_CA],
        "other namespaces are untouched"
    );

    let deleted = cluster
        .delete(&format!("{CONFIG_MAPS}?fieldSelector=metadata.name%3Db2"))
        .await
        .expect(200);
    assert_eq!(names(&deleted), ["b2"]);
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, ["b1", ROOT_CA]);
}
