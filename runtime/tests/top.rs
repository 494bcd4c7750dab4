//! `kubectl top` against the API server's metrics.k8s.io, scraping a real node agent
//! every second: the machine's kubectl (and its 1.27 and 1.33 builds, whose discovery
//! differs) finds the Metrics API and shows the busy pod's CPU, the allocating pod's
//! memory and the node's figures; the API answers selectors and unknown pods as
//! metrics-server does.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};
use support::{NODE_NAME, guest_image, node_tls, phase, testbox};
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_runtime::{NodeAgent, NodeAgentConfig};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

struct TopCluster {
    client: kube::Client,
    kubeconfig: PathBuf,
    _agent: NodeAgent,
    _control_plane: ControlPlane,
    _directory: tempfile::TempDir,
}

fn write_kubeconfig(path: &Path, control_plane: &ControlPlane) {
    let config = control_plane
        .admin_kubeconfig()
        .expect("the admin's kubeconfig");
    std::fs::write(path, config).expect("the kubeconfig is written");
}

async fn start_cluster() -> TopCluster {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let control_plane = start(ControlPlaneOptions {
        data_dir: directory.path().join("server"),
        listen: "127.0.0.1:0".parse().expect("an address"),
        api: ApiOptions {
            resource_metrics_resolution: Duration::from_secs(1),
            ..ApiOptions::default()
        },
        compaction_interval: Duration::from_secs(300),
        tls_subject_alternative_names: Vec::new(),
        audit: wasmkube_control_plane::server::AuditOptions::default(),
    })
    .await
    .expect("the control plane starts");
    let mut config = NodeAgentConfig::new(
        NODE_NAME.to_owned(),
        directory.path().join("node"),
        node_tls(&control_plane.authority, NODE_NAME),
    );
    config.compilation_cache_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compiled");
    config.pod_cidr = Some("10.244.0.0/24".parse().expect("a CIDR"));
    let agent = NodeAgent::start(config, control_plane.client.clone())
        .await
        .expect("the node agent starts");
    let kubeconfig = directory.path().join("kubeconfig");
    write_kubeconfig(&kubeconfig, &control_plane);
    TopCluster {
        client: control_plane.client.clone(),
        kubeconfig,
        _agent: agent,
        _control_plane: control_plane,
        _directory: directory,
    }
}

/// `kubectl.1.27` and the others sit beside the binary `kubectl` links to.
fn kubectl_path(binary: &str) -> PathBuf {
    let default = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|directory| directory.join("kubectl"))
                .find(|path| path.is_file())
        })
        .expect("kubectl on PATH");
    if binary == "kubectl" {
        return default;
    }
    std::fs::canonicalize(&default)
        .unwrap_or(default)
        .parent()
        .map(|directory| directory.join(binary))
        .expect("kubectl's directory")
}

