//! Refused requests: each gets the HTTP code and the Status object a real Kubernetes API
//! server answers with, and a refused write leaves nothing behind.

use http::Method;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_malformed_json_body_is_a_bad_request_and_stores_nothing() {
    let cluster = start_cluster().await;
    let truncated = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "half""#;
    for body in [truncated, "[1, 2]", "not json at all"] {
        cluster
            .request(
                Method::POST,
                CONFIG_MAPS,
                &[("content-type", "application/json")],
                body,
            )
            .await
            .expect_failure(400, "BadRequest");
    }
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);

    cluster
        .create(CONFIG_MAPS, &config_map("kept", json!({})))
        .await;
    cluster
        .request(
            Method::PUT,
            &format!("{CONFIG_MAPS}/kept"),
            &[("content-type", "application/json")],
            truncated,
        )
        .await
        .expect_failure(400, "BadRequest");
    let kept = cluster
        .get(&format!("{CONFIG_MAPS}/kept"))
        .await
        .expect(200);
    assert_eq!(kept["data"], json!({"key": "value"}));
}

#[tokio::test]
async fn a_body_of_another_kind_version_or_namespace_than_the_url_is_a_bad_request() {
    let cluster = start_cluster().await;
    let mut secret = config_map("wrong-kind", json!({}));
    secret["kind"] = json!("Secret");
    let status = cluster
        .post(CONFIG_MAPS, &secret)
        .await
        .expect_failure(400, "BadRequest");
    let message = text(&status, "/message");
    assert!(
        message.contains("Secret") && message.contains("ConfigMap"),
        "the message names both kinds: {message}"
    );

    let mut other_version = config_map("wrong-version", json!({}));
    other_version["apiVersion"] = json!("apps/v1");
    let status = cluster
        .post(CONFIG_MAPS, &other_version)
        .await
        .expect_failure(400, "BadRequest");
    assert!(text(&status, "/message").contains("apps/v1"), "{status}");

    let mut elsewhere = config_map("wrong-namespace", json!({}));
    elsewhere["metadata"]["namespace"] = json!("kube-system");
    let status = cluster
        .post(CONFIG_MAPS, &elsewhere)
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);

    cluster
        .create(CONFIG_MAPS, &config_map("target", json!({})))
        .await;
    let mut replacement = config_map("target", json!({}));
    replacement["kind"] = json!("Secret");
    cluster
        .put(&format!("{CONFIG_MAPS}/target"), &replacement)
        .await
        .expect_failure(400, "BadRequest");
}

#[tokio::test]
async fn a_missing_object_is_not_found_with_its_resource_and_name() {
    let cluster = start_cluster().await;
    let missing = format!("{CONFIG_MAPS}/x");
    let replies = [
        cluster.get(&missing).await,
        cluster.put(&missing, &config_map("x", json!({}))).await,
        cluster
            .merge_patch(&missing, &json!({"data": {"a": "b"}}))
            .await,
        cluster.delete(&missing).await,
    ];
    for reply in replies {
        let status = reply.expect_failure(404, "NotFound");
        assert_eq!(status["message"], r#"configmaps "x" not found"#);
        assert_eq!(
            status["details"],
            json!({"name": "x", "kind": "configmaps"})
        );
    }

    let status = cluster
        .get(&format!("{DEPLOYMENTS}/web"))
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(status["message"], r#"deployments.apps "web" not found"#);
    assert_eq!(
        status["details"],
        json!({"name": "web", "group": "apps", "kind": "deployments"})
    );
}

#[tokio::test]
async fn an_unknown_resource_path_is_not_found() {
    let cluster = start_cluster().await;
    cluster.create(PODS, &pod("p")).await;
    for path in [
        "/api/v1/widgets",
        "/api/v1/namespaces/default/widgets/w",
        "/apis/example.com/v1/widgets",
        "/apis/apps/v9/deployments",
        "/api/v1/namespaces/default/pods/p/nonsense",
    ] {
        let status = cluster.get(path).await.expect_failure(404, "NotFound");
        assert_eq!(
            status["message"], "the server could not find the requested resource",
            "{path}"
        );
        assert_eq!(status["details"], json!({}), "{path}");
    }
}

#[tokio::test]
async fn creating_an_existing_name_again_is_already_exists() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("dup", json!({})))
        .await;
    let mut second = config_map("dup", json!({}));
    second["data"] = json!({"key": "second"});
    let status = cluster
        .post(CONFIG_MAPS, &second)
        .await
        .expect_failure(409, "AlreadyExists");
    assert_eq!(status["message"], r#"configmaps "dup" already exists"#);
    assert_eq!(
        status["details"],
        json!({"name": "dup", "kind": "configmaps"})
    );
    let stored = cluster.get(&format!("{CONFIG_MAPS}/dup")).await.expect(200);
    assert_eq!(stored["data"]["key"], "value", "the first create stands");
}

#[tokio::test]
async fn a_write_with_a_stale_resource_version_is_a_conflict() {
    let cluster = start_cluster().await;
    let path = format!("{CONFIG_MAPS}/cm");
    let created = cluster
        .create(CONFIG_MAPS, &config_map("cm", json!({})))
        .await;
    let mut first = created.clone();
    first["data"] = json!({"key": "first"});
    let updated = cluster.put(&path, &first).await.expect(200);
    assert!(revision(&updated) > revision(&created));

    let mut stale = created.clone();
    stale["data"] = json!({"key": "stale"});
    let status = cluster
        .put(&path, &stale)
        .await
        .expect_failure(409, "Conflict");
    assert_eq!(
        status["message"],
        r#"Operation cannot be fulfilled on configmaps "cm": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!(
        status["details"],
        json!({"name": "cm", "kind": "configmaps"})
    );

    let stale_patch = json!({
        "metadata": {"resourceVersion": text(&created, "/metadata/resourceVersion")},
        "data": {"key": "stale patch"},
    });
    let status = cluster
        .merge_patch(&path, &stale_patch)
        .await
        .expect_failure(409, "Conflict");
    assert!(
        text(&status, "/message").contains("the object has been modified; please apply your changes to the latest version and try again"),
        "{status}"
    );

    let stale_delete = json!({
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"resourceVersion": text(&created, "/metadata/resourceVersion")},
    });
    cluster
        .request(
            Method::DELETE,
            &path,
            &[("content-type", "application/json")],
            stale_delete.to_string(),
        )
        .await
        .expect_failure(409, "Conflict");

    let stored = cluster.get(&path).await.expect(200);
    assert_eq!(
        stored["data"]["key"], "first",
        "refused writes change nothing"
    );
    assert_eq!(revision(&stored), revision(&updated));
}

