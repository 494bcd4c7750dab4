//! https-style downloads, served over plain HTTP by a real server on 127.0.0.1 (the one
//! host plain http is allowed to).

use std::fs;

use wasmkube_images::{Digest, ImageCache, ImageError, PullError, PullPolicy};

use crate::support::{InMemoryClusterStore, TestHttpServer, TestResponse, wasm_module};

#[tokio::test]
async fn a_pinned_download_is_verified_stored_and_not_downloaded_again() {
    let module = wasm_module("downloaded");
    let served = module.clone();
    let server = TestHttpServer::start(move |path| match path {
        "/modules/app.wasm" => TestResponse::ok(&served),
        _ => TestResponse::not_found_status("no such module"),
    })
    .await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let image = format!(
        "{}@{}",
        server.url("/modules/app.wasm"),
        Digest::of_bytes(&module)
    );

    let pulled = cache
        .pull(&image, PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&module));
    assert_eq!(fs::read(&pulled.path).unwrap(), module);
    for policy in [
        PullPolicy::IfNotPresent,
        PullPolicy::Always,
        PullPolicy::Never,
    ] {
        assert_eq!(cache.pull(&image, policy, &cluster).await.unwrap(), pulled);
    }
    assert_eq!(server.requested_paths(), vec!["/modules/app.wasm"]);
}

#[tokio::test]
async fn a_download_with_another_digest_is_refused_and_not_stored() {
    let served = wasm_module("what the server has");
    let expected = Digest::of_bytes(&wasm_module("what the pod wants"));
    let actual = Digest::of_bytes(&served);
    let server = TestHttpServer::start(move |_| TestResponse::ok(&served)).await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let image = format!("{}@{expected}", server.url("/app.wasm"));

    let error = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ErrImagePull");
    assert_eq!(
        error.to_string(),
        format!(
            "failed to pull image \"{image}\": digest mismatch: expected {expected}, got {actual}"
        )
    );
    assert!(
        !cache_directory
            .path()
            .join("blobs/sha256")
            .join(expected.hex())
            .exists()
    );
    assert!(
        !cache_directory
            .path()
            .join("blobs/sha256")
            .join(actual.hex())
            .exists()
    );
}

#[tokio::test]
async fn redirects_are_followed_relative_and_absolute() {
    let module = wasm_module("moved");
    let served = module.clone();
    let server = TestHttpServer::start(move |path| match path {
        "/old/app.wasm" => TestResponse::redirect(302, "../new/app.wasm"),
        "/new/app.wasm" => TestResponse::redirect(301, "/final/app.wasm"),
        "/final/app.wasm" => TestResponse::ok(&served),
        _ => TestResponse::not_found_status("no such module"),
    })
    .await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let image = format!(
        "{}@{}",
        server.url("/old/app.wasm"),
        Digest::of_bytes(&module)
    );

    let pulled = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap();
    assert_eq!(fs::read(&pulled.path).unwrap(), module);
    assert_eq!(
        server.requested_paths(),
        vec!["/old/app.wasm", "/new/app.wasm", "/final/app.wasm"]
    );
}

#[tokio::test]
async fn a_redirect_loop_stops_after_five_redirects() {
    let server = TestHttpServer::start(|path| {
        let hop: u32 = path.trim_start_matches("/hop/").parse().unwrap_or(0);
        TestResponse::redirect(307, &format!("/hop/{}", hop + 1))
    })
    .await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let url = server.url("/hop/0");
    let image = format!("{url}@{}", Digest::of_bytes(b"\0asm"));

    let error = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("failed to pull image \"{image}\": downloading {url}: stopped after 5 redirects")
    );
    assert_eq!(
        server.requested_paths().len(),
        6,
        "the first request and five redirects"
    );
}

#[tokio::test]
async fn a_redirect_to_plain_http_elsewhere_is_refused() {
    let server =
        TestHttpServer::start(|_| TestResponse::redirect(302, "http://example.com/app.wasm")).await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let url = server.url("/app.wasm");
    let image = format!("{url}@{}", Digest::of_bytes(b"\0asm"));

    let error = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "failed to pull image \"{image}\": downloading {url}: refused to follow the redirect: \"http://example.com/app.wasm\": plain http is only allowed to 127.0.0.1, ::1 and localhost; use https"
        )
    );
}

#[tokio::test]
async fn an_error_status_is_reported_with_the_url() {
    let server = TestHttpServer::start(|_| TestResponse::not_found_status("gone")).await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let url = server.url("/missing.wasm");
    let image = format!("{url}@{}", Digest::of_bytes(b"\0asm"));

    let error = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "failed to pull image \"{image}\": downloading {url}: the server answered 404 Not Found"
        )
    );
}

#[tokio::test]
async fn https_never_falls_back_to_plain_http() {
    let server = TestHttpServer::start(|_| TestResponse::ok(b"\0asm")).await;
    let cache_directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let url = format!("https://{}/app.wasm", server.address);
    let image = format!("{url}@{}", Digest::of_bytes(b"\0asm"));

    let error = cache
        .pull(
            &image,
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    let ImageError::Pull {
        source: PullError::Download {
            url: failed_url,
            message,
        },
        ..
    } = &error
    else {
        panic!("expected a failed TLS download, got {error}");
    };
    assert_eq!(failed_url, &url);
    assert!(
        message.contains("tls handshake eof"),
        "the TLS handshake is what fails: {message}"
    );
    assert_eq!(
        server.requested_paths(),
        Vec::<String>::new(),
        "no plain HTTP request is answered for an https URL"
    );
}
