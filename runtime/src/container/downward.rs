//! The downward API for environment variables: `fieldRef` and `resourceFieldRef`. The
//! metadata fields and resource values are computed as for downwardAPI volumes (in
//! `wasmkube-volumes`); environment variables can also name the pod's node and IPs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The value of a `fieldRef` for an environment variable.
pub fn field_value(pod: &Pod, node_name: &str, field_path: &str) -> Result<String, String> {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let ips = |ips: Option<Vec<String>>| ips.unwrap_or_default().join(",");
    match field_path {
        "spec.nodeName" => Ok(spec
            .and_then(|spec| spec.node_name.clone())
            .unwrap_or_else(|| node_name.to_owned())),
        "spec.serviceAccountName" => Ok(spec
            .and_then(|spec| spec.service_account_name.clone())
            .unwrap_or_default()),
        "status.hostIP" => Ok(status
            .and_then(|status| status.host_ip.clone())
            .unwrap_or_default()),
        "status.hostIPs" => Ok(ips(status.and_then(|status| {
            status
                .host_ips
                .as_ref()
                .map(|list| list.iter().map(|ip| ip.ip.clone()).collect())
        }))),
        "status.podIP" => Ok(status
            .and_then(|status| status.pod_ip.clone())
            .unwrap_or_default()),
        "status.podIPs" => Ok(ips(status.and_then(|status| {
            status
                .pod_ips
                .as_ref()
                .map(|list| list.iter().map(|ip| ip.ip.clone()).collect())
        }))),
        _ => wasmkube_volumes::metadata_field_value(field_path, &pod.metadata)
            .map_err(|error| error.to_string()),
    }
}

/// The value of a `resourceFieldRef`; without `containerName` it is this container's.
pub fn resource_field_value(
    pod: &Pod,
    container: &Container,
    selector: &ResourceFieldSelector,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, String> {
    let mut selector = selector.clone();
    if selector
        .container_name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        selector.container_name = Some(container.name.clone());
    }
    wasmkube_volumes::container_resource_value(&selector, pod, node_allocatable)
        .map_err(|error| error.to_string())
}
