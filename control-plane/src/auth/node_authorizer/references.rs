//! The objects a pod references, which a node running the pod must be able to read: the
//! secrets, configmaps, persistentvolumeclaims and the serviceaccount named by its
//! volumes, its containers' environment, its image pull secrets and its service account
//! (Kubernetes' `VisitPodSecretNames`, `VisitPodConfigmapNames` and the node
//! authorizer's graph population).

use std::collections::BTreeSet;

use serde_json::Value;

/// A kind of object a pod can reference by name in its own namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferencedKind {
    Secret,
    ConfigMap,
    ServiceAccount,
    PersistentVolumeClaim,
}

/// The referenced objects of one pod, by kind and name (all in the pod's namespace).
pub type PodReferences = BTreeSet<(ReferencedKind, String)>;

/// Everything `pod` references. Names that are absent or empty reference nothing.
pub fn pod_references(pod: &Value) -> PodReferences {
    let mut references = PodReferences::new();
    let Some(spec) = pod.get("spec") else {
        return references;
    };
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut add = |kind: ReferencedKind, name: Option<&Value>| {
        if let Some(name) = name.and_then(Value::as_str).filter(|name| !name.is_empty()) {
            references.insert((kind, name.to_owned()));
        }
    };
    // The v1 API keeps the deprecated `serviceAccount` as an alias that conversion copies
    // into `serviceAccountName` when only it is given.
    let service_account = spec
        .get("serviceAccountName")
        .filter(|name| name.as_str().is_some_and(|name| !name.is_empty()))
        .or_else(|| spec.get("serviceAccount"));
    add(ReferencedKind::ServiceAccount, service_account);
    for pull_secret in items(spec, "imagePullSecrets") {
        add(ReferencedKind::Secret, pull_secret.get("name"));
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items(spec, list) {
            for variable in items(container, "env") {
                let source = variable.get("valueFrom");
                add(
                    ReferencedKind::Secret,
                    source.and_then(|source| source.pointer("/secretKeyRef/name")),
                );
                add(
                    ReferencedKind::ConfigMap,
                    source.and_then(|source| source.pointer("/configMapKeyRef/name")),
                );
            }
            for source in items(container, "envFrom") {
                add(ReferencedKind::Secret, source.pointer("/secretRef/name"));
                add(
                    ReferencedKind::ConfigMap,
                    source.pointer("/configMapRef/name"),
                );
            }
        }
    }
    for volume in items(spec, "volumes") {
        add(ReferencedKind::Secret, volume.pointer("/secret/secretName"));
        add(ReferencedKind::ConfigMap, volume.pointer("/configMap/name"));
        add(
            ReferencedKind::PersistentVolumeClaim,
            volume.pointer("/persistentVolumeClaim/claimName"),
        );
        // A generic ephemeral volume's claim is named after the pod and the volume, as
        // Kubernetes' `ephemeral.VolumeClaimName` makes it.
        if volume.get("ephemeral").is_some_and(Value::is_object)
            && let Some(volume_name) = volume.get("name").and_then(Value::as_str)
            && !pod_name.is_empty()
        {
            let claim = Value::String(format!("{pod_name}-{volume_name}"));
            add(ReferencedKind::PersistentVolumeClaim, Some(&claim));
        }
        for source in items(volume.get("projected").unwrap_or(&Value::Null), "sources") {
            add(ReferencedKind::Secret, source.pointer("/secret/name"));
            add(ReferencedKind::ConfigMap, source.pointer("/configMap/name"));
        }
    }
    references
}

/// The elements of the array at `object[field]`, or none.
fn items<'a>(object: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    object
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(references: &PodReferences, kind: ReferencedKind) -> Vec<&str> {
        references
            .iter()
            .filter(|(reference_kind, _)| *reference_kind == kind)
            .map(|(_, name)| name.as_str())
            .collect()
    }

    #[test]
    fn every_place_a_pod_names_an_object_is_a_reference() {
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "serviceAccountName": "builder",
                "imagePullSecrets": [{"name": "pull"}],
                "containers": [{
                    "name": "app",
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-config", "key": "k"}}},
                        {"name": "C", "value": "plain"},
                    ],
                    "envFrom": [{"secretRef": {"name": "from-secret"}}, {"configMapRef": {"name": "from-config"}}],
                }],
                "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "init-config"}}]}],
                "ephemeralContainers": [{"name": "debug", "env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "debug-secret", "key": "k"}}}]}],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "volume-secret"}},
                    {"name": "c", "configMap": {"name": "volume-config"}},
                    {"name": "p", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "all", "projected": {"sources": [
                        {"secret": {"name": "projected-secret"}},
                        {"configMap": {"name": "projected-config"}},
                        {"serviceAccountToken": {"path": "token"}},
                    ]}},
                    {"name": "e", "emptyDir": {}},
                ],
            },
        });
        let references = pod_references(&pod);
        assert_eq!(
            names(&references, ReferencedKind::Secret),
            [
                "debug-secret",
                "env-secret",
                "from-secret",
                "projected-secret",
                "pull",
                "volume-secret"
            ]
        );
        assert_eq!(
            names(&references, ReferencedKind::ConfigMap),
            [
                "env-config",
                "from-config",
                "init-config",
                "projected-config",
                "volume-config"
            ]
        );
        assert_eq!(
            names(&references, ReferencedKind::PersistentVolumeClaim),
            ["data", "web-scratch"]
        );
        assert_eq!(
            names(&references, ReferencedKind::ServiceAccount),
            ["builder"]
        );
    }

    #[test]
    fn the_deprecated_service_account_field_counts_when_the_name_is_absent() {
        let pod = json!({"spec": {"serviceAccount": "legacy", "containers": []}});
        assert_eq!(
            names(&pod_references(&pod), ReferencedKind::ServiceAccount),
            ["legacy"]
        );
    }

    #[test]
    fn malformed_or_empty_names_reference_nothing() {
        let pod = json!({"spec": {
            "serviceAccountName": "",
            "imagePullSecrets": [{"name": ""}, {"name": 7}, "text"],
            "containers": "not a list",
            "volumes": [{"secret": {"secretName": null}}, {"projected": {"sources": 3}}],
        }});
        assert!(pod_references(&pod).is_empty());
        assert!(pod_references(&json!("not a pod")).is_empty());
    }
}
