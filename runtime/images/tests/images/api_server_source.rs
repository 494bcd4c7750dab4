//! The API server image source against a real HTTP server that serves the image store's
//! two paths, through a kube::Client as a node has one.

use std::fs;

use serde_json::json;
use wasmkube_images::{
    ApiServerImageSource, ClusterImageSource, Digest, ImageCache, PullError, PullPolicy,
};

use crate::support::{TestHttpServer, TestResponse, wasm_module};

/// A server holding `team/hello:1.0` → `module`, refusing `secret:1.0`, and answering
/// `liar:1.0` with the description of another tag.
async fn image_store_server(module: Vec<u8>) -> TestHttpServer {
    let digest = Digest::of_bytes(&module);
    TestHttpServer::start(move |path| match path {
        "/wasmkube/v1/images/team/hello:1.0" => TestResponse::json(
            200,
            json!({"name": "team/hello", "tag": "1.0", "digest": digest.to_string()}),
        ),
        "/wasmkube/v1/images/liar:1.0" => TestResponse::json(
            200,
            json!({"name": "liar", "tag": "2.0", "digest": digest.to_string()}),
        ),
        "/wasmkube/v1/images/secret:1.0" => TestResponse::json(
            403,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "images \"secret:1.0\" is forbidden: User \"system:node:n1\" cannot get images",
                "reason": "Forbidden", "code": 403
            }),
        ),
        path if path == format!("/wasmkube/v1/blobs/{digest}") => TestResponse::ok(&module),
        path => TestResponse::not_found_status(&format!("{path} not found")),
    })
    .await
}

/// A source whose client talks to `server`.
fn source_for(server: &TestHttpServer) -> ApiServerImageSource {
    let config = kube::Config::new(server.url("").parse().unwrap());
    ApiServerImageSource::new(kube::Client::try_from(config).unwrap())
}

#[tokio::test]
async fn tags_resolve_and_modules_fetch_over_the_api_server_paths() {
    let module = wasm_module("served by the API server");
    let digest = Digest::of_bytes(&module);
    let server = image_store_server(module.clone()).await;
    let source = source_for(&server);

    assert_eq!(source.resolve("team/hello", "1.0").await.unwrap(), digest);
    assert_eq!(source.fetch(&digest).await.unwrap(), module);
    assert_eq!(
        server.requested_paths(),
        vec![
            "/wasmkube/v1/images/team/hello:1.0".to_owned(),
            format!("/wasmkube/v1/blobs/{digest}")
        ]
    );
}

#[tokio::test]
async fn a_node_pulls_from_the_api_server_into_its_cache() {
    let module = wasm_module("pulled through the cache");
    let server = image_store_server(module.clone()).await;
    let source = source_for(&server);
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();

    let pulled = cache
        .pull("team/hello:1.0", PullPolicy::IfNotPresent, &source)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&module));
    assert_eq!(fs::read(&pulled.path).unwrap(), module);
}

#[tokio::test]
async fn not_found_answers_read_as_missing_from_the_image_store() {
    let server = image_store_server(wasm_module("present")).await;
    let source = source_for(&server);
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();

    let error = cache
        .pull("hello:9.9", PullPolicy::IfNotPresent, &source)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ErrImagePull");
    assert_eq!(
        error.to_string(),
        "failed to pull image \"hello:9.9\": image \"hello:9.9\" not found in the cluster's image store"
    );

    let absent = Digest::of_bytes(b"absent");
    let error = source.fetch(&absent).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("module {absent} not found in the cluster's image store")
    );
}

#[tokio::test]
async fn a_refusal_carries_the_status_message() {
    let server = image_store_server(wasm_module("present")).await;
    let error = source_for(&server)
        .resolve("secret", "1.0")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the API server answered /wasmkube/v1/images/secret:1.0 with 403 Forbidden: images \"secret:1.0\" is forbidden: User \"system:node:n1\" cannot get images"
    );
}

#[tokio::test]
async fn an_answer_about_another_tag_is_not_trusted() {
    let server = image_store_server(wasm_module("present")).await;
    let error = source_for(&server)
        .resolve("liar", "1.0")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the API server's answer to /wasmkube/v1/images/liar:1.0 is not understood: it describes liar:2.0 instead"
    );
}

#[tokio::test]
async fn an_unreachable_api_server_says_so() {
    // A port that was just free and is closed again refuses connections.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = kube::Config::new(closed_port_url.parse().unwrap());
    let unreachable = ApiServerImageSource::new(kube::Client::try_from(config).unwrap());

    let error = unreachable.resolve("hello", "1.0").await.unwrap_err();
    assert!(
        matches!(error, PullError::ApiServerUnreachable { ref path, .. } if path == "/wasmkube/v1/images/hello:1.0"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("requesting /wasmkube/v1/images/hello:1.0 from the API server: "),
        "{error}"
    );
    assert!(error.to_string().contains("onnection refused"), "{error}");
}
