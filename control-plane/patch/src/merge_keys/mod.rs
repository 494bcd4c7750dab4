//! Which fields of the built-in kinds are merged rather than replaced by a
//! strategic merge patch, and by which key.
//!
//! Kubernetes reads this from the `patchStrategy` and `patchMergeKey` struct
//! tags of its Go types; the tables in the submodules transcribe those tags
//! for every kind this project serves. Only fields that matter to patching are
//! listed: a field missing from a table is patched with the default strategy
//! (objects merge key by key, lists are replaced whole).

mod core;
mod workloads;

/// How a field's value is combined with the stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchStrategy {
    /// Objects merge key by key; lists and scalars are replaced.
    Default,
    /// Lists merge: lists of objects element by element (matched by the merge
    /// key), lists of primitives as a set.
    Merge {
        /// The member that identifies an element; `None` for lists of primitives.
        merge_key: Option<&'static str>,
    },
}

/// The patch-relevant shape of a Go struct.
#[derive(Debug)]
pub(crate) struct StructPatchSchema {
    pub(crate) fields: &'static [FieldPatchSchema],
}

/// One field of a [`StructPatchSchema`].
#[derive(Debug)]
pub(crate) struct FieldPatchSchema {
    /// The field's JSON name.
    pub(crate) json_name: &'static str,
    pub(crate) strategy: PatchStrategy,
    /// The schema of the field's value, or of each element for a list field.
    pub(crate) value_schema: Option<&'static StructPatchSchema>,
}

/// What a strategic merge patch needs to know about one field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldPatchMetadata {
    pub(crate) strategy: PatchStrategy,
    pub(crate) value_schema: Option<&'static StructPatchSchema>,
}

impl FieldPatchMetadata {
    /// A field nothing is known about: patched with the default strategy.
    pub(crate) const UNKNOWN: FieldPatchMetadata = FieldPatchMetadata {
        strategy: PatchStrategy::Default,
        value_schema: None,
    };

    /// Looks a field up in the schema of the struct that holds it.
    pub(crate) fn lookup(
        struct_schema: Option<&'static StructPatchSchema>,
        json_name: &str,
    ) -> FieldPatchMetadata {
        struct_schema
            .and_then(|schema| {
                schema
                    .fields
                    .iter()
                    .find(|field| field.json_name == json_name)
            })
            .map(|field| FieldPatchMetadata {
                strategy: field.strategy,
                value_schema: field.value_schema,
            })
            .unwrap_or(FieldPatchMetadata::UNKNOWN)
    }

    /// The merge key, for a merge list of objects.
    pub(crate) fn merge_key(&self) -> Option<&'static str> {
        match self.strategy {
            PatchStrategy::Merge { merge_key } => merge_key,
            PatchStrategy::Default => None,
        }
    }

    pub(crate) fn is_merge(&self) -> bool {
        matches!(self.strategy, PatchStrategy::Merge { .. })
    }
}

/// A field whose value (an object, or a list's objects) has its own schema.
pub(crate) const fn nested(
    json_name: &'static str,
    value_schema: &'static StructPatchSchema,
) -> FieldPatchSchema {
    FieldPatchSchema {
        json_name,
        strategy: PatchStrategy::Default,
        value_schema: Some(value_schema),
    }
}

/// A list of objects merged element by element, matched by `merge_key`.
pub(crate) const fn merge_by_key(
    json_name: &'static str,
    merge_key: &'static str,
    value_schema: Option<&'static StructPatchSchema>,
) -> FieldPatchSchema {
    FieldPatchSchema {
        json_name,
        strategy: PatchStrategy::Merge {
            merge_key: Some(merge_key),
        },
        value_schema,
    }
}

/// A list of primitives merged as a set.
pub(crate) const fn merge_primitives(json_name: &'static str) -> FieldPatchSchema {
    FieldPatchSchema {
        json_name,
        strategy: PatchStrategy::Merge { merge_key: None },
        value_schema: None,
    }
}

/// The schema of a whole object of a built-in kind, or `None` for a kind this
/// project does not know (such objects are patched without merge lists).
pub(crate) fn schema_for_kind(kind: &str) -> Option<&'static StructPatchSchema> {
    let schema = match kind {
        "Namespace" | "HorizontalPodAutoscaler" => &core::METADATA_AND_STATUS_CONDITIONS,
        "Pod" => &core::POD,
        "Node" => &core::NODE,
        "Service" => &core::SERVICE,
        "ServiceAccount" => &core::SERVICE_ACCOUNT,
        "Endpoints" | "EndpointSlice" | "ConfigMap" | "Secret" | "Event" | "Lease"
        | "LimitRange" | "ResourceQuota" | "PriorityClass" | "Role" | "RoleBinding"
        | "ClusterRole" | "ClusterRoleBinding" => &core::METADATA_ONLY,
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" => {
            &workloads::POD_TEMPLATE_OWNER
        }
        "CronJob" => &workloads::CRON_JOB,
        _ => return None,
    };
    Some(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_metadata(kind: &str, path: &[&str]) -> FieldPatchMetadata {
        let mut schema = schema_for_kind(kind);
        let mut metadata = FieldPatchMetadata::UNKNOWN;
        for json_name in path {
            metadata = FieldPatchMetadata::lookup(schema, json_name);
            schema = metadata.value_schema;
        }
        metadata
    }

    #[test]
    fn pod_containers_merge_by_name_and_their_ports_by_container_port() {
        assert_eq!(
            path_metadata("Pod", &["spec", "containers"]).merge_key(),
            Some("name")
        );
        assert_eq!(
            path_metadata("Pod", &["spec", "containers", "ports"]).merge_key(),
            Some("containerPort")
        );
        assert!(!path_metadata("Pod", &["spec", "tolerations"]).is_merge());
    }

    #[test]
    fn templates_nest_the_pod_spec() {
        assert_eq!(
            path_metadata("Deployment", &["spec", "template", "spec", "volumes"]).merge_key(),
            Some("name")
        );
        assert_eq!(
            path_metadata(
                "CronJob",
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "env"
                ]
            )
            .merge_key(),
            Some("name")
        );
    }

    #[test]
    fn every_kind_has_metadata_merge_lists() {
        for kind in [
            "Namespace",
            "Pod",
            "Node",
            "Service",
            "Endpoints",
            "EndpointSlice",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Event",
            "Lease",
            "Deployment",
            "ReplicaSet",
            "DaemonSet",
            "StatefulSet",
            "Job",
            "CronJob",
            "LimitRange",
            "ResourceQuota",
            "HorizontalPodAutoscaler",
            "PriorityClass",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
        ] {
            let finalizers = path_metadata(kind, &["metadata", "finalizers"]);
            assert_eq!(
                finalizers.strategy,
                PatchStrategy::Merge { merge_key: None },
                "{kind}"
            );
            assert_eq!(
                path_metadata(kind, &["metadata", "ownerReferences"]).merge_key(),
                Some("uid"),
                "{kind}"
            );
        }
        assert!(schema_for_kind("Widget").is_none());
    }
}
