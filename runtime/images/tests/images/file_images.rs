//! `file://` images: modules read from the node's own files.

use std::fs;
use std::time::{Duration, SystemTime};

use wasmkube_images::{Digest, ImageCache, PullPolicy};

use crate::support::{InMemoryClusterStore, wasm_module};

/// `file://` + the path, as a container names it.
fn file_image(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

/// Sets a file's modification time.
fn set_modified(path: &std::path::Path, modified: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

#[tokio::test]
async fn a_file_image_is_hashed_and_stored_under_its_digest() {
    let cache_directory = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let module = wasm_module("from a file");
    let path = modules.path().join("app.wasm");
    fs::write(&path, &module).unwrap();

    let pulled = cache
        .pull(&file_image(&path), PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&module));
    assert_eq!(pulled.size_in_bytes, module.len() as u64);
    assert!(pulled.path.starts_with(cache_directory.path()));
    assert_eq!(fs::read(&pulled.path).unwrap(), module);
    assert_eq!((cluster.resolves(), cluster.fetches()), (0, 0));
}

#[tokio::test]
async fn a_file_changed_on_disk_is_a_new_image_under_every_policy() {
    let cache_directory = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let path = modules.path().join("app.wasm");
    let first = wasm_module("version a");
    let second = wasm_module("version b");
    assert_eq!(
        first.len(),
        second.len(),
        "the same length, so only the content tells"
    );

    fs::write(&path, &first).unwrap();
    let pulled = cache
        .pull(&file_image(&path), PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&first));

    fs::write(&path, &second).unwrap();
    for policy in [
        PullPolicy::IfNotPresent,
        PullPolicy::Never,
        PullPolicy::Always,
    ] {
        let pulled = cache
            .pull(&file_image(&path), policy, &cluster)
            .await
            .unwrap();
        assert_eq!(pulled.digest, Digest::of_bytes(&second), "policy {policy}");
    }
}

#[tokio::test]
async fn a_settled_file_is_hashed_again_only_when_its_stamp_changes() {
    let cache_directory = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let path = modules.path().join("app.wasm");
    let first = wasm_module("version a");
    let second = wasm_module("version b");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);

    fs::write(&path, &first).unwrap();
    set_modified(&path, an_hour_ago);
    let pulled = cache
        .pull(&file_image(&path), PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&first));

    // The same length and modification time: the file is taken to be unchanged.
    fs::write(&path, &second).unwrap();
    set_modified(&path, an_hour_ago);
    let pulled = cache
        .pull(&file_image(&path), PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&first));

    set_modified(&path, an_hour_ago + Duration::from_secs(1));
    let pulled = cache
        .pull(&file_image(&path), PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, Digest::of_bytes(&second));
}

#[cfg(unix)]
#[tokio::test]
async fn a_missing_file_names_the_file_and_the_reason() {
    let cache_directory = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let image = file_image(&modules.path().join("missing.wasm"));
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
        format!("failed to pull image \"{image}\": {image}: No such file or directory")
    );
}

#[tokio::test]
async fn a_file_that_is_not_webassembly_is_refused() {
    let cache_directory = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(cache_directory.path()).unwrap();
    let path = modules.path().join("app.wasm");
    fs::write(&path, b"MZ\x90\0 a Windows program").unwrap();
    let error = cache
        .pull(
            &file_image(&path),
            PullPolicy::IfNotPresent,
            &InMemoryClusterStore::default(),
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with(": not a WebAssembly module or component (no \\0asm header)"),
        "{error}"
    );
}
