//! metrics.k8s.io, served by the API server itself as metrics-server serves it in
//! Kubernetes: a scraper reads every Ready node's `/metrics/resource` (the kubelet's
//! resource metrics, which the node agent serves on its endpoint) each resolution
//! interval and keeps the last two points of each node and container; NodeMetrics and
//! PodMetrics are the CPU rate between the two and the last memory figure. `kubectl top`
//! and the HorizontalPodAutoscaler read them.

mod decode;
mod format;
mod handlers;
mod scraper;
mod storage;

use serde_json::{Value, json};

pub use handlers::routes;
pub use scraper::scrape_periodically;
pub use storage::ResourceMetrics;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";
const API_VERSION: &str = "metrics.k8s.io/v1beta1";

/// The group as `/apis` and `/apis/metrics.k8s.io` list it.
pub fn api_group() -> Value {
    let version = json!({"groupVersion": API_VERSION, "version": VERSION});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": [version], "preferredVersion": version})
}

/// The group version's resources, as metrics-server lists them.
pub fn resource_list() -> Value {
    let resource = |name: &str, namespaced: bool, kind: &str| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]});
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": API_VERSION,
        "resources": [resource("nodes", false, "NodeMetrics"), resource("pods", true, "PodMetrics")],
    })
}
