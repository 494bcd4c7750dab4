//! configMap and secret volumes: keys, items, modes, optional sources and the kubelet's errors.

use std::fs;

use serde_json::json;

use crate::support::{MapSources, TestNode, entries, pod_with_volumes, read};

#[tokio::test]
async fn every_key_of_a_config_map_becomes_a_file_including_binary_data() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map(
        "settings",
        &[("app.yaml", "port: 8080\n"), ("mode", "fast")],
        &[("logo.bin", &[0, 159, 146, 150])],
    );
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "settings"}}]));
    node.prepare(&pod, &sources).await.expect("prepared");

    let dir = node.volume_dir("cfg");
    assert_eq!(read(&dir.join("app.yaml")), "port: 8080\n");
    assert_eq!(read(&dir.join("mode")), "fast");
    assert_eq!(
        fs::read(dir.join("logo.bin")).expect("read"),
        vec![0, 159, 146, 150]
    );
    #[cfg(unix)]
    assert_eq!(
        crate::support::mode(&dir.join("mode")),
        0o644,
        "Kubernetes' default mode"
    );
}

#[tokio::test]
async fn items_pick_keys_and_paths_and_only_the_top_level_component_is_linked() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map(
        "settings",
        &[("a", "alpha"), ("b", "beta"), ("unused", "x")],
        &[],
    );
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {
        "name": "settings",
        "defaultMode": 0o600,
        "items": [
            {"key": "a", "path": "conf/nested/a.txt", "mode": 0o400},
            {"key": "b", "path": "b.txt"},
        ],
    }}]));
    node.prepare(&pod, &sources).await.expect("prepared");

    let dir = node.volume_dir("cfg");
    let visible: Vec<String> = entries(&dir)
        .into_iter()
        .filter(|name| !name.starts_with(".."))
        .collect();
    assert_eq!(visible, vec!["b.txt", "conf"]);
    assert_eq!(
        fs::read_link(dir.join("conf")).expect("a link"),
        std::path::Path::new("..data/conf")
    );
    assert_eq!(read(&dir.join("conf/nested/a.txt")), "alpha");
    assert_eq!(read(&dir.join("b.txt")), "beta");
    #[cfg(unix)]
    {
        assert_eq!(
            crate::support::mode(&dir.join("conf/nested/a.txt")),
            0o400,
            "the item's mode"
        );
        assert_eq!(
            crate::support::mode(&dir.join("b.txt")),
            0o600,
            "the volume's defaultMode"
        );
    }
}

#[tokio::test]
async fn secrets_are_projected_decoded_with_their_modes() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_secret(
        "creds",
        &[("password", b"hunter2"), ("key.der", &[0x30, 0x82, 0xff])],
    );
    let pod = pod_with_volumes(
        json!([{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o440}}]),
    );
    node.prepare(&pod, &sources).await.expect("prepared");

    let dir = node.volume_dir("creds");
    assert_eq!(read(&dir.join("password")), "hunter2");
    assert_eq!(
        fs::read(dir.join("key.der")).expect("read"),
        vec![0x30, 0x82, 0xff]
    );
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&dir.join("password")), 0o440);
}

#[tokio::test]
async fn a_missing_optional_source_or_key_projects_nothing() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("partial", &[("present", "yes")], &[]);
    let pod = pod_with_volumes(json!([
        {"name": "absent", "configMap": {"name": "nowhere", "optional": true}},
        {"name": "gone", "secret": {"secretName": "nowhere", "optional": true}},
        {"name": "keys", "configMap": {"name": "partial", "optional": true, "items": [
            {"key": "present", "path": "present"},
            {"key": "missing", "path": "missing"},
        ]}},
    ]));
    node.prepare(&pod, &sources).await.expect("prepared");

    for name in ["absent", "gone"] {
        let visible: Vec<String> = entries(&node.volume_dir(name))
            .into_iter()
            .filter(|entry| !entry.starts_with(".."))
            .collect();
        assert!(visible.is_empty(), "{name}: {visible:?}");
    }
    assert_eq!(read(&node.volume_dir("keys").join("present")), "yes");
    assert!(!node.volume_dir("keys").join("missing").exists());
}

#[tokio::test]
async fn missing_sources_and_keys_fail_in_the_kubelets_words() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("a", "alpha")], &[]);
    sources.put_secret("creds", &[("user", b"admin")]);
    let cases = [
        (
            json!({"name": "cfg", "configMap": {"name": "absent"}}),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found",
        ),
        (
            json!({"name": "creds", "secret": {"secretName": "absent"}}),
            "MountVolume.SetUp failed for volume \"creds\" : secret \"absent\" not found",
        ),
        (
            json!({"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "zz", "path": "zz"}]}}),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap references non-existent config key: zz",
        ),
        (
            json!({"name": "creds", "secret": {"secretName": "creds", "items": [{"key": "pw", "path": "pw"}]}}),
            "MountVolume.SetUp failed for volume \"creds\" : references non-existent secret key: pw",
        ),
        (
            json!({"name": "creds", "secret": {}}),
            "MountVolume.SetUp failed for volume \"creds\" : secret volume has no secretName",
        ),
    ];
    for (volume, expected) in cases {
        let pod = pod_with_volumes(json!([volume]));
        let error = node.prepare(&pod, &sources).await.expect_err(expected);
        assert_eq!(error.to_string(), expected);
    }
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "absent"}}]));
    let error = node.prepare(&pod, &sources).await.expect_err("not found");
    assert_eq!(error.short_message(), "configmap \"absent\" not found");
}

#[tokio::test]
async fn item_paths_that_could_leave_the_volume_and_bad_modes_are_refused() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("a", "alpha")], &[]);
    let cases = [
        (
            "../escape",
            json!(null),
            "invalid path: must not contain '..': ../escape",
        ),
        (
            "conf/../../escape",
            json!(null),
            "invalid path: must not contain '..': conf/../../escape",
        ),
        (
            "/etc/passwd",
            json!(null),
            "invalid path: must be relative path: /etc/passwd",
        ),
        (
            "..data",
            json!(null),
            "invalid path: must not start with '..': ..data",
        ),
        (
            "./..data/a",
            json!(null),
            "invalid path: must not start with '..': ./..data/a",
        ),
        ("", json!(null), "invalid path: must not be empty: \"\""),
        (
            "a",
            json!(0o1000),
            "invalid mode 512 for path a: must be a number between 0 and 0777 (octal), both inclusive",
        ),
        (
            "a",
            json!(-1),
            "invalid mode -1 for path a: must be a number between 0 and 0777 (octal), both inclusive",
        ),
    ];
    for (path, mode, expected) in cases {
        let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {
            "name": "settings",
            "items": [{"key": "a", "path": path, "mode": mode}],
        }}]));
        let error = node.prepare(&pod, &sources).await.expect_err(expected);
        assert_eq!(error.short_message(), expected);
    }
    assert!(!node.temp.path().join("escape").exists());
    assert!(!node.host.pods_dir.join("escape").exists());
}
