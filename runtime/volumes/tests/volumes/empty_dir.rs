//! emptyDir volumes: shared, persistent across preparations, removed with the pod, and
//! measured against their sizeLimit.

use std::collections::HashMap;
use std::fs;

use serde_json::json;
use wasmkube_volumes::{directory_usage_bytes, pod_volume_dirs, remove_pod_volumes};

use crate::support::{MapSources, POD_UID, TestNode, container, pod_with_spec, pod_with_volumes};

#[tokio::test]
async fn two_containers_share_one_directory_that_survives_a_second_prepare() {
    let node = TestNode::new();
    let pod = pod_with_spec(json!({
        "containers": [
            {"name": "writer", "image": "w:1", "volumeMounts": [{"name": "scratch", "mountPath": "/out"}]},
            {"name": "reader", "image": "r:1", "volumeMounts": [{"name": "scratch", "mountPath": "/in", "readOnly": true}]},
        ],
        "volumes": [{"name": "scratch", "emptyDir": {}}],
    }));
    let sources = MapSources::default();
    let volumes = node.prepare(&pod, &sources).await.expect("prepared");
    let spec = pod.spec.as_ref().expect("a spec");
    let writer = volumes
        .mounts(&spec.containers[0], &HashMap::new())
        .expect("writer mounts");
    let reader = volumes
        .mounts(&spec.containers[1], &HashMap::new())
        .expect("reader mounts");
    assert_eq!(writer[0].host_dir, reader[0].host_dir);
    assert_eq!(writer[0].host_dir, node.volume_dir("scratch"));
    assert_eq!(
        (writer[0].guest_path.as_str(), writer[0].read_only),
        ("/out", false)
    );
    assert_eq!(
        (reader[0].guest_path.as_str(), reader[0].read_only),
        ("/in", true)
    );

    fs::write(writer[0].host_dir.join("result.txt"), "done").expect("written");
    // A node-agent restart prepares the pod again; nothing written so far may be lost.
    node.prepare(&pod, &sources).await.expect("prepared again");
    assert_eq!(
        fs::read_to_string(reader[0].host_dir.join("result.txt")).expect("still there"),
        "done"
    );
}

#[tokio::test]
async fn remove_pod_volumes_deletes_the_content_and_pod_volume_dirs_lists_what_is_left() {
    let node = TestNode::new();
    assert_eq!(
        pod_volume_dirs(&node.host).expect("listed"),
        Vec::<String>::new()
    );
    let pod = pod_with_volumes(json!([{"name": "scratch", "emptyDir": {"medium": "Memory"}}]));
    node.prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");
    fs::create_dir(node.volume_dir("scratch").join("nested")).expect("created");
    fs::write(node.volume_dir("scratch").join("nested/file"), "x").expect("written");
    // Something of another part of the agent in the pod's directory is not the volumes' to delete.
    fs::write(node.host.pods_dir.join(POD_UID).join("other-owner"), "x").expect("written");
    assert_eq!(
        pod_volume_dirs(&node.host).expect("listed"),
        vec![POD_UID.to_string()]
    );

    remove_pod_volumes(&node.host, POD_UID).expect("removed");
    assert!(!node.host.pods_dir.join(POD_UID).join("volumes").exists());
    assert!(
        node.host
            .pods_dir
            .join(POD_UID)
            .join("other-owner")
            .exists()
    );
    assert_eq!(
        pod_volume_dirs(&node.host).expect("listed"),
        Vec::<String>::new()
    );

    fs::remove_file(node.host.pods_dir.join(POD_UID).join("other-owner")).expect("removed");
    remove_pod_volumes(&node.host, POD_UID).expect("removing again succeeds");
    assert!(
        !node.host.pods_dir.join(POD_UID).exists(),
        "an empty pod directory goes too"
    );
    let error = remove_pod_volumes(&node.host, "../escape").expect_err("not a pod uid");
    assert!(
        error
            .to_string()
            .contains("must be a single path component"),
        "{error}"
    );
}

#[tokio::test]
async fn a_volume_without_a_type_is_an_empty_dir_as_kubernetes_defaults_it() {
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([{"name": "plain"}]));
    node.prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");
    assert!(node.volume_dir("plain").is_dir());
}

#[tokio::test]
async fn usage_over_the_size_limit_is_reported_with_the_kubelets_eviction_message() {
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([
        {"name": "small", "emptyDir": {"sizeLimit": "1Mi"}},
        {"name": "large", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "unlimited", "emptyDir": {}},
    ]));
    let volumes = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");
    fs::write(node.volume_dir("large").join("data"), vec![7u8; 2 << 20]).expect("written");
    fs::write(
        node.volume_dir("unlimited").join("data"),
        vec![7u8; 2 << 20],
    )
    .expect("written");
    fs::write(node.volume_dir("small").join("data"), vec![7u8; 512 << 10]).expect("written");
    assert_eq!(
        volumes.empty_dir_usage_over_limit(),
        None,
        "every volume is within its limit"
    );

    fs::write(node.volume_dir("small").join("more"), vec![7u8; 1 << 20]).expect("written");
    let over = volumes
        .empty_dir_usage_over_limit()
        .expect("over the limit");
    assert_eq!(over.volume_name, "small");
    assert_eq!(over.limit, "1Mi");
    assert!(over.used_bytes > 1 << 20, "{}", over.used_bytes);
    assert_eq!(
        over.eviction_message(),
        "Usage of EmptyDir volume \"small\" exceeds the limit \"1Mi\". "
    );
}

#[test]
fn usage_counts_blocks_once_per_hard_link_and_never_follows_symlinks() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let outside = temp.path().join("outside");
    fs::write(&outside, vec![1u8; 4 << 20]).expect("written");
    let tree = temp.path().join("tree");
    fs::create_dir_all(tree.join("a/b/c")).expect("created");
    let empty_usage = directory_usage_bytes(&tree).expect("measured");

    fs::write(tree.join("a/b/c/file"), vec![1u8; 1 << 20]).expect("written");
    let with_file = directory_usage_bytes(&tree).expect("measured");
    assert!(
        with_file >= empty_usage + (1 << 20),
        "{with_file} after {empty_usage}"
    );

    fs::hard_link(tree.join("a/b/c/file"), tree.join("a/hard-link")).expect("linked");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, tree.join("a/b/to-outside")).expect("linked");
    let with_links = directory_usage_bytes(&tree).expect("measured");
    assert!(
        with_links < with_file + (64 << 10),
        "the hard link and the symlink add almost nothing: {with_links} against {with_file}"
    );
}

#[tokio::test]
async fn unknown_media_and_bad_size_limits_are_refused() {
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([{"name": "huge", "emptyDir": {"medium": "HugePages"}}]));
    let error = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "MountVolume.SetUp failed for volume \"huge\" : emptyDir medium \"HugePages\" is not supported by wasmkube (supported: \"\" and \"Memory\")"
    );
    let pod = pod_with_volumes(json!([{"name": "bad", "emptyDir": {"sizeLimit": "lots"}}]));
    let error = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect_err("refused");
    assert!(
        error
            .short_message()
            .starts_with("invalid emptyDir sizeLimit \"lots\": "),
        "{error}"
    );
}

#[tokio::test]
async fn mounting_a_volume_the_pod_does_not_have_names_it() {
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([{"name": "scratch", "emptyDir": {}}]));
    let volumes = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");
    let app =
        container(json!({"name": "app", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}));
    let error = volumes
        .mounts(&app, &HashMap::new())
        .expect_err("no such volume");
    assert_eq!(
        error.to_string(),
        "cannot find volume \"nope\" to mount into container \"app\""
    );
}
