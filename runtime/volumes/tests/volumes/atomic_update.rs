//! The atomic writer's layout and updates: what a running container sees when a configMap
//! changes, and what is left on disk afterwards.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::support::{MapSources, TestNode, entries, pod_with_volumes, read};

fn timestamped_dirs(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|name| name.starts_with("..") && name != "..data")
        .collect()
}

fn data_target(dir: &Path) -> PathBuf {
    fs::read_link(dir.join("..data")).expect("..data is a link")
}

#[tokio::test]
async fn the_layout_is_the_kubelets_with_relative_links() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("app.yaml", "v1")], &[]);
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "settings"}}]));
    node.prepare(&pod, &sources).await.expect("prepared");

    let dir = node.volume_dir("cfg");
    let stamped = timestamped_dirs(&dir);
    assert_eq!(stamped.len(), 1, "{stamped:?}");
    let name = &stamped[0];
    // ..2026_11_22_10_00_00.123456789: date, time and nanoseconds.
    let shape: String = name
        .chars()
        .map(|character| {
            if character.is_ascii_digit() {
                '9'
            } else {
                character
            }
        })
        .collect();
    assert_eq!(shape, "..9999_99_99_99_99_99.999999999", "{name}");
    assert_eq!(data_target(&dir), Path::new(name));
    assert_eq!(
        fs::read_link(dir.join("app.yaml")).expect("a link"),
        Path::new("..data/app.yaml")
    );
    assert!(dir.join(name).join("app.yaml").is_file());
    assert_eq!(
        entries(&dir),
        vec![name.clone(), "..data".to_string(), "app.yaml".to_string()]
    );
}

#[tokio::test]
async fn refresh_swaps_in_new_content_and_removes_the_old_version() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("app.yaml", "v1"), ("old-key", "bye")], &[]);
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "settings"}}]));
    let volumes = node.prepare(&pod, &sources).await.expect("prepared");
    let dir = node.volume_dir("cfg");
    let first = data_target(&dir);

    assert!(
        !volumes.refresh(&pod, &sources).await.expect("refreshed"),
        "nothing changed"
    );
    assert_eq!(
        data_target(&dir),
        first,
        "an unchanged volume is not rewritten"
    );

    sources.put_config_map("settings", &[("app.yaml", "v2"), ("new-key", "hi")], &[]);
    assert!(volumes.refresh(&pod, &sources).await.expect("refreshed"));
    let second = data_target(&dir);
    assert_ne!(second, first);
    assert_eq!(read(&dir.join("app.yaml")), "v2");
    assert_eq!(read(&dir.join("new-key")), "hi");
    assert!(
        fs::symlink_metadata(dir.join("old-key")).is_err(),
        "the removed key's link is gone"
    );
    assert_eq!(
        timestamped_dirs(&dir),
        vec![second.to_string_lossy().into_owned()]
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_previous_files() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("app.yaml", "v1")], &[]);
    let pod = pod_with_volumes(json!([
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
    ]));
    let volumes = node.prepare(&pod, &sources).await.expect("prepared");

    sources.delete_config_map("settings");
    let mut relabelled = pod.clone();
    relabelled.metadata.labels = Some([("tier".to_string(), "web".to_string())].into());
    let error = volumes
        .refresh(&relabelled, &sources)
        .await
        .expect_err("the configMap is gone");
    assert_eq!(
        error.to_string(),
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"settings\" not found"
    );
    assert_eq!(read(&node.volume_dir("cfg").join("app.yaml")), "v1");
    assert_eq!(
        read(&node.volume_dir("info").join("labels")),
        "tier=\"web\"",
        "other volumes are still refreshed"
    );
}

#[tokio::test]
async fn preparing_again_cleans_what_a_crash_left_behind() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("app.yaml", "v1")], &[]);
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "settings"}}]));
    node.prepare(&pod, &sources).await.expect("prepared");
    let dir = node.volume_dir("cfg");
    let current = data_target(&dir);
    // A crash between writing a new version and switching to it leaves both behind.
    fs::create_dir(dir.join("..2020_01_01_00_00_00.000000001")).expect("created");
    #[cfg(unix)]
    std::os::unix::fs::symlink("..2020_01_01_00_00_00.000000001", dir.join("..data_tmp"))
        .expect("linked");

    node.prepare(&pod, &sources).await.expect("prepared again");
    assert_eq!(data_target(&dir), current);
    assert_eq!(
        timestamped_dirs(&dir),
        vec![current.to_string_lossy().into_owned()]
    );
}

/// Readers opening the file during many updates see one whole version or the other, never a
/// mix or a partial file. A reader may find no file in the instant the old version is removed
/// under it, exactly as with the kubelet; that is retried, not counted as content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_the_old_or_the_new_content_never_a_mix() {
    let node = TestNode::new();
    let sources = MapSources::default();
    let old_content = "old ".repeat(20_000);
    let new_content = "new ".repeat(30_000);
    sources.put_config_map("settings", &[("big", &old_content)], &[]);
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "settings"}}]));
    let volumes = node.prepare(&pod, &sources).await.expect("prepared");
    let file = node.volume_dir("cfg").join("big");

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, file) = (stop.clone(), file.clone());
        let (old_content, new_content) = (old_content.clone(), new_content.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                match fs::read_to_string(&file) {
                    Ok(content) => {
                        assert!(
                            content == old_content || content == new_content,
                            "a mixed read of {} bytes",
                            content.len()
                        );
                        reads += 1;
                    }
                    Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}"),
                }
            }
            reads
        })
    };
    for round in 0..100 {
        let content = if round % 2 == 0 {
            &new_content
        } else {
            &old_content
        };
        sources.put_config_map("settings", &[("big", content)], &[]);
        assert!(volumes.refresh(&pod, &sources).await.expect("refreshed"));
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("the reader saw no mixed content");
    assert!(reads > 0);
    assert_eq!(read(&file), old_content);
}
