use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::images::{Digest, ImageReference, ImageStore};
use crate::store::{ObjectKey, RedbStore, Storage, StoreError, WriteRequest};

const WASM: &[u8] = b"\0asm\x01\0\0\0";

fn config_map(name: &str, value: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop"},
        "data": {"value": value},
    })
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("configmaps", "shop", name)
}

async fn create(store: &RedbStore, name: &str, value: &str) -> u64 {
    store
        .write(WriteRequest::Create {
            key: key(name),
            object: config_map(name, value),
        })
        .await
        .expect("the create is stored")
        .revision
}

/// A source data directory: a store with a few objects, an image store with one image
/// under two tags, and identity files. Returns the backup's bytes and its revision.
async fn back_up_a_cluster(source: &Path) -> (Vec<u8>, u64) {
    let store = Arc::new(RedbStore::open(&source.join(STORE_FILE)).expect("the store opens"));
    create(&store, "kept", "1").await;
    let deleted = create(&store, "deleted", "2").await;
    store
        .write(WriteRequest::Delete {
            key: key("deleted"),
            expected_revision: Some(deleted),
        })
        .await
        .expect("the delete is stored");
    let images = ImageStore::open(&source.join(IMAGES_DIRECTORY), 1024)
        .await
        .expect("the image store opens");
    let digest = Digest::of_bytes(WASM);
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(WASM))]);
    images.put_blob(&digest, body).await.expect("the blob");
    for reference in ["app:1", "app:latest"] {
        let reference = ImageReference::parse(reference).expect("a reference");
        images.tag(&reference, &digest).await.expect("the tag");
    }
    std::fs::create_dir_all(source.join("tls")).expect("the tls directory");
    for file in IDENTITY_FILES {
        std::fs::write(source.join(file.path), format!("secret of {}", file.path))
            .expect("an identity file");
    }
    let runtime = tokio::runtime::Handle::current();
    let source = source.to_path_buf();
    let snapshot_store = Arc::clone(&store);
    let (bytes, summary) = tokio::task::spawn_blocking(move || {
        let (online, _) =
            write_cluster_snapshot(snapshot_store.as_ref(), &images, &runtime, Vec::new())
                .expect("the snapshot is written");
        let (bytes, _, summary) = copy_backup(online.as_slice(), Vec::new(), Some(&source))
            .expect("the identity files are added");
        (bytes, summary)
    })
    .await
    .expect("the snapshot task");
    assert_eq!(
        summary,
        BackupSummary {
            objects: 1,
            image_tags: 2,
            blobs: 1,
            blob_bytes: WASM.len() as u64,
            files: IDENTITY_FILES.len() as u64,
        }
    );
    (bytes, store.current_revision())
}

