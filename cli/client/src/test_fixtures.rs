//! A small discovery answer shaped like a real API server's, shared by the unit tests.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;
use serde_json::json;

use crate::resolve::{DiscoveredResource, ResourceCatalog};

fn resources_for(
    group: &str,
    version: &str,
    preferred: bool,
    entries: serde_json::Value,
) -> Vec<DiscoveredResource> {
    let parsed: Vec<APIResource> =
        serde_json::from_value(entries).expect("fixture APIResources are valid");
    parsed
        .iter()
        .filter_map(|resource| {
            DiscoveredResource::from_api_resource(group, version, preferred, resource)
        })
        .collect()
}

fn entry(
    name: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    short_names: &[&str],
) -> serde_json::Value {
    json!({"name": name, "singularName": singular, "kind": kind, "namespaced": namespaced,
           "shortNames": short_names, "verbs": ["get", "list"]})
}

/// Core, apps (v1 preferred) and batch resources, including a subresource to be skipped.
pub fn sample_catalog() -> ResourceCatalog {
    let mut resources = resources_for(
        "",
        "v1",
        true,
        json!([
            entry("pods", "pod", "Pod", true, &["po"]),
            entry("pods/log", "", "Pod", true, &[]),
            entry("services", "service", "Service", true, &["svc"]),
            entry("namespaces", "namespace", "Namespace", false, &["ns"]),
            entry("configmaps", "configmap", "ConfigMap", true, &["cm"]),
            entry("nodes", "node", "Node", false, &["no"]),
            entry("events", "event", "Event", true, &["ev"]),
            entry(
                "resourcequotas",
                "resourcequota",
                "ResourceQuota",
                true,
                &["quota"]
            ),
        ]),
    );
    resources.extend(resources_for(
        "apps",
        "v1",
        true,
        json!([
            entry("deployments", "deployment", "Deployment", true, &["deploy"]),
            entry("replicasets", "replicaset", "ReplicaSet", true, &["rs"]),
        ]),
    ));
    resources.extend(resources_for(
        "apps",
        "v1beta1",
        false,
        json!([entry(
            "deployments",
            "deployment",
            "Deployment",
            true,
            &["deploy"]
        )]),
    ));
    resources.extend(resources_for(
        "events.k8s.io",
        "v1",
        true,
        json!([entry("events", "event", "Event", true, &["ev"])]),
    ));
    resources.extend(resources_for(
        "batch",
        "v1",
        true,
        json!([entry("cronjobs", "", "CronJob", true, &["cj"])]),
    ));
    ResourceCatalog::new(resources)
}
