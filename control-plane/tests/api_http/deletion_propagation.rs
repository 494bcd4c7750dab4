//! Deletion propagation at the API: `propagationPolicy` (body or query) and the deprecated
//! `orphanDependents` decide which garbage collector finalizer holds a deleted object, as
//! the generic registry's `deletionFinalizersForGarbageCollection` does. No garbage
//! collector runs here, so what holds an object stays until the test removes it.

use http::Method;
use serde_json::{Value, json};

use super::support::*;

async fn delete_with(cluster: &Cluster, path: &str, options: &Value) -> Reply {
    cluster
        .request(
            Method::DELETE,
            path,
            &[("content-type", "application/json")],
            options.to_string(),
        )
        .await
}

fn finalizers(object: &Value) -> Value {
    object["metadata"]["finalizers"].clone()
}

#[tokio::test]
async fn foreground_holds_the_object_with_the_foreground_deletion_finalizer() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("owner", json!({})))
        .await;
    let path = format!("{CONFIG_MAPS}/owner");

    let marked = delete_with(
        &cluster,
        &path,
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}),
    )
    .await
    .expect(200);
    assert_eq!(marked["kind"], "ConfigMap", "{marked}");
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(finalizers(&marked), json!(["foregroundDeletion"]));
    let stored = cluster.get(&path).await.expect(200);
    assert_eq!(finalizers(&stored), json!(["foregroundDeletion"]));

    // What the garbage collector does once no dependent blocks: remove the finalizer.
    cluster
        .merge_patch(&path, &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    cluster.get(&path).await.expect_failure(404, "NotFound");
}

#[tokio::test]
async fn orphan_is_asked_by_query_parameter_or_by_orphan_dependents() {
    let cluster = start_cluster().await;
    for name in ["by-query", "by-orphan-dependents"] {
        cluster
            .create(CONFIG_MAPS, &config_map(name, json!({})))
            .await;
    }
    let by_query = cluster
        .delete(&format!("{CONFIG_MAPS}/by-query?propagationPolicy=Orphan"))
        .await
        .expect(200);
    assert_eq!(finalizers(&by_query), json!(["orphan"]));
    let by_orphan_dependents = delete_with(
        &cluster,
        &format!("{CONFIG_MAPS}/by-orphan-dependents"),
        &json!({"orphanDependents": true}),
    )
    .await
    .expect(200);
    assert_eq!(finalizers(&by_orphan_dependents), json!(["orphan"]));
    assert_eq!(
        cluster.list_names(CONFIG_MAPS).await,
        ["by-orphan-dependents", "by-query", ROOT_CA]
    );
}

#[tokio::test]
async fn background_and_no_policy_delete_at_once() {
    let cluster = start_cluster().await;
    for name in ["explicit", "default"] {
        cluster
            .create(CONFIG_MAPS, &config_map(name, json!({})))
            .await;
    }
    let explicit = delete_with(
        &cluster,
        &format!("{CONFIG_MAPS}/explicit"),
        &json!({"propagationPolicy": "Background"}),
    )
    .await
    .expect(200);
    assert_eq!(explicit["kind"], "Status", "{explicit}");
    assert_eq!(explicit["status"], "Success");
    let default = cluster
        .delete(&format!("{CONFIG_MAPS}/default"))
        .await
        .expect(200);
    assert_eq!(default["status"], "Success", "{default}");
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);
}