async fn restore(bytes: Vec<u8>, target: &Path) -> Result<RestoreReport, BackupError> {
    let runtime = tokio::runtime::Handle::current();
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || {
        restore_data_dir(bytes.as_slice(), &target, DEFAULT_REVISION_BUMP, &runtime)
    })
    .await
    .expect("the restore task")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_restores_objects_revision_images_and_identity() {
    let source = tempfile::tempdir().expect("a directory");
    let (bytes, revision) = back_up_a_cluster(source.path()).await;
    let target = tempfile::tempdir().expect("a directory");
    let target = target.path().join("restored");
    let report = restore(bytes, &target).await.expect("the backup restores");
    assert_eq!(report.header.revision, revision);
    assert_eq!(report.identity, RestoredIdentity::FromBackup);
    let restored_revision = revision + DEFAULT_REVISION_BUMP;
    assert_eq!(report.store.revision, restored_revision);

    let store = RedbStore::open(&target.join(STORE_FILE)).expect("the restored store opens");
    let kept = store
        .get(&key("kept"))
        .expect("a read")
        .expect("kept is back");
    assert_eq!(kept.object["data"]["value"], "1");
    assert_eq!(
        kept.object["metadata"]["resourceVersion"],
        kept.revision.to_string()
    );
    assert!(store.get(&key("deleted")).expect("a read").is_none());
    assert_eq!(store.current_revision(), restored_revision);
    assert_eq!(store.compacted_revision(), restored_revision);
    // A resourceVersion from before the restore is too old, as after a compaction.
    assert!(matches!(
        store.watch("configmaps/", revision),
        Err(StoreError::Compacted { .. })
    ));
    let next = create(&store, "after", "3").await;
    assert_eq!(next, restored_revision + 1);

    let images = ImageStore::open(&target.join(IMAGES_DIRECTORY), 1024)
        .await
        .expect("the restored image store opens");
    let listed = images.list().await.expect("the images are listed");
    let tags: Vec<String> = listed
        .iter()
        .map(|image| format!("{}:{}", image.name, image.tag))
        .collect();
    assert_eq!(tags, ["app:1", "app:latest"]);
    let digest = Digest::of_bytes(WASM);
    let blob = images.open_blob(&digest).await.expect("a read");
    assert_eq!(blob.map(|blob| blob.size), Some(WASM.len() as u64));

    for file in IDENTITY_FILES {
        let path = target.join(file.path);
        let content = std::fs::read_to_string(&path).expect("the identity file is there");
        assert_eq!(content, format!("secret of {}", file.path));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, file.mode, "{}", file.path);
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&target)
        .expect("the directory")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".restore-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_or_corrupt_backup_is_refused_and_changes_nothing() {
    let source = tempfile::tempdir().expect("a directory");
    let (bytes, _) = back_up_a_cluster(source.path()).await;
    let middle = bytes.len() / 2;
    let mut flipped = bytes.clone();
    flipped[middle] ^= 0x40;
    let mut extended = bytes.clone();
    extended.push(0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not a backup", b"apiVersion: v1\nkind: List\n".to_vec()),
        ("cut in the header", bytes[..30].to_vec()),
        ("cut in the middle", bytes[..middle].to_vec()),
        ("cut before the end", bytes[..bytes.len() - 1].to_vec()),
        ("a flipped bit", flipped),
        ("trailing bytes", extended),
    ];
    let parent = tempfile::tempdir().expect("a directory");
    let existing = parent.path().join("existing");
    std::fs::create_dir(&existing).expect("an empty data directory");
    for (case, content) in cases {
        let new = parent.path().join("new");
        let refused = restore(content.clone(), &new).await;
        assert!(refused.is_err(), "{case}: {refused:?}");
        assert!(!new.exists(), "{case}: the new directory is removed again");
        let refused = restore(content, &existing).await;
        assert!(refused.is_err(), "{case}: {refused:?}");
        let entries = std::fs::read_dir(&existing).expect("the directory").count();
        assert_eq!(
            entries, 0,
            "{case}: the existing directory is left as it was"
        );
    }
    let truncated = restore(bytes[..bytes.len() - 1].to_vec(), &existing).await;
    assert!(
        matches!(truncated, Err(BackupError::Truncated)),
        "{truncated:?}"
    );
    let not_a_backup = restore(b"hello".to_vec(), &existing).await;
    assert!(
        matches!(not_a_backup, Err(BackupError::NotABackup)),
        "{not_a_backup:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_refuses_a_directory_with_a_store_or_another_identity() {
    let source = tempfile::tempdir().expect("a directory");
    let (bytes, _) = back_up_a_cluster(source.path()).await;
    let refused = restore(bytes.clone(), source.path()).await;
    let message = refused
        .expect_err("a data directory with a store")
        .to_string();
    assert!(message.contains("already exists"), "{message}");

    let other = tempfile::tempdir().expect("a directory");
    std::fs::create_dir(other.path().join("tls")).expect("the tls directory");
    std::fs::write(other.path().join("tls/ca.crt"), "another cluster's CA").expect("a CA");
    let refused = restore(bytes, other.path()).await;
    let message = refused.expect_err("another cluster's CA").to_string();
    assert!(message.contains("another cluster's identity"), "{message}");
    assert!(!other.path().join(STORE_FILE).exists());
    assert!(!other.path().join(IMAGES_DIRECTORY).exists());
}
