//! Discovery: `/version`, `/api`, `/apis`, and each group version's resource list, which
//! is how kubectl and client libraries learn what the server serves.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::status::{ApiError, ApiResult};
use super::target::Target;
use crate::resources::{ALL_RESOURCES, ResourceType, group_versions};

/// The Kubernetes API version this server is compatible with.
pub const KUBERNETES_MINOR: &str = "33";

pub async fn version() -> Json<Value> {
    Json(json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-wasmkube.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    }))
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn subresource_entry(resource: &ResourceType, subresource: &str) -> Value {
    let (kind, verbs, group, version): (&str, &[&str], Option<&str>, Option<&str>) =
        match subresource {
            "scale" => (
                "Scale",
                &["get", "patch", "update"],
                Some("autoscaling"),
                Some("v1"),
            ),
            "binding" => ("Binding", &["create"], None, None),
            "eviction" => ("Eviction", &["create"], Some("policy"), Some("v1")),
            "log" => ("Pod", &["get"], None, None),
            "portforward" => ("PodPortForwardOptions", &["create", "get"], None, None),
            "attach" => ("PodAttachOptions", &["create", "get"], None, None),
            "exec" => ("PodExecOptions", &["create", "get"], None, None),
            "finalize" => ("Namespace", &["update"], None, None),
            "token" => (
                "TokenRequest",
                &["create"],
                Some("authentication.k8s.io"),
                Some("v1"),
            ),
            _ => (resource.kind, &["get", "patch", "update"], None, None),
        };
    let mut entry = json!({
        "name": format!("{}/{subresource}", resource.plural),
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if let (Some(group), Some(version)) = (group, version) {
        entry["group"] = json!(group);
        entry["version"] = json!(version);
    }
    entry
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&ResourceType> = ALL_RESOURCES
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for resource in &resources {
        let mut entry = json!({
            "name": resource.plural,
            "singularName": resource.singular(),
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": if resource.create_only { &["create"] } else { VERBS },
        });
        if !resource.short_names.is_empty() {
            entry["shortNames"] = json!(resource.short_names);
        }
        if !resource.categories.is_empty() {
            entry["categories"] = json!(resource.categories);
        }
        entries.push(entry);
        for subresource in resource.subresources {
            entries.push(subresource_entry(resource, subresource));
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}),
    )
}

fn api_group(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(candidate, _)| *candidate == group)
        .map(|(_, version)| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions.first()})
}

pub fn serve(target: &Target) -> ApiResult<Response> {
    let body = match target {
        Target::LegacyVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        }),
        Target::GroupList => {
            let mut groups: Vec<&str> = group_versions()
                .into_iter()
                .map(|(group, _)| group)
                .filter(|group| !group.is_empty())
                .collect();
            groups.dedup();
            let mut groups: Vec<Value> = groups.into_iter().map(api_group).collect();
            groups.push(crate::metrics_server::api_group());
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        Target::Group(group) if group == crate::metrics_server::GROUP => {
            crate::metrics_server::api_group()
        }
        Target::ResourceList { group, version }
            if group == crate::metrics_server::GROUP
                && version == crate::metrics_server::VERSION =>
        {
            crate::metrics_server::resource_list()
        }
        Target::Group(group)
            if group_versions()
                .iter()
                .any(|(candidate, _)| candidate == group) =>
        {
            api_group(group)
        }
        Target::ResourceList { group, version } => {
            resource_list(group, version).ok_or_else(ApiError::path_not_found)?
        }
        _ => return Err(ApiError::path_not_found()),
    };
    Ok(Json(body).into_response())
}