/// Runs kubectl and returns its standard output, or its standard error if it failed.
async fn kubectl(cluster: &TopCluster, binary: &str, arguments: &[&str]) -> Result<String, String> {
    let mut command = Command::new(kubectl_path(binary));
    command
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(arguments)
        .env_remove("KUBECONFIG");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("kubectl's task")
        .expect("kubectl runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The columns of the row named `name` in kubectl's table output.
fn row(table: &str, name: &str) -> Option<Vec<String>> {
    table.lines().find_map(|line| {
        let columns: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        (columns.first().map(String::as_str) == Some(name)).then_some(columns)
    })
}

/// The number in front of a unit suffix: 498 of "498m", 24 of "24Mi".
fn leading_number(text: &str, suffix: &str) -> Option<u64> {
    text.strip_suffix(suffix)?.parse().ok()
}

async fn create_pod(cluster: &TopCluster, manifest: Value) {
    let mut pod: Pod = serde_json::from_value(manifest).expect("a pod");
    if pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_ref())
        .is_none()
    {
        pod.spec.get_or_insert_default().node_name = Some(NODE_NAME.to_owned());
    }
    Api::<Pod>::namespaced(cluster.client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .expect("the pod is created");
}

async fn wait_until_running(cluster: &TopCluster, name: &str) {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let pod = pods.get(name).await.expect("the pod exists");
        if phase(&pod) == "Running" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never ran: {:?}",
            pod.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// metrics.k8s.io's `plural` (nodes, or pods in the default namespace) through the API.
fn metrics_api(cluster: &TopCluster, plural: &str) -> Api<DynamicObject> {
    let kind = if plural == "nodes" {
        "NodeMetrics"
    } else {
        "PodMetrics"
    };
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", kind),
        plural,
    );
    if plural == "nodes" {
        Api::all_with(cluster.client.clone(), &resource)
    } else {
        Api::namespaced_with(cluster.client.clone(), "default", &resource)
    }
}

/// The object as JSON, or the Status's code and message.
fn outcome(result: Result<DynamicObject, kube::Error>) -> Result<Value, (u16, String)> {
    match result {
        Ok(object) => Ok(serde_json::to_value(object).expect("JSON")),
        Err(kube::Error::Api(status)) => Err((status.code, status.message)),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_top_shows_the_pods_and_the_node() {
    let cluster = start_cluster().await;
    create_pod(
        &cluster,
        json!({
            "metadata": {"name": "burner", "labels": {"app": "burner"}},
            "spec": {"containers": [{"name": "spin", "image": testbox(), "args": ["spin"], "resources": {"limits": {"cpu": "500m"}}}]},
        }),
    )
    .await;
    create_pod(
        &cluster,
        json!({
            "metadata": {"name": "allocator", "labels": {"app": "allocator"}},
            "spec": {"containers": [{"name": "hog", "image": guest_image("hog", WasmTarget::P2), "args": ["-mem-total", "24Mi", "-mem-alloc-size", "1Mi", "-mem-alloc-sleep", "1ms"]}]},
        }),
    )
    .await;
    wait_until_running(&cluster, "burner").await;
    wait_until_running(&cluster, "allocator").await;

    for binary in ["kubectl", "kubectl.1.27", "kubectl.1.33"] {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let (burner, _) = loop {
            let shown = kubectl(&cluster, binary, &["top", "pods"]).await;
            let rows = shown
                .as_ref()
                .ok()
                .and_then(|table| Some((row(table, "burner")?, row(table, "allocator")?)));
            let allocated = rows
                .as_ref()
                .and_then(|(_, allocator)| leading_number(&allocator[2], "Mi"))
                .is_some_and(|mebibytes| mebibytes >= 24);
            if let Some(rows) = rows.filter(|_| allocated) {
                break rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{binary} top pods never showed both pods: {shown:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let millicores = leading_number(&burner[1], "m").unwrap_or_default();
        assert!(
            (100..=600).contains(&millicores),
            "{binary}: the burner held to 500m shows {burner:?}"
        );

        let nodes = kubectl(&cluster, binary, &["top", "nodes"])
            .await
            .unwrap_or_else(|error| panic!("{binary} top nodes: {error}"));
        let node = row(&nodes, NODE_NAME).unwrap_or_else(|| panic!("{binary} top nodes: {nodes}"));
        assert!(
            leading_number(&node[1], "m").is_some_and(|millicores| millicores >= 100),
            "{binary}: the node runs the burner: {nodes}"
        );
        assert!(node[2].ends_with('%') && node[3].ends_with("Mi"), "{nodes}");
    }

    // `kubectl get` asks for metrics-server's Table.
    let table = kubectl(&cluster, "kubectl", &["get", "pods.metrics.k8s.io"])
        .await
        .expect("kubectl get pods.metrics.k8s.io");
    let header = table.lines().next().unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "CPU", "MEMORY", "WINDOW"],
        "{table}"
    );
    let burner = row(&table, "burner").unwrap_or_else(|| panic!("{table}"));
    let cpu = wasmkube_admission::quantity::Quantity::parse(&burner[1]).expect("a quantity");
    assert!(
        cpu.milli_value() >= 100 && burner[3].ends_with('s'),
        "{table}"
    );

    let resources = kubectl(
        &cluster,
        "kubectl",
        &[
            "api-resources",
            "--api-group=metrics.k8s.io",
            "--no-headers",
        ],
    )
    .await
    .expect("api-resources");
    let kinds: Vec<(String, String)> = resources
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            Some((
                (*columns.first()?).to_owned(),
                (*columns.last()?).to_owned(),
            ))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("nodes".to_owned(), "NodeMetrics".to_owned()),
            ("pods".to_owned(), "PodMetrics".to_owned())
        ],
        "{resources}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_api_answers_selectors_and_unknown_pods_as_metrics_server_does() {
    let cluster = start_cluster().await;
    for name in ["idle-a", "idle-b"] {
        create_pod(
            &cluster,
            json!({
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"containers": [{"name": "sleeper", "image": testbox(), "args": ["sleep-forever"]}]},
            }),
        )
        .await;
    }
    // Bound to a node that does not exist, this pod never runs and has no metrics.
    create_pod(
        &cluster,
        json!({
            "metadata": {"name": "stranded"},
            "spec": {"nodeName": "elsewhere", "containers": [{"name": "sleeper", "image": testbox()}]},
        }),
    )
    .await;
    wait_until_running(&cluster, "idle-a").await;
    wait_until_running(&cluster, "idle-b").await;
    let pods = metrics_api(&cluster, "pods");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let selected = loop {
        let listed = pods.list(&ListParams::default().labels("app=idle-a")).await;
        if let Ok(list) = &listed
            && !list.items.is_empty()
        {
            break list.items.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no metrics for idle-a: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(selected.len(), 1, "{selected:?}");
    let item = serde_json::to_value(&selected[0]).expect("JSON");
    assert_eq!(item["metadata"]["name"], "idle-a");
    assert_eq!(item["metadata"]["labels"]["app"], "idle-a");
    assert_eq!(item["containers"][0]["name"], "sleeper");
    let memory = item["containers"][0]["usage"]["memory"]
        .as_str()
        .expect("a memory figure");
    let memory_bytes = wasmkube_admission::quantity::Quantity::parse(memory)
        .expect("a quantity")
        .value();
    assert!(
        memory_bytes >= 64 * 1024,
        "a guest has a page or more: {item}"
    );
    assert!(
        item["window"]
            .as_str()
            .is_some_and(|window| window.ends_with('s')),
        "{item}"
    );
    assert!(item["containers"][0]["usage"]["cpu"].is_string(), "{item}");

    let pod = outcome(pods.get("idle-b").await).expect("idle-b's metrics");
    assert_eq!(pod["kind"], "PodMetrics");
    assert_eq!(pod["apiVersion"], "metrics.k8s.io/v1beta1");
    let nodes = metrics_api(&cluster, "nodes");
    let node = outcome(nodes.get(NODE_NAME).await).expect("the node's metrics");
    assert_eq!(node["kind"], "NodeMetrics");
    assert!(
        node["usage"]["cpu"].is_string() && node["usage"]["memory"].is_string(),
        "{node}"
    );

    assert_eq!(
        outcome(pods.get("stranded").await),
        Err((
            404,
            "podmetrics.metrics.k8s.io \"default/stranded\" not found".to_owned()
        ))
    );
    assert_eq!(
        outcome(pods.get("missing").await),
        Err((404, "pods \"missing\" not found".to_owned()))
    );
    assert_eq!(
        outcome(nodes.get("elsewhere").await),
        Err((404, "node \"elsewhere\" not found".to_owned()))
    );
    let resources = cluster
        .client
        .list_api_group_resources("metrics.k8s.io/v1beta1")
        .await
        .expect("the resource list");
    let kinds: Vec<(&str, &str)> = resources
        .resources
        .iter()
        .map(|resource| (resource.name.as_str(), resource.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("nodes", "NodeMetrics"), ("pods", "PodMetrics")]);
    let groups = cluster
        .client
        .list_api_groups()
        .await
        .expect("the group list");
    assert!(
        groups
            .groups
            .iter()
            .any(|group| group.name == "metrics.k8s.io"),
        "{groups:?}"
    );
}
