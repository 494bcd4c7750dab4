//! The node's resource metrics, read from the node endpoint as metrics-server reads a
//! kubelet's `/metrics/resource`: a busy guest's CPU seconds rise, an allocating guest's
//! memory shows, and a container is reported only while it runs.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use kube::api::DeleteParams;
use support::{TestCluster, guest_image, phase, testbox};
use wasmkube_wasm_guests::WasmTarget;

const TIMEOUT: Duration = Duration::from_secs(60);

/// GETs `/metrics/resource` from the node endpoint over HTTPS, as the API server's
/// metrics scraper does, with the API server's client certificate.
async fn scrape(cluster: &TestCluster) -> String {
    let authority = &cluster.control_plane.authority;
    let answer = support::node_endpoint_get(
        authority.certificate_pem(),
        Some(&support::api_server_identity(authority)),
        endpoint(cluster),
        "/metrics/resource",
    )
    .await
    .expect("the node endpoint answers");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer
            .head
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        answer.head
    );
    answer.body
}

/// The value and timestamp of the series `series` (the metric name with its labels as
/// the kubelet writes them), if the text has it.
fn series_value(text: &str, series: &str) -> Option<(f64, Option<i64>)> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        let mut fields = rest.split(' ');
        let value = fields.next()?.parse().ok()?;
        let timestamp = fields.next().and_then(|field| field.parse().ok());
        Some((value, timestamp))
    })
}

fn container_series(metric: &str, pod: &str, container: &str) -> String {
    format!("{metric}{{container=\"{container}\",namespace=\"default\",pod=\"{pod}\"}}")
}

fn endpoint(cluster: &TestCluster) -> SocketAddr {
    cluster
        .agent
        .as_ref()
        .expect("the node agent runs")
        .endpoint_address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_containers_cpu_seconds_rise_and_the_node_reports_its_own() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: burner}}
spec:
  containers:
  - name: spin
    image: {image}
    args: [spin]
    resources: {{limits: {{cpu: 500m}}}}
"#
        ))
        .await;
    cluster
        .wait_for("burner", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let cpu_series = container_series("container_cpu_usage_seconds_total", "burner", "spin");
    let first_text = scrape(&cluster).await;
    let (first, first_timestamp) = series_value(&first_text, &cpu_series)
        .unwrap_or_else(|| panic!("no {cpu_series} in:\n{first_text}"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second_text = scrape(&cluster).await;
    let (second, second_timestamp) = series_value(&second_text, &cpu_series)
        .unwrap_or_else(|| panic!("no {cpu_series} in:\n{second_text}"));
    // Held to half a core, the guest burns at most about a second in two (less when the
    // machine is busy with other work).
    let used = second - first;
    assert!(
        (0.3..=1.4).contains(&used),
        "the container used {used} CPU seconds in 2 s under a 500m limit"
    );
    let (first_timestamp, second_timestamp) = (
        first_timestamp.expect("a millisecond timestamp"),
        second_timestamp.expect("a millisecond timestamp"),
    );
    assert!(
        second_timestamp - first_timestamp >= 2000,
        "{first_timestamp} then {second_timestamp}"
    );
    let pod_series = "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"burner\"}";
    let (pod_cpu, _) = series_value(&second_text, pod_series)
        .unwrap_or_else(|| panic!("no {pod_series} in:\n{second_text}"));
    assert!(pod_cpu >= second, "{pod_cpu} < {second}");
    let (node_cpu, _) = series_value(&second_text, "node_cpu_usage_seconds_total")
        .unwrap_or_else(|| panic!("no node CPU in:\n{second_text}"));
    assert!(
        node_cpu >= second,
        "the agent's process ran the guest: {node_cpu} < {second}"
    );
    let (node_memory, _) = series_value(&second_text, "node_memory_working_set_bytes")
        .unwrap_or_else(|| panic!("no node memory in:\n{second_text}"));
    assert!(node_memory > 0.0);
    assert_eq!(
        series_value(&second_text, "scrape_error"),
        Some((0.0, None))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocating_containers_memory_shows_until_it_is_gone() {
    let cluster = TestCluster::start().await;
    let hog = guest_image("hog", WasmTarget::P2);
    cluster
        .create_pod(&format!(
            r#"
metadata: {{name: allocator}}
spec:
  containers:
  - name: hog
    image: {hog}
    args: [-mem-total, 24Mi, -mem-alloc-size, 1Mi, -mem-alloc-sleep, 1ms]
    resources: {{limits: {{memory: 64Mi}}}}
"#
        ))
        .await;
    cluster
        .wait_for("allocator", TIMEOUT, |pod| phase(pod) == "Running")
        .await;
    let memory_series = container_series("container_memory_working_set_bytes", "allocator", "hog");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let memory = loop {
        let text = scrape(&cluster).await;
        let memory = series_value(&text, &memory_series).map(|(value, _)| value);
        if let Some(memory) = memory
            && memory >= 24.0 * 1024.0 * 1024.0
        {
            break memory;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hog's memory never reached 24 MiB; last scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        memory <= 64.0 * 1024.0 * 1024.0,
        "{memory} bytes is over the container's limit"
    );
    let text = scrape(&cluster).await;
    let start_series = container_series("container_start_time_seconds", "allocator", "hog");
    let (started, timestamp) =
        series_value(&text, &start_series).unwrap_or_else(|| panic!("no start time in:\n{text}"));
    assert_eq!(timestamp, None, "a start time has no sample timestamp");
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    assert!(
        started <= now && started > now - TIMEOUT.as_secs_f64(),
        "{started}"
    );

    cluster
        .pods()
        .delete("allocator", &DeleteParams::default())
        .await
        .expect("the pod is deleted");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let text = scrape(&cluster).await;
        if !text.contains("pod=\"allocator\"") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deleted pod is still reported:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
