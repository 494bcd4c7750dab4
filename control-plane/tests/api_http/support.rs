//! A real control plane on a loopback port with a temporary data directory, and a small
//! HTTP client that speaks to it the way kubectl does: JSON bodies, Status errors and
//! newline-delimited watch streams.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};

/// How long any one request or watch read may take before the test gives up. This only
/// keeps a broken server from hanging the test run; no test depends on how fast it is.
const PATIENCE: Duration = Duration::from_secs(30);

pub const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";
pub const PODS: &str = "/api/v1/namespaces/default/pods";
pub const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
pub const SECRETS: &str = "/api/v1/namespaces/default/secrets";
/// The ConfigMap the root CA publisher keeps in every namespace, as in Kubernetes: lists of
/// ConfigMaps show it beside what a test made.
pub const ROOT_CA: &str = "kube-root-ca.crt";

pub struct Cluster {
    pub plane: ControlPlane,
    client: crate::tls::HttpsClient<Full<Bytes>>,
    // Dropped last, after the control plane has let go of the store file.
    _data_dir: tempfile::TempDir,
}

/// A control plane with the default API options, once its controllers have settled: every
/// namespace holds its `kube-root-ca.crt`. Compaction runs only when a test asks for it, so
/// revisions a test has seen stay watchable.
pub async fn start_cluster() -> Cluster {
    start_cluster_with(ApiOptions::default()).await
}

pub async fn start_cluster_with(api: ApiOptions) -> Cluster {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let plane = start(ControlPlaneOptions {
        data_dir: data_dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        api,
        compaction_interval: Duration::from_secs(24 * 60 * 60),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    let cluster = Cluster {
        client: crate::tls::admin_client(&plane),
        plane,
        _data_dir: data_dir,
    };
    cluster.wait_for_root_ca_everywhere().await;
    cluster
}

/// A response, read in full.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the {} response is not JSON ({error}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body, after checking the HTTP status, so a failure shows what the server said.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Checks that the response is a Kubernetes failure Status with this code and reason,
    /// and returns it for further checks.
    pub fn expect_failure(&self, code: u16, reason: &str) -> Value {
        let status = self.expect(code);
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok()),
            Some("application/json"),
            "errors are JSON"
        );
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["apiVersion"], "v1", "{status}");
        assert_eq!(status["status"], "Failure", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert_eq!(status["reason"], reason, "{status}");
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "a failure explains itself: {status}"
        );
        status
    }
}

impl Cluster {
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.plane.url())
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let response = self.send(method, path, headers, body.into()).await;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(PATIENCE, body.collect())
            .await
            .unwrap_or_else(|_| panic!("no complete response to {path} within {PATIENCE:?}"))
            .unwrap_or_else(|error| panic!("reading the response to {path}: {error}"))
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> http::Response<Incoming> {
        let mut request = Request::builder().method(method).uri(self.uri(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .expect("a well-formed request");
        tokio::time::timeout(PATIENCE, self.client.request(request))
            .await
            .unwrap_or_else(|_| panic!("no response to {path} within {PATIENCE:?}"))
            .unwrap_or_else(|error| panic!("sending the request to {path}: {error:?}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn post(&self, path: &str, object: &Value) -> Reply {
        self.request(Method::POST, path, JSON, object.to_string())
            .await
    }

    pub async fn put(&self, path: &str, object: &Value) -> Reply {
        self.request(Method::PUT, path, JSON, object.to_string())
            .await
    }

    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Reply {
        self.request(
            Method::PATCH,
            path,
            &[("content-type", "application/merge-patch+json")],
            patch.to_string(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, &[], Bytes::new()).await
    }

    /// Creates an object and returns it as stored.
    pub async fn create(&self, collection: &str, object: &Value) -> Value {
        self.post(collection, object).await.expect(201)
    }

    /// The names in a list, in the order the server gave them.
    pub async fn list_names(&self, path: &str) -> Vec<String> {
        names(&self.get(path).await.expect(200))
    }

    /// Waits until every namespace holds its `kube-root-ca.crt`, so that the controller's
    /// creations are over before a test lists or watches: none of them can then appear in
    /// the middle of what a test looks at. The controller makes the namespace's `default`
    /// ServiceAccount before the ConfigMap, so that account is there too.
    async fn wait_for_root_ca_everywhere(&self) {
        let published = format!("/api/v1/configmaps?fieldSelector=metadata.name%3D{ROOT_CA}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let namespaces = self.list_names("/api/v1/namespaces").await;
            let holders: Vec<String> = self.get(&published).await.expect(200)["items"]
                .as_array()
                .expect("a list of ConfigMaps")
                .iter()
                .map(|item| text(item, "/metadata/namespace"))
                .collect();
            if namespaces
                .iter()
                .all(|namespace| holders.contains(namespace))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{ROOT_CA} is still missing after {PATIENCE:?}: namespaces {namespaces:?}, \
                 holders {holders:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the namespace holds its `kube-root-ca.crt`, as a namespace a test has
    /// just made will shortly after its creation.
    pub async fn wait_for_root_ca(&self, namespace: &str) {
        let path = format!("/api/v1/namespaces/{namespace}/configmaps/{ROOT_CA}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.get(&path).await.status != StatusCode::OK {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} is still missing after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Opens a watch; `path` carries the query, including `watch=1`.
    pub async fn watch(&self, path: &str) -> Watch {
        let response = self.send(Method::GET, path, &[], Bytes::new()).await;
        assert_eq!(response.status(), StatusCode::OK, "watching {path}");
        Watch::new(response.into_body())
    }
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

/// A watch response, read one event line at a time.
pub struct Watch {
    body: Incoming,
    buffered: Vec<u8>,
}

impl Watch {
    /// Reads the events of a watch response's body, whatever connection it came on.
    pub fn new(body: Incoming) -> Self {
        Self {
            body,
            buffered: Vec::new(),
        }
    }

    /// The next event, bookmarks included.
    pub async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffered.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = self.buffered.drain(..=end).collect();
                return serde_json::from_slice(&line[..end]).unwrap_or_else(|error| {
                    panic!(
                        "a watch line is not JSON ({error}): {}",
                        String::from_utf8_lossy(&line)
                    )
                });
            }
            let frame = tokio::time::timeout(PATIENCE, self.body.frame())
                .await
                .unwrap_or_else(|_| panic!("no watch event within {PATIENCE:?}"))
                .expect("the watch ended early")
                .expect("reading the watch");
            if let Ok(data) = frame.into_data() {
                self.buffered.extend_from_slice(&data);
            }
        }
    }

    /// The next event that is not a bookmark.
    pub async fn next_change(&mut self) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] != "BOOKMARK" {
                return event;
            }
        }
    }
}

/// An event as (type, name, resourceVersion), for comparing sequences of events.
pub fn summary(event: &Value) -> (String, String, String) {
    (
        text(event, "/type"),
        text(event, "/object/metadata/name"),
        text(event, "/object/metadata/resourceVersion"),
    )
}

pub fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} is not a string in {value}"))
        .to_owned()
}

pub fn revision(object: &Value) -> u64 {
    text(object, "/metadata/resourceVersion")
        .parse()
        .expect("resourceVersion is a decimal revision")
}

pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| text(item, "/metadata/name"))
        .collect()
}

pub fn config_map(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"},
    })
}

pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    })
}

pub fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
    })
}
