//! A container's volumeMounts: guest paths, read-only rules, subPath and subPathExpr, and every
//! way a subPath could try to leave its volume.

use std::collections::HashMap;
use std::fs;

use serde_json::json;
use wasmkube_volumes::{Mount, PodVolumes};

use crate::support::{MapSources, TestNode, container, pod_with_volumes};

async fn prepared(node: &TestNode) -> PodVolumes {
    let sources = MapSources::default();
    sources.put_config_map("settings", &[("a", "alpha")], &[]);
    let pod = pod_with_volumes(json!([
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "a", "path": "conf/a"}]}},
    ]));
    node.prepare(&pod, &sources).await.expect("prepared")
}

fn mount_one(
    volumes: &PodVolumes,
    mount: serde_json::Value,
    env: &HashMap<String, String>,
) -> Result<Mount, String> {
    let app = container(json!({"name": "app", "volumeMounts": [mount]}));
    volumes
        .mounts(&app, env)
        .map(|mut mounts| mounts.remove(0))
        .map_err(|error| error.to_string())
}

#[tokio::test]
async fn projected_volumes_are_always_read_only_and_guest_paths_are_cleaned() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    let app = container(json!({"name": "app", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app/", "readOnly": false},
        {"name": "scratch", "mountPath": "//work/./dir"},
    ]}));
    let mounts = volumes.mounts(&app, &HashMap::new()).expect("mounted");
    assert_eq!(
        mounts,
        vec![
            Mount {
                guest_path: "/etc/app".to_string(),
                host_dir: node.volume_dir("cfg"),
                read_only: true
            },
            Mount {
                guest_path: "/work/dir".to_string(),
                host_dir: node.volume_dir("scratch"),
                read_only: false
            },
        ]
    );
}

#[tokio::test]
async fn bad_mount_paths_and_duplicates_are_refused() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    let cases = [
        (
            json!([{"name": "scratch", "mountPath": "data"}]),
            "container \"app\": volumeMounts[0].mountPath: Invalid value: \"data\": must be an absolute path",
        ),
        (
            json!([{"name": "scratch", "mountPath": "/a/../b"}]),
            "container \"app\": volumeMounts[0].mountPath: Invalid value: \"/a/../b\": must not contain '..'",
        ),
        (
            json!([{"name": "scratch", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/data/"}]),
            "container \"app\": volumeMounts[1].mountPath: Invalid value: \"/data/\": must be unique",
        ),
        (
            json!([{"name": "scratch", "mountPath": "/data", "subPath": "a", "subPathExpr": "$(X)"}]),
            "container \"app\": volumeMounts[0].subPathExpr: Invalid value: \"$(X)\": subPathExpr and subPath are mutually exclusive",
        ),
    ];
    for (mounts, expected) in cases {
        let app = container(json!({"name": "app", "volumeMounts": mounts}));
        let error = volumes.mounts(&app, &HashMap::new()).expect_err(expected);
        assert_eq!(error.to_string(), expected);
    }
}

#[tokio::test]
async fn a_missing_sub_path_is_created_inside_the_volume() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    let mount = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/logs", "subPath": "logs/app"}),
        &HashMap::new(),
    )
    .expect("mounted");
    let expected = fs::canonicalize(node.volume_dir("scratch"))
        .expect("canonical")
        .join("logs/app");
    assert_eq!(mount.host_dir, expected);
    assert!(expected.is_dir());

    // A directory reached through a symlink that stays inside the volume is fine.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("logs", node.volume_dir("scratch").join("current"))
            .expect("linked");
        let mount = mount_one(
            &volumes,
            json!({"name": "scratch", "mountPath": "/l", "subPath": "current/app"}),
            &HashMap::new(),
        )
        .expect("mounted");
        assert_eq!(mount.host_dir, expected);
        let mount = mount_one(
            &volumes,
            json!({"name": "cfg", "mountPath": "/conf", "subPath": "conf"}),
            &HashMap::new(),
        )
        .expect("a configMap directory through ..data");
        assert!(mount.host_dir.join("a").is_file());
        assert!(mount.read_only);
    }
}

