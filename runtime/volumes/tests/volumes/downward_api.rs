//! downwardAPI volumes: pod metadata and container resources as files, as the kubelet writes
//! them.

use serde_json::json;

use crate::support::{MapSources, TestNode, pod_with_spec, read};

fn field(path: &str, field_path: &str) -> serde_json::Value {
    json!({"path": path, "fieldRef": {"fieldPath": field_path}})
}

fn resource(
    path: &str,
    container: &str,
    resource: &str,
    divisor: Option<&str>,
) -> serde_json::Value {
    let mut selector = json!({"containerName": container, "resource": resource});
    if let Some(divisor) = divisor {
        selector["divisor"] = json!(divisor);
    }
    json!({"path": path, "resourceFieldRef": selector})
}

fn pod_with_items(items: serde_json::Value) -> k8s_openapi::api::core::v1::Pod {
    let mut pod = pod_with_spec(json!({
        "initContainers": [{"name": "setup", "image": "s:1", "resources": {"limits": {"memory": "64Mi"}}}],
        "containers": [
            {"name": "app", "image": "a:1", "resources": {
                "limits": {"cpu": "500m", "memory": "128Mi"},
                "requests": {"cpu": "250m", "memory": "100M"},
            }},
            {"name": "sidecar", "image": "s:1", "resources": {"limits": {"cpu": "0"}}},
        ],
        "volumes": [{"name": "info", "downwardAPI": {"items": items}}],
    }));
    pod.metadata.labels = Some(
        [("tier", "web"), ("app", "shop")]
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .into(),
    );
    pod.metadata.annotations = Some(
        [("note", "say \"hi\"\nbye"), ("example.com/owner", "ops")]
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .into(),
    );
    pod
}

#[tokio::test]
async fn metadata_fields_are_written_as_kubernetes_formats_them() {
    let node = TestNode::new();
    let pod = pod_with_items(json!([
        field("name", "metadata.name"),
        field("namespace", "metadata.namespace"),
        field("uid", "metadata.uid"),
        field("labels", "metadata.labels"),
        field("annotations", "metadata.annotations"),
        field("meta/tier", "metadata.labels['tier']"),
        field("meta/absent", "metadata.annotations['absent']"),
    ]));
    node.prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");

    let dir = node.volume_dir("info");
    assert_eq!(read(&dir.join("name")), "web-0");
    assert_eq!(read(&dir.join("namespace")), "default");
    assert_eq!(read(&dir.join("uid")), crate::support::POD_UID);
    assert_eq!(read(&dir.join("labels")), "app=\"shop\"\ntier=\"web\"");
    assert_eq!(
        read(&dir.join("annotations")),
        "example.com/owner=\"ops\"\nnote=\"say \\\"hi\\\"\\nbye\""
    );
    assert_eq!(read(&dir.join("meta/tier")), "web");
    assert_eq!(read(&dir.join("meta/absent")), "");
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&dir.join("name")), 0o644);
}

#[tokio::test]
async fn resources_are_divided_and_rounded_up_with_allocatable_for_missing_limits() {
    let node = TestNode::new();
    let pod = pod_with_items(json!([
        resource("cpu_limit", "app", "limits.cpu", None),
        resource("cpu_limit_milli", "app", "limits.cpu", Some("1m")),
        resource("cpu_request", "app", "requests.cpu", Some("1")),
        resource("memory_limit_mi", "app", "limits.memory", Some("1Mi")),
        resource("memory_request", "app", "requests.memory", None),
        resource("memory_request_mi", "app", "requests.memory", Some("1Mi")),
        resource("sidecar_cpu", "sidecar", "limits.cpu", Some("1m")),
        resource("sidecar_memory_gi", "sidecar", "limits.memory", Some("1Gi")),
        resource("sidecar_memory_request", "sidecar", "requests.memory", None),
        resource("init_memory", "setup", "limits.memory", Some("1Mi")),
    ]));
    node.prepare(&pod, &MapSources::default())
        .await
        .expect("prepared");

    let dir = node.volume_dir("info");
    let expected = [
        ("cpu_limit", "1"),
        ("cpu_limit_milli", "500"),
        ("cpu_request", "1"),
        ("memory_limit_mi", "128"),
        ("memory_request", "100000000"),
        ("memory_request_mi", "96"),
        ("sidecar_cpu", "4000"),
        ("sidecar_memory_gi", "8"),
        ("sidecar_memory_request", "0"),
        ("init_memory", "64"),
    ];
    for (file, value) in expected {
        assert_eq!(read(&dir.join(file)), value, "{file}");
    }
}

#[tokio::test]
async fn labels_changed_on_the_pod_reach_the_file_on_refresh() {
    let node = TestNode::new();
    let pod = pod_with_items(json!([field("labels", "metadata.labels")]));
    let sources = MapSources::default();
    let volumes = node.prepare(&pod, &sources).await.expect("prepared");

    let mut relabelled = pod.clone();
    relabelled.metadata.labels = Some([("tier".to_string(), "db".to_string())].into());
    assert!(
        volumes
            .refresh(&relabelled, &sources)
            .await
            .expect("refreshed")
    );
    assert_eq!(read(&node.volume_dir("info").join("labels")), "tier=\"db\"");

    let mut other_pod = relabelled.clone();
    other_pod.metadata.uid = Some("another".to_string());
    let error = volumes
        .refresh(&other_pod, &sources)
        .await
        .expect_err("not this pod");
    assert_eq!(
        error.to_string(),
        format!(
            "these volumes belong to pod uid {:?}, not \"another\"",
            crate::support::POD_UID
        )
    );
}

#[tokio::test]
async fn bad_references_fail_with_the_kubelets_messages() {
    let node = TestNode::new();
    let cases = [
        (
            field("f", "spec.nodeName"),
            "unsupported fieldPath: spec.nodeName",
        ),
        (
            field("f", "metadata.name['x']"),
            "fieldPath \"metadata.name['x']\" does not support subscript",
        ),
        (
            resource("f", "ghost", "limits.cpu", None),
            "container ghost not found",
        ),
        (
            resource("f", "app", "limits.gpu", None),
            "unsupported container resource : limits.gpu",
        ),
        (
            resource("f", "app", "cpu", None),
            "unsupported container resource : cpu",
        ),
        (
            json!({"path": "f"}),
            "downward API item \"f\" must specify one of: `fieldRef` or `resourceFieldRef`",
        ),
    ];
    for (item, expected) in cases {
        let pod = pod_with_items(json!([item]));
        let error = node
            .prepare(&pod, &MapSources::default())
            .await
            .expect_err(expected);
        assert_eq!(
            error.to_string(),
            format!("MountVolume.SetUp failed for volume \"info\" : {expected}")
        );
    }
    let pod = pod_with_items(json!([field("f", "metadata.labels['bad key!']")]));
    let error = node
        .prepare(&pod, &MapSources::default())
        .await
        .expect_err("bad subscript");
    assert!(
        error
            .short_message()
            .starts_with("invalid key subscript in metadata.labels['bad key!']: "),
        "{error}"
    );
}
