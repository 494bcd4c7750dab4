//! The cluster's built-in image store over real HTTP: blobs pushed, checked and read
//! back, tags set and listed, and every refusal a Status with the right code.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::Full;
use serde_json::json;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::images::Digest;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};

use super::support::*;

/// The smallest valid WebAssembly core module: the magic and version 1.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// A component's header (layer 1) followed by a custom section, to tell it apart.
const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0\0\x04\x03abc";

const OCTET_STREAM: &[(&str, &str)] = &[("content-type", "application/octet-stream")];

fn blob_path(digest: &Digest) -> String {
    format!("/wasmkube/v1/blobs/{digest}")
}

async fn put_blob(cluster: &Cluster, path: &str, body: &[u8]) -> Reply {
    cluster
        .request(Method::PUT, path, OCTET_STREAM, body.to_vec())
        .await
}

async fn push(cluster: &Cluster, body: &[u8]) -> Digest {
    let digest = Digest::of_bytes(body);
    put_blob(cluster, &blob_path(&digest), body)
        .await
        .expect(201);
    digest
}

async fn tag(cluster: &Cluster, reference: &str, digest: &str) -> Reply {
    cluster
        .put(
            &format!("/wasmkube/v1/images/{reference}"),
            &json!({ "digest": digest }),
        )
        .await
}

#[tokio::test]
async fn a_pushed_blob_is_stored_once_and_read_back_byte_for_byte() {
    let cluster = start_cluster().await;
    let digest = Digest::of_bytes(COMPONENT);
    let created = put_blob(&cluster, &blob_path(&digest), COMPONENT)
        .await
        .expect(201);
    assert_eq!(
        created,
        json!({"digest": digest.to_string(), "size": COMPONENT.len()})
    );
    let again = put_blob(&cluster, &blob_path(&digest), COMPONENT)
        .await
        .expect(200);
    assert_eq!(again, created);

    let read = cluster.get(&blob_path(&digest)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body.as_ref(), COMPONENT);
    assert_eq!(read.headers[header::CONTENT_TYPE], "application/wasm");

    let head = cluster
        .request(Method::HEAD, &blob_path(&digest), &[], "")
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.headers[header::CONTENT_LENGTH],
        COMPONENT.len().to_string().as_str()
    );
}

#[tokio::test]
async fn tags_point_at_blobs_and_list_sorted_with_their_sizes() {
    let cluster = start_cluster().await;
    let module = push(&cluster, EMPTY_MODULE).await;
    let component = push(&cluster, COMPONENT).await;

    let record = tag(&cluster, "team/tools/hello:v1", &module.to_string())
        .await
        .expect(200);
    assert_eq!(
        record,
        json!({"name": "team/tools/hello", "tag": "v1", "digest": module.to_string()})
    );
    assert_eq!(
        cluster
            .get("/wasmkube/v1/images/team/tools/hello:v1")
            .await
            .expect(200),
        record
    );
    tag(&cluster, "hello:latest", &component.to_string())
        .await
        .expect(200);
    tag(&cluster, "hello:1.0", &module.to_string())
        .await
        .expect(200);
    // Tagging again moves the tag.
    tag(&cluster, "hello:1.0", &component.to_string())
        .await
        .expect(200);

    let list = cluster.get("/wasmkube/v1/images").await.expect(200);
    let item = |name: &str, tag: &str, digest: &Digest, size: usize| json!({"name": name, "tag": tag, "digest": digest.to_string(), "size": size});
    assert_eq!(
        list,
        json!({"items": [
            item("hello", "1.0", &component, COMPONENT.len()),
            item("hello", "latest", &component, COMPONENT.len()),
            item("team/tools/hello", "v1", &module, EMPTY_MODULE.len()),
        ]})
    );
}

#[tokio::test]
async fn a_bad_blob_upload_is_refused_with_a_status_naming_the_problem() {
    let cluster = start_cluster().await;
    let digest = Digest::of_bytes(EMPTY_MODULE);
    for path in [
        "/wasmkube/v1/blobs/md5:0123".to_owned(),
        format!("/wasmkube/v1/blobs/{}", digest.hex()),
        format!("/wasmkube/v1/blobs/sha256:{}", digest.hex().to_uppercase()),
    ] {
        let status = put_blob(&cluster, &path, EMPTY_MODULE)
            .await
            .expect_failure(400, "BadRequest");
        assert!(
            text(&status, "/message").starts_with("invalid digest"),
            "{status}"
        );
    }

    let claimed = Digest::of_bytes(COMPONENT);
    let status = put_blob(&cluster, &blob_path(&claimed), EMPTY_MODULE)
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        status["message"],
        format!("digest mismatch: the body's digest is {digest}, not {claimed}")
    );

    let script = b"#!/bin/sh\necho hello\n";
    let status = put_blob(&cluster, &blob_path(&Digest::of_bytes(script)), script)
        .await
        .expect_failure(400, "BadRequest");
    assert!(
        text(&status, "/message").contains("not a WebAssembly module or component"),
        "{status}"
    );

    for missing in [&claimed, &digest] {
        let status = cluster
            .get(&blob_path(missing))
            .await
            .expect_failure(404, "NotFound");
        assert_eq!(status["message"], format!("blob \"{missing}\" not found"));
        let head = cluster
            .request(Method::HEAD, &blob_path(missing), &[], "")
            .await;
        assert_eq!(head.status, 404);
    }
    cluster
        .request(Method::DELETE, &blob_path(&digest), &[], "")
        .await
        .expect_failure(405, "MethodNotAllowed");
}

