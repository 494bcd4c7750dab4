//! Pull policies and the cache: what is asked of the cluster's image store, what is kept
//! on disk, and what is refused.

use std::collections::HashSet;
use std::fs;

use wasmkube_images::{Digest, ImageCache, ImageError, PullError, PullPolicy};

use crate::support::{InMemoryClusterStore, wasm_module};

/// The names of the files in the cache's blob directory.
fn blob_file_names(cache_directory: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cache_directory.join("blobs").join("sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_pulled_module_is_stored_under_its_digest_and_reused() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let module = wasm_module("hello 1.0");
    let digest = cluster.push("team/hello", "1.0", &module);

    let first = cache
        .pull("team/hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(first.digest, digest);
    assert_eq!(first.size_in_bytes, module.len() as u64);
    assert_eq!(
        first.path,
        directory
            .path()
            .join("blobs")
            .join("sha256")
            .join(digest.hex())
    );
    assert_eq!(fs::read(&first.path).unwrap(), module);
    assert_eq!((cluster.resolves(), cluster.fetches()), (1, 1));

    let second = cache
        .pull("team/hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(second, first);
    assert_eq!(
        (cluster.resolves(), cluster.fetches()),
        (1, 1),
        "IfNotPresent must use the cached tag without asking the store"
    );
    assert_eq!(blob_file_names(directory.path()), vec![digest.hex()]);
    assert_eq!(
        fs::read_dir(directory.path().join("tmp")).unwrap().count(),
        0,
        "no temporary file is left behind"
    );
}

#[tokio::test]
async fn always_resolves_the_tag_every_time_but_fetches_each_digest_once() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let first_digest = cluster.push("hello", "latest", &wasm_module("first"));

    for _ in 0..2 {
        let pulled = cache
            .pull("hello", PullPolicy::Always, &cluster)
            .await
            .unwrap();
        assert_eq!(pulled.digest, first_digest);
    }
    assert_eq!((cluster.resolves(), cluster.fetches()), (2, 1));

    let second_digest = cluster.push("hello", "latest", &wasm_module("second"));
    let pulled = cache
        .pull("hello", PullPolicy::Always, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, second_digest, "a moved tag is followed");
    assert_eq!((cluster.resolves(), cluster.fetches()), (3, 2));
}

#[tokio::test]
async fn if_not_present_keeps_the_recorded_digest_until_always_moves_it() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let old_digest = cluster.push("hello", "1.0", &wasm_module("old"));
    cache
        .pull("hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    let new_digest = cluster.push("hello", "1.0", &wasm_module("new"));

    let kept = cache
        .pull("hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(kept.digest, old_digest);
    let moved = cache
        .pull("hello:1.0", PullPolicy::Always, &cluster)
        .await
        .unwrap();
    assert_eq!(moved.digest, new_digest);
    let recorded = cache
        .pull("hello:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap();
    assert_eq!(
        recorded.digest, new_digest,
        "the tag record follows the last pull"
    );
    assert_eq!((cluster.resolves(), cluster.fetches()), (2, 2));
}

#[tokio::test]
async fn never_without_a_local_copy_is_err_image_never_pull() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let digest = cluster.push("hello", "1.0", &wasm_module("hello"));

    let error = cache
        .pull("hello:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ErrImageNeverPull");
    assert_eq!(
        error.to_string(),
        "Container image \"hello:1.0\" is not present with pull policy of Never"
    );
    let pinned = format!("hello@{digest}");
    let error = cache
        .pull(&pinned, PullPolicy::Never, &cluster)
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::NeverPull { image } if image == pinned));
    assert_eq!((cluster.resolves(), cluster.fetches()), (0, 0));

    cache
        .pull(&pinned, PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    let pulled = cache
        .pull(&pinned, PullPolicy::Never, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled.digest, digest);
    let error = cache
        .pull("hello:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImageError::NeverPull { .. }),
        "a cached module does not make a tag present that was never pulled: {error}"
    );
    assert_eq!((cluster.resolves(), cluster.fetches()), (0, 1));
}

#[tokio::test]
async fn a_pinned_digest_is_fetched_once_under_every_policy() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let digest = cluster.push("hello", "1.0", &wasm_module("pinned"));
    let image = format!("team/whatever:2.0@{digest}");
    for policy in [
        PullPolicy::Always,
        PullPolicy::IfNotPresent,
        PullPolicy::Always,
    ] {
        let pulled = cache.pull(&image, policy, &cluster).await.unwrap();
        assert_eq!(pulled.digest, digest);
    }
    assert_eq!((cluster.resolves(), cluster.fetches()), (0, 1));
}

#[tokio::test]
async fn a_missing_tag_reads_like_the_kubelet() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let error = cache
        .pull("hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ErrImagePull");
    assert_eq!(
        error.to_string(),
        "failed to pull image \"hello:1.0\": image \"hello:1.0\" not found in the cluster's image store"
    );
}

