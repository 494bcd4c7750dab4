//! projected volumes (configMap, secret, downwardAPI and ServiceAccount token sources in one
//! directory), and the volume types wasmkube refuses.

use serde_json::json;

use crate::support::{MapSources, TestNode, pod_with_volumes, read};

#[tokio::test]
async fn sources_share_one_directory_with_the_volumes_default_mode() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_config_map(
        "settings",
        &[("app.yaml", "port: 80"), ("shared", "from configMap")],
        &[],
    );
    sources.put_secret("creds", &[("token", b"s3cret"), ("shared", b"from secret")]);
    let pod = pod_with_volumes(
        json!([{"name": "all", "projected": {"defaultMode": 0o640, "sources": [
            {"configMap": {"name": "settings"}},
            {"secret": {"name": "creds", "items": [{"key": "token", "path": "secret/token", "mode": 0o400}, {"key": "shared", "path": "shared"}]}},
            {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"configMap": {"name": "absent", "optional": true}},
        ]}}]),
    );
    node.prepare(&pod, &sources).await.expect("prepared");

    let dir = node.volume_dir("all");
    assert_eq!(read(&dir.join("app.yaml")), "port: 80");
    assert_eq!(read(&dir.join("secret/token")), "s3cret");
    assert_eq!(
        read(&dir.join("shared")),
        "from secret",
        "a later source wins"
    );
    assert_eq!(read(&dir.join("name")), "web-0");
    #[cfg(unix)]
    {
        assert_eq!(crate::support::mode(&dir.join("app.yaml")), 0o640);
        assert_eq!(crate::support::mode(&dir.join("secret/token")), 0o400);
    }
}

#[tokio::test]
async fn a_service_account_token_is_requested_for_the_pod_and_written_with_the_other_sources() {
    let node = TestNode::new();
    let sources = MapSources::default();
    sources.put_service_account("builder");
    sources.put_config_map("kube-root-ca.crt", &[("ca.crt", "CA PEM")], &[]);
    let mut pod = pod_with_volumes(json!([
        {"name": "api", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        ]}},
        {"name": "vault", "projected": {"sources": [
            {"serviceAccountToken": {"path": "vault/token", "audience": "vault"}},
        ]}},
    ]));
    pod.spec.as_mut().expect("a spec").service_account_name = Some("builder".to_string());
    node.prepare(&pod, &sources).await.expect("prepared");

    let api = node.volume_dir("api");
    assert_eq!(
        read(&api.join("token")),
        format!(
            "token:default/builder:pod=web-0/{}:audience=-:seconds=3607",
            crate::support::POD_UID
        )
    );
    assert_eq!(read(&api.join("ca.crt")), "CA PEM");
    assert_eq!(
        read(&node.volume_dir("vault").join("vault/token")),
        format!(
            "token:default/builder:pod=web-0/{}:audience=vault:seconds=3600",
            crate::support::POD_UID
        ),
        "a named audience, and the default lifetime of an hour"
    );
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&api.join("token")), 0o644);
}

#[tokio::test]
async fn projected_sources_fail_like_their_volume_counterparts() {
    let node = TestNode::new();
    let sources = MapSources::default();
    let cases = [
        (
            json!([{"configMap": {"name": "absent"}}]),
            "configmap \"absent\" not found",
        ),
        (
            json!([{"secret": {"name": "absent"}}]),
            "secret \"absent\" not found",
        ),
        (
            json!([{"serviceAccountToken": {"path": "token"}}]),
            "failed to fetch token: the pod names no serviceAccountName",
        ),
    ];
    for (projections, expected) in cases {
        let pod = pod_with_volumes(json!([{"name": "all", "projected": {"sources": projections}}]));
        let error = node.prepare(&pod, &sources).await.expect_err(expected);
        assert_eq!(
            error.to_string(),
            format!("MountVolume.SetUp failed for volume \"all\" : {expected}")
        );
    }
}

#[tokio::test]
async fn other_volume_types_and_malformed_volumes_are_refused_by_name() {
    let node = TestNode::new();
    let sources = MapSources::default();
    let cases = [
        (
            json!({"name": "data", "persistentVolumeClaim": {"claimName": "claim"}}),
            "volume \"data\": persistentVolumeClaim volumes are not supported by wasmkube yet",
        ),
        (
            json!({"name": "data", "ephemeral": {}}),
            "volume \"data\": ephemeral volumes are not supported by wasmkube yet",
        ),
        (
            json!({"name": "data", "nfs": {"server": "nfs", "path": "/export"}}),
            "volume \"data\": nfs volumes are not supported by wasmkube yet",
        ),
        (
            json!({"name": "data", "emptyDir": {}, "nfs": {"server": "nfs", "path": "/x"}}),
            "volume \"data\": may not specify more than 1 volume type (found emptyDir, nfs)",
        ),
        (
            json!({"name": "../up", "emptyDir": {}}),
            "spec.volumes[0].name: Invalid value: \"../up\": must be a single path component",
        ),
    ];
    for (volume, expected) in cases {
        let pod = pod_with_volumes(json!([volume]));
        let error = node.prepare(&pod, &sources).await.expect_err(expected);
        assert_eq!(error.to_string(), expected);
        assert_eq!(error.short_message(), expected);
    }
    let pod =
        pod_with_volumes(json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]));
    let error = node.prepare(&pod, &sources).await.expect_err("a duplicate");
    assert_eq!(
        error.to_string(),
        "spec.volumes[1].name: Duplicate value: \"a\""
    );
    let mut pod = pod_with_volumes(json!([]));
    pod.metadata.uid = None;
    let error = node.prepare(&pod, &sources).await.expect_err("no uid");
    assert_eq!(error.to_string(), "pod has no metadata.uid");
}
