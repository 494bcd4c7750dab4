//! The autoscaler's target: which resource a `scaleTargetRef` names (by group and kind,
//! whatever version it gives, as Kubernetes' REST mapper finds it), whose scale
//! subresource the autoscaler reads and writes.

use k8s_openapi::api::autoscaling::v2::CrossVersionObjectReference;
use kube::Client;
use kube::api::Api;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};

/// The built-in kinds with a scale subresource: group, kind, served version and plural.
const SCALABLE_KINDS: [(&str, &str, &str, &str); 4] = [
    ("apps", "Deployment", "v1", "deployments"),
    ("apps", "ReplicaSet", "v1", "replicasets"),
    ("apps", "StatefulSet", "v1", "statefulsets"),
    ("", "ReplicationController", "v1", "replicationcontrollers"),
];

/// The group of an apiVersion: "apps" of "apps/v1", "" of "v1".
fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// The resource a scale target names, or the REST mapper's error for a kind it does not
/// know.
pub fn target_resource(reference: &CrossVersionObjectReference) -> Result<ApiResource, String> {
    let api_version = reference.api_version.as_deref().unwrap_or_default();
    let group = group_of(api_version);
    SCALABLE_KINDS
        .iter()
        .find(|(candidate_group, kind, _, _)| *candidate_group == group && *kind == reference.kind)
        .map(|(group, kind, version, plural)| {
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
        })
        .ok_or_else(|| {
            format!(
                "no matches for kind \"{}\" in group \"{group}\"",
                reference.kind
            )
        })
}

pub fn scale_api(client: &Client, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(api_version: &str, kind: &str) -> CrossVersionObjectReference {
        CrossVersionObjectReference {
            api_version: Some(api_version.to_owned()),
            kind: kind.to_owned(),
            name: "web".to_owned(),
        }
    }

    #[test]
    fn targets_are_found_by_group_and_kind() {
        let deployments = target_resource(&reference("apps/v1", "Deployment")).expect("known");
        assert_eq!(deployments.plural, "deployments");
        assert_eq!(deployments.api_version, "apps/v1");
        let controllers =
            target_resource(&reference("v1", "ReplicationController")).expect("known");
        assert_eq!(controllers.plural, "replicationcontrollers");
        assert_eq!(
            target_resource(&reference("example.com/v1", "Widget")).unwrap_err(),
            "no matches for kind \"Widget\" in group \"example.com\""
        );
    }
}