#[tokio::test]
async fn a_body_over_three_mebibytes_is_too_large() {
    let cluster = start_cluster().await;
    let mut huge = config_map("huge", json!({}));
    huge["data"] = json!({"key": "x".repeat(3 * 1024 * 1024)});
    let status = cluster
        .post(CONFIG_MAPS, &huge)
        .await
        .expect_failure(413, "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 3145728"
    );
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);
}

#[tokio::test]
async fn an_unsupported_content_type_is_unsupported_media_type() {
    let cluster = start_cluster().await;
    let body = config_map("plain", json!({})).to_string();
    let status = cluster
        .request(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "text/plain")],
            body.clone(),
        )
        .await
        .expect_failure(415, "UnsupportedMediaType");
    let message = text(&status, "/message");
    assert!(
        message.starts_with(
            "the body of the request was in an unknown format - accepted media types include: "
        ),
        "{message}"
    );
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);

    cluster
        .create(CONFIG_MAPS, &config_map("plain", json!({})))
        .await;
    cluster
        .request(
            Method::PATCH,
            &format!("{CONFIG_MAPS}/plain"),
            &[("content-type", "text/plain")],
            r#"{"data": {"key": "patched"}}"#,
        )
        .await
        .expect_failure(415, "UnsupportedMediaType");
    let stored = cluster
        .get(&format!("{CONFIG_MAPS}/plain"))
        .await
        .expect(200);
    assert_eq!(stored["data"]["key"], "value");
}

#[tokio::test]
async fn an_unacceptable_accept_is_not_acceptable() {
    let cluster = start_cluster().await;
    cluster
        .create(CONFIG_MAPS, &config_map("shown", json!({})))
        .await;
    let html = [("accept", "text/html")];
    for path in [CONFIG_MAPS.to_owned(), format!("{CONFIG_MAPS}/shown")] {
        let status = cluster
            .request(Method::GET, &path, &html, "")
            .await
            .expect_failure(406, "NotAcceptable");
        let message = text(&status, "/message");
        assert!(
            message.starts_with("only the following media types are accepted: "),
            "{message}"
        );
    }
    cluster
        .request(
            Method::POST,
            CONFIG_MAPS,
            &[
                ("content-type", "application/json"),
                ("accept", "text/html"),
            ],
            config_map("unseen", json!({})).to_string(),
        )
        .await
        .expect_failure(406, "NotAcceptable");
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA, "shown"]);
}

#[tokio::test]
async fn a_yaml_alias_bomb_is_refused_and_the_server_stays_healthy() {
    let cluster = start_cluster().await;
    // Seven levels of ten aliases each would expand to ten million strings.
    let bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n\
        a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
        g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    let status = cluster
        .request(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "application/yaml")],
            bomb,
        )
        .await
        .expect_failure(400, "BadRequest");
    let message = text(&status, "/message");
    assert!(
        message.contains("YAML") && (message.contains("alias") || message.contains("repetition")),
        "the message names the problem: {message}"
    );

    for probe in ["/healthz", "/readyz"] {
        let reply = cluster.get(probe).await;
        assert_eq!(reply.status, 200, "{probe}");
    }
    // An ordinary alias is still fine.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aliased\n  labels: &labels {app: web}\n  annotations: *labels\n";
    let created = cluster
        .request(
            Method::POST,
            CONFIG_MAPS,
            &[("content-type", "application/yaml")],
            yaml,
        )
        .await
        .expect(201);
    assert_eq!(created["metadata"]["annotations"], json!({"app": "web"}));
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, ["aliased", ROOT_CA]);
}