#[tokio::test]
async fn bytes_that_do_not_match_their_digest_are_not_stored() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let claimed = Digest::of_bytes(&wasm_module("claimed"));
    let served = wasm_module("served");
    cluster.push_corrupt("hello", "1.0", claimed, &served);

    let error = cache
        .pull("hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ErrImagePull");
    assert_eq!(
        error.to_string(),
        format!(
            "failed to pull image \"hello:1.0\": digest mismatch: expected {claimed}, got {}",
            Digest::of_bytes(&served)
        )
    );
    assert!(blob_file_names(directory.path()).is_empty());
    let error = cache
        .pull("hello:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ImageError::NeverPull { .. }),
        "a failed pull records no tag: {error}"
    );
}

#[tokio::test]
async fn something_other_than_webassembly_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    cluster.push("script", "1.0", b"#!/bin/sh\necho hello\n");
    let error = cache
        .pull("script:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ImageError::Pull {
            source: PullError::NotWebAssembly,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "failed to pull image \"script:1.0\": not a WebAssembly module or component (no \\0asm header)"
    );
    assert!(blob_file_names(directory.path()).is_empty());
}

#[tokio::test]
async fn the_cache_outlives_the_node_process() {
    let directory = tempfile::tempdir().unwrap();
    let cluster = InMemoryClusterStore::default();
    let digest = cluster.push("hello", "1.0", &wasm_module("kept"));
    let pulled = ImageCache::open(directory.path())
        .unwrap()
        .pull("hello:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();

    let reopened = ImageCache::open(directory.path()).unwrap();
    let empty_cluster = InMemoryClusterStore::default();
    for policy in [PullPolicy::IfNotPresent, PullPolicy::Never] {
        let again = reopened
            .pull("hello:1.0", policy, &empty_cluster)
            .await
            .unwrap();
        assert_eq!(again, pulled);
        assert_eq!(again.digest, digest);
    }
    assert_eq!((empty_cluster.resolves(), empty_cluster.fetches()), (0, 0));
}

#[tokio::test]
async fn unused_images_are_removed_with_their_tags() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let used = cluster.push("used", "1.0", &wasm_module("used"));
    let unused = cluster.push("team/unused", "1.0", &wasm_module("unused"));
    for image in ["used:1.0", "team/unused:1.0"] {
        cache
            .pull(image, PullPolicy::IfNotPresent, &cluster)
            .await
            .unwrap();
    }

    let removed = cache.remove_unused(&HashSet::from([used])).unwrap();
    assert_eq!(removed, 1);
    assert_eq!(blob_file_names(directory.path()), vec![used.hex()]);
    assert!(!directory.path().join("tags").join("team%2Funused").exists());
    let error = cache
        .pull("team/unused:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::NeverPull { .. }), "{error}");
    cache
        .pull("used:1.0", PullPolicy::Never, &cluster)
        .await
        .unwrap();

    let pulled_again = cache
        .pull("team/unused:1.0", PullPolicy::IfNotPresent, &cluster)
        .await
        .unwrap();
    assert_eq!(pulled_again.digest, unused);
    assert_eq!(
        cache.remove_unused(&HashSet::from([used, unused])).unwrap(),
        0
    );
}

#[test]
fn a_cache_that_cannot_be_created_says_where() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("not-a-directory");
    fs::write(&file, b"").unwrap();
    let Err(error) = ImageCache::open(&file) else {
        panic!("a file is not a cache directory");
    };
    assert_eq!(error.reason(), "ErrImagePull");
    assert!(
        error.to_string().starts_with(&format!(
            "the node's image cache at {} cannot be used: ",
            file.display()
        )),
        "{error}"
    );
}