#[tokio::test]
async fn an_unknown_policy_or_two_ways_of_asking_are_invalid_delete_options() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("kept", json!({})))
        .await;
    let path = format!("{CONFIG_MAPS}/kept");

    let unknown = delete_with(&cluster, &path, &json!({"propagationPolicy": "Sideways"}))
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        unknown["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    assert_eq!(unknown["details"]["kind"], "DeleteOptions");
    assert_eq!(unknown["details"]["group"], "meta.k8s.io");
    assert_eq!(
        unknown["details"]["causes"][0]["reason"],
        "FieldValueNotSupported"
    );
    assert_eq!(
        unknown["details"]["causes"][0]["field"],
        "propagationPolicy"
    );

    let unknown_by_query = cluster
        .delete(&format!("{path}?propagationPolicy=Sideways"))
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(unknown_by_query["message"], unknown["message"]);

    let both = delete_with(
        &cluster,
        &path,
        &json!({"propagationPolicy": "Orphan", "orphanDependents": true}),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_eq!(
        both["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
    );

    cluster
        .delete(&format!("{path}?orphanDependents=perhaps"))
        .await
        .expect_failure(400, "BadRequest");

    let stored = cluster.get(&path).await.expect(200);
    assert!(
        stored["metadata"]["deletionTimestamp"].is_null(),
        "a refused deletion changes nothing: {stored}"
    );
}

#[tokio::test]
async fn orphan_dependents_false_answers_202_when_the_deletion_waits() {
    let cluster = start_cluster().await;
    let mut held = config_map("held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create(CONFIG_MAPS, &held).await;
    let marked = delete_with(
        &cluster,
        &format!("{CONFIG_MAPS}/held"),
        &json!({"orphanDependents": false}),
    )
    .await
    .expect(202);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(finalizers(&marked), json!(["example.com/hold"]));
}

#[tokio::test]
async fn a_later_deletion_may_change_the_policy_and_keeps_other_finalizers() {
    let cluster = start_cluster().await;
    let mut held = config_map("owner", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create(CONFIG_MAPS, &held).await;
    let path = format!("{CONFIG_MAPS}/owner");

    let foreground = delete_with(&cluster, &path, &json!({"propagationPolicy": "Foreground"}))
        .await
        .expect(200);
    assert_eq!(
        finalizers(&foreground),
        json!(["example.com/hold", "foregroundDeletion"])
    );
    // The same request again changes nothing.
    let again = delete_with(&cluster, &path, &json!({"propagationPolicy": "Foreground"}))
        .await
        .expect(200);
    assert_eq!(revision(&again), revision(&foreground));
    // Without a policy, the finalizers the object has stand.
    let plain = cluster.delete(&path).await.expect(200);
    assert_eq!(revision(&plain), revision(&foreground));

    let orphan = delete_with(&cluster, &path, &json!({"propagationPolicy": "Orphan"}))
        .await
        .expect(200);
    assert_eq!(finalizers(&orphan), json!(["example.com/hold", "orphan"]));
    assert_eq!(
        orphan["metadata"]["deletionTimestamp"],
        foreground["metadata"]["deletionTimestamp"]
    );
    let background = delete_with(&cluster, &path, &json!({"propagationPolicy": "Background"}))
        .await
        .expect(200);
    assert_eq!(finalizers(&background), json!(["example.com/hold"]));
}

#[tokio::test]
async fn deletecollection_applies_the_policy_to_every_object() {
    let cluster = start_cluster().await;
    for (name, app) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        cluster
            .create(CONFIG_MAPS, &config_map(name, json!({"app": app})))
            .await;
    }
    let deleted = delete_with(
        &cluster,
        &format!("{CONFIG_MAPS}?labelSelector=app%3Da"),
        &json!({"propagationPolicy": "Foreground"}),
    )
    .await
    .expect(200);
    assert_eq!(names(&deleted), ["a1", "a2"]);
    for item in deleted["items"].as_array().expect("items") {
        assert_eq!(finalizers(item), json!(["foregroundDeletion"]), "{item}");
        assert!(item["metadata"]["deletionTimestamp"].is_string(), "{item}");
    }
    assert_eq!(
        cluster.list_names(CONFIG_MAPS).await,
        ["a1", "a2", "b1", ROOT_CA]
    );

    cluster
        .delete(&format!("{CONFIG_MAPS}?propagationPolicy=Nowhere"))
        .await
        .expect_failure(422, "Invalid");
}

/// A pod on a node deleted in foreground waits for its node and for the collector: the
/// node's confirmation (grace period zero) shortens the deletion, and the pod goes when
/// the finalizer is removed, not before.
#[tokio::test]
async fn a_pod_held_in_foreground_goes_once_its_node_and_the_finalizer_release_it() {
    let cluster = start_cluster().await;
    let mut scheduled = pod("web");
    scheduled["spec"]["nodeName"] = json!("node-1");
    cluster.create(PODS, &scheduled).await;
    let path = format!("{PODS}/web");

    let marked = delete_with(&cluster, &path, &json!({"propagationPolicy": "Foreground"}))
        .await
        .expect(200);
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    assert_eq!(finalizers(&marked), json!(["foregroundDeletion"]));

    // The node has stopped the pod and confirms with a grace period of zero.
    let confirmed = cluster
        .delete(&format!("{path}?gracePeriodSeconds=0"))
        .await
        .expect(200);
    assert_eq!(confirmed["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(finalizers(&confirmed), json!(["foregroundDeletion"]));
    assert!(
        text(&confirmed, "/metadata/deletionTimestamp")
            < text(&marked, "/metadata/deletionTimestamp"),
        "the deadline moved earlier: {confirmed}"
    );

    cluster
        .merge_patch(&path, &json!({"metadata": {"finalizers": null}}))
        .await
        .expect(200);
    cluster.get(&path).await.expect_failure(404, "NotFound");
}
