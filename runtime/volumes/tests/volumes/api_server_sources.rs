//! `ApiServerVolumeSources` against a real HTTP server on 127.0.0.1 that answers like the API
//! server: objects, 404 Status for missing ones, 500 Status for a failing store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasmkube_volumes::{ApiServerVolumeSources, PodVolumes};

use crate::support::{TestNode, allocatable, pod_with_volumes, read};

/// The response to a GET of `path`: (status line, JSON body).
fn respond(path: &str) -> (&'static str, String) {
    match path {
        "/api/v1/namespaces/default/configmaps/settings" => {
            let config_map = ConfigMap {
                data: Some(BTreeMap::from([(
                    "app.yaml".to_string(),
                    "port: 80".to_string(),
                )])),
                ..ConfigMap::default()
            };
            (
                "200 OK",
                serde_json::to_string(&config_map).expect("serialisable"),
            )
        }
        "/api/v1/namespaces/default/secrets/creds" => {
            let secret = Secret {
                data: Some(BTreeMap::from([(
                    "token".to_string(),
                    ByteString(b"s3cret".to_vec()),
                )])),
                ..Secret::default()
            };
            (
                "200 OK",
                serde_json::to_string(&secret).expect("serialisable"),
            )
        }
        "/api/v1/namespaces/default/configmaps/flaky" => {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the store is unavailable", "reason": "InternalError", "code": 500});
            ("500 Internal Server Error", status.to_string())
        }
        _ => {
            let name = path.rsplit('/').next().unwrap_or_default();
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("configmaps \"{name}\" not found"), "reason": "NotFound", "code": 404});
            ("404 Not Found", status.to_string())
        }
    }
}

async fn answer(mut stream: TcpStream, requested: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&request).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or_default().to_string();
    requested.lock().expect("not poisoned").push(path.clone());
    let (status, body) = respond(&path);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn require_send<F: Future + Send>(future: F) -> F {
    future
}

/// Serves on 127.0.0.1 port 0; returns the client's sources and the paths requested so far.
async fn start_api_server() -> (ApiServerVolumeSources, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let address = listener.local_addr().expect("an address");
    let requested = Arc::new(Mutex::new(Vec::new()));
    let log = requested.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, log.clone()));
        }
    });
    let config = kube::Config::new(format!("http://{address}").parse().expect("a URL"));
    let client = kube::Client::try_from(config).expect("a client");
    (ApiServerVolumeSources::new(client), requested)
}

#[tokio::test]
async fn config_maps_and_secrets_are_read_from_the_api_server() {
    let (sources, requested) = start_api_server().await;
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "creds", "secret": {"secretName": "creds"}},
        {"name": "maybe", "configMap": {"name": "absent", "optional": true}},
    ]));
    // The agent runs preparation in spawned tasks, so the future must be Send.
    let volumes = require_send(PodVolumes::prepare(
        &node.host,
        &pod,
        &allocatable(),
        &sources,
    ))
    .await
    .expect("prepared");
    assert!(
        !require_send(volumes.refresh(&pod, &sources))
            .await
            .expect("refreshed")
    );
    assert_eq!(read(&node.volume_dir("cfg").join("app.yaml")), "port: 80");
    assert_eq!(read(&node.volume_dir("creds").join("token")), "s3cret");
    let each_volume_once = [
        "/api/v1/namespaces/default/configmaps/settings",
        "/api/v1/namespaces/default/secrets/creds",
        "/api/v1/namespaces/default/configmaps/absent",
    ];
    // Once to prepare and once to refresh.
    assert_eq!(
        *requested.lock().expect("not poisoned"),
        each_volume_once.repeat(2)
    );
}

#[tokio::test]
async fn missing_objects_and_failing_reads_are_told_apart() {
    let (sources, _requested) = start_api_server().await;
    let node = TestNode::new();
    let pod = pod_with_volumes(json!([{"name": "cfg", "configMap": {"name": "absent"}}]));
    let error = PodVolumes::prepare(&node.host, &pod, &allocatable(), &sources)
        .await
        .expect_err("missing");
    assert_eq!(
        error.to_string(),
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found"
    );

    let pod = pod_with_volumes(
        json!([{"name": "cfg", "configMap": {"name": "flaky", "optional": true}}]),
    );
    let error = PodVolumes::prepare(&node.host, &pod, &allocatable(), &sources)
        .await
        .expect_err("unreadable");
    let message = error.short_message();
    assert!(
        message.starts_with("could not get configmap \"flaky\" in namespace \"default\": "),
        "{message}"
    );
    assert!(message.contains("the store is unavailable"), "{message}");
}