#[tokio::test]
async fn a_blob_over_the_size_limit_is_refused_with_413() {
    let cluster = start_cluster_with(ApiOptions {
        max_image_blob_bytes: 1024,
        ..ApiOptions::default()
    })
    .await;
    let mut large = EMPTY_MODULE.to_vec();
    large.resize(1025, 0);
    let status = put_blob(&cluster, &blob_path(&Digest::of_bytes(&large)), &large)
        .await
        .expect_failure(413, "RequestEntityTooLarge");
    assert_eq!(status["message"], "Request entity too large: limit is 1024");

    large.truncate(1024);
    push(&cluster, &large).await;
}

#[tokio::test]
async fn a_bad_tag_request_is_refused_with_a_status_naming_the_problem() {
    let cluster = start_cluster().await;
    let digest = push(&cluster, EMPTY_MODULE).await.to_string();
    for (reference, problem) in [
        ("Hello:v1", "repository name must be lowercase"),
        ("a//b:v1", "the component \"\""),
        ("hello..world:v1", "the component \"hello..world\""),
        ("hello:.v1", "invalid tag \".v1\""),
        ("hello", "expected NAME:TAG"),
    ] {
        let status = tag(&cluster, reference, &digest)
            .await
            .expect_failure(400, "BadRequest");
        assert!(
            text(&status, "/message").contains(problem),
            "{reference}: {status}"
        );
    }
    let status = tag(&cluster, "hello:v1", "sha256:1234")
        .await
        .expect_failure(400, "BadRequest");
    assert!(text(&status, "/message").starts_with("invalid digest"));
    let status = cluster
        .request(
            Method::PUT,
            "/wasmkube/v1/images/hello:v1",
            &[("content-type", "application/json")],
            "{\"image\": 1}",
        )
        .await
        .expect_failure(400, "BadRequest");
    assert!(text(&status, "/message").contains("digest"), "{status}");

    let absent = Digest::of_bytes(COMPONENT);
    let status = tag(&cluster, "hello:v1", &absent.to_string())
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(status["message"], format!("blob \"{absent}\" not found"));

    let status = cluster
        .get("/wasmkube/v1/images/hello:v1")
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(
        status["message"],
        "image \"hello:v1\" not found in the cluster's image store"
    );
    assert_eq!(
        cluster.get("/wasmkube/v1/images").await.expect(200),
        json!({"items": []})
    );
}

/// Every file under `directory`, recursively.
fn files_under(directory: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}

/// PUTs `body` to a control plane that is not a support `Cluster`, for the tests that
/// need to know its data directory.
async fn put_status(plane: &ControlPlane, path: &str, body: &'static [u8]) -> StatusCode {
    let client = crate::tls::admin_client::<Full<Bytes>>(plane);
    let request = http::Request::put(format!("{}{path}", plane.url()))
        .body(Full::new(Bytes::from_static(body)))
        .expect("a well-formed request");
    client
        .request(request)
        .await
        .unwrap_or_else(|error| panic!("PUT {path}: {error}"))
        .status()
}

#[tokio::test]
async fn a_refused_upload_leaves_no_file_behind_nor_does_a_crashed_one() {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let blobs = data_dir.path().join("images").join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).expect("the blob directory");
    // What an upload interrupted by a crash leaves; the store removes it when it opens.
    std::fs::write(blobs.join(".tmp-crashed"), b"\0asm half").expect("a leftover file");
    let plane = start(ControlPlaneOptions {
        data_dir: data_dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        api: ApiOptions::default(),
        compaction_interval: Duration::from_secs(24 * 60 * 60),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    let images = data_dir.path().join("images");
    assert_eq!(files_under(&images), Vec::<String>::new());

    let claimed = Digest::of_bytes(COMPONENT);
    let refused = put_status(&plane, &blob_path(&claimed), EMPTY_MODULE).await;
    assert_eq!(refused, StatusCode::BAD_REQUEST);
    let not_wasm = put_status(&plane, &blob_path(&claimed), b"MZ\x90\0").await;
    assert_eq!(not_wasm, StatusCode::BAD_REQUEST);
    assert_eq!(files_under(&images), Vec::<String>::new());

    let accepted = put_status(&plane, &blob_path(&claimed), COMPONENT).await;
    assert_eq!(accepted, StatusCode::CREATED);
    let blob = blobs.join(claimed.hex());
    assert_eq!(
        files_under(&images),
        vec![blob.display().to_string()],
        "only the blob, named by its digest"
    );
    assert_eq!(std::fs::read(&blob).expect("the blob"), COMPONENT);
}
