//! hostPath volumes: only under the node's allowed prefixes, after resolving symlinks, and only
//! directories.

use std::collections::HashMap;
use std::fs;

use serde_json::json;

use crate::support::{MapSources, TestNode, container, pod_with_volumes};

/// A node allowing `<temp>/allowed`, with `<temp>/forbidden` next to it.
fn node_with_allowed_dir() -> TestNode {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let allowed = temp.path().join("allowed");
    fs::create_dir_all(&allowed).expect("created");
    fs::create_dir_all(temp.path().join("forbidden")).expect("created");
    let mut node = TestNode::allowing(vec![allowed]);
    node.temp = temp;
    node
}

#[tokio::test]
async fn an_allowed_directory_is_mounted_as_it_is_and_honours_read_only() {
    let node = node_with_allowed_dir();
    let data = node.temp.path().join("allowed/data");
    fs::create_dir(&data).expect("created");
    let pod = pod_with_volumes(
        json!([{"name": "host", "hostPath": {"path": data, "type": "Directory"}}]),
    );
    let volumes = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");
    let app = container(json!({"name": "app", "volumeMounts": [
        {"name": "host", "mountPath": "/host", "readOnly": true},
    ]}));
    let mounts = volumes.mounts(&app, &HashMap::new()).expect("mounted");
    assert_eq!(
        mounts[0].host_dir,
        fs::canonicalize(&data).expect("canonical")
    );
    assert!(mounts[0].read_only);
}

#[tokio::test]
async fn missing_directories_are_created_for_directory_or_create_and_the_empty_type() {
    let node = node_with_allowed_dir();
    for (name, type_name) in [("a", "DirectoryOrCreate"), ("b", "")] {
        let path = node.temp.path().join("allowed/new").join(name);
        let pod = pod_with_volumes(
            json!([{"name": "host", "hostPath": {"path": path, "type": type_name}}]),
        );
        node.prepare(&pod, &MapSources::default())
            .await
            .expect("prepared");
        assert!(path.is_dir(), "{type_name:?}");
    }
    let missing = node.temp.path().join("allowed/missing");
    let pod = pod_with_volumes(
        json!([{"name": "host", "hostPath": {"path": missing, "type": "Directory"}}]),
    );
    let error = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect_err("must exist");
    assert_eq!(
        error.short_message(),
        format!(
            "hostPath type check failed: {} is not a directory",
            missing.display()
        )
    );
    assert!(!missing.exists());
}

#[tokio::test]
async fn paths_outside_the_allowed_prefixes_are_refused_even_through_symlinks() {
    let node = node_with_allowed_dir();
    let allowed = node.temp.path().join("allowed");
    let forbidden = node.temp.path().join("forbidden");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&forbidden, allowed.join("sneaky")).expect("linked");
    let prefix = format!("{:?}", allowed.display().to_string());
    let mut paths = vec![forbidden.clone(), node.temp.path().join("allowed-not")];
    if cfg!(unix) {
        paths.push(allowed.join("sneaky"));
        paths.push(allowed.join("sneaky/new-dir"));
    }
    for path in paths {
        let pod = pod_with_volumes(
            json!([{"name": "host", "hostPath": {"path": path, "type": "DirectoryOrCreate"}}]),
        );
        let error = node
            .prepare(&pod, &MapSources::default())
            .await
            .expect_err("not allowed");
        assert_eq!(
            error.to_string(),
            format!(
                "MountVolume.SetUp failed for volume \"host\" : the node does not allow hostPath {:?}: the allowed prefixes are {prefix}",
                path.display().to_string()
            )
        );
    }
    assert!(
        !forbidden.join("new-dir").exists(),
        "nothing was created outside"
    );
    assert!(!node.temp.path().join("allowed-not").exists());

    let closed = TestNode::new();
    let pod = pod_with_volumes(json!([{"name": "host", "hostPath": {"path": allowed}}]));
    let error = closed
        .prepare(&pod, &MapSources::default())
        .await
        .expect_err("nothing allowed");
    assert!(
        error
            .short_message()
            .ends_with(": this node allows no hostPath volumes"),
        "{error}"
    );
}

#[tokio::test]
async fn files_sockets_and_devices_are_refused_because_preopens_are_directories() {
    let node = node_with_allowed_dir();
    let file = node.temp.path().join("allowed/file");
    fs::write(&file, "x").expect("written");
    for type_name in [
        "File",
        "FileOrCreate",
        "Socket",
        "CharDevice",
        "BlockDevice",
    ] {
        let pod = pod_with_volumes(
            json!([{"name": "host", "hostPath": {"path": file, "type": type_name}}]),
        );
        let error = node
            .prepare(&pod, &MapSources::default())
            .await
            .expect_err(type_name);
        assert_eq!(
            error.short_message(),
            format!(
                "hostPath type {type_name:?} is not supported: WASI preopens are directories, so a hostPath volume must be a directory (type \"\", \"Directory\" or \"DirectoryOrCreate\")"
            )
        );
    }
    let cases = [
        (json!({"path": file}), format!("hostPath {:?} is not a directory: WASI preopens are directories", file.display().to_string())),
        (json!({"path": file, "type": "Directory"}), format!("hostPath type check failed: {} is not a directory", file.display())),
        (json!({"path": "relative/dir"}), "hostPath \"relative/dir\" must be an absolute path".to_string()),
        (json!({"path": "/srv/../etc"}), "hostPath \"/srv/../etc\" must not contain '..'".to_string()),
        (json!({"path": "/srv", "type": "Weird"}), "hostPath type \"Weird\" is unknown: supported values: \"\", \"DirectoryOrCreate\", \"Directory\", \"FileOrCreate\", \"File\", \"Socket\", \"CharDevice\", \"BlockDevice\"".to_string()),
    ];
    for (source, expected) in cases {
        let pod = pod_with_volumes(json!([{"name": "host", "hostPath": source}]));
        let error = node
            .prepare(&pod, &MapSources::default())
            .await
            .expect_err(&expected);
        assert_eq!(error.short_message(), expected);
    }
}