#[tokio::test]
async fn sub_path_expressions_expand_the_containers_environment() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    let env = HashMap::from([
        ("POD_NAME".to_string(), "web-0".to_string()),
        ("EMPTY".to_string(), String::new()),
    ]);
    let mount = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/out", "subPathExpr": "pods/$(POD_NAME)"}),
        &env,
    )
    .expect("mounted");
    assert!(
        mount.host_dir.ends_with("pods/web-0"),
        "{}",
        mount.host_dir.display()
    );
    let error = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/out", "subPathExpr": "$(ZED)/$(EMPTY)/$(ZED)"}),
        &env,
    )
    .expect_err("undefined variables");
    assert_eq!(error, "missing value for EMPTY, ZED");
    let error = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/out", "subPathExpr": "$(POD_NAME)/../.."}),
        &env,
    )
    .expect_err("expanded to a backstep");
    assert_eq!(
        error,
        "unable to provision SubPath `web-0/../..`: must not contain '..'"
    );
}

#[tokio::test]
async fn sub_paths_that_leave_the_volume_are_refused() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    let scratch = node.volume_dir("scratch");
    let outside = node.temp.path().join("outside");
    fs::create_dir_all(outside.join("deeper")).expect("created");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, scratch.join("absolute-link")).expect("linked");
        std::os::unix::fs::symlink("../../../../outside", scratch.join("relative-link"))
            .expect("linked");
        fs::create_dir(scratch.join("dir")).expect("created");
        std::os::unix::fs::symlink("../..", scratch.join("dir/up")).expect("linked");
    }
    let refused = |sub_path: &str| {
        format!(
            "failed to prepare subPath for volumeMount \"scratch\" of container \"app\": subPath {sub_path:?} resolves outside the volume"
        )
    };
    let mut cases = vec![
        (
            "..".to_string(),
            "unable to provision SubPath `..`: must not contain '..'".to_string(),
        ),
        (
            "a/../../x".to_string(),
            "unable to provision SubPath `a/../../x`: must not contain '..'".to_string(),
        ),
        (
            "/etc".to_string(),
            "error SubPath `/etc` must not be an absolute path".to_string(),
        ),
    ];
    if cfg!(unix) {
        for sub_path in [
            "absolute-link",
            "absolute-link/deeper",
            "absolute-link/new",
            "relative-link",
            "dir/up",
            "dir/up/x",
            "./dir/up/",
        ] {
            cases.push((sub_path.to_string(), refused(sub_path)));
        }
    }
    for (sub_path, expected) in cases {
        let error = mount_one(
            &volumes,
            json!({"name": "scratch", "mountPath": "/x", "subPath": sub_path}),
            &HashMap::new(),
        )
        .expect_err(&expected);
        assert_eq!(error, expected);
    }
    assert_eq!(
        crate::support::entries(&outside),
        vec!["deeper"],
        "nothing was created outside the volume"
    );
    assert!(!node.temp.path().join("pods").join("x").exists());
}

#[tokio::test]
async fn a_sub_path_naming_a_file_is_refused() {
    let node = TestNode::new();
    let volumes = prepared(&node).await;
    fs::write(node.volume_dir("scratch").join("file"), "x").expect("written");
    let expected = "failed to prepare subPath for volumeMount \"scratch\" of container \"app\": subPath \"file\" is not a directory, and WASI preopens are directories";
    let error = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/x", "subPath": "file"}),
        &HashMap::new(),
    )
    .expect_err("a file");
    assert_eq!(error, expected);
    let error = mount_one(
        &volumes,
        json!({"name": "scratch", "mountPath": "/x", "subPath": "file/below"}),
        &HashMap::new(),
    )
    .expect_err("below a file");
    assert_eq!(error, expected.replace("\"file\"", "\"file/below\""));
    let error = mount_one(
        &volumes,
        json!({"name": "cfg", "mountPath": "/x", "subPath": "conf/a"}),
        &HashMap::new(),
    )
    .expect_err("a configMap key");
    assert!(
        error.contains("is not a directory, and WASI preopens are directories"),
        "{error}"
    );
}
