//! Merge lists of the core/v1 types (staging/src/k8s.io/api/core/v1/types.go)
//! and of ObjectMeta, which every kind embeds.

use super::{StructPatchSchema, merge_by_key, merge_primitives, nested};

/// `metav1.ObjectMeta`: `ownerReferences` merge by `uid`, `finalizers` is a
/// set of strings.
pub(crate) static OBJECT_META: StructPatchSchema = StructPatchSchema {
    fields: &[
        merge_by_key("ownerReferences", "uid", None),
        merge_primitives("finalizers"),
    ],
};

/// A kind whose only merge lists are in its metadata (ConfigMap, Secret,
/// Endpoints, EndpointSlice, Event, Lease, LimitRange, ResourceQuota,
/// PriorityClass and the RBAC kinds: none of their own lists carry a patch
/// strategy).
pub(crate) static METADATA_ONLY: StructPatchSchema = StructPatchSchema {
    fields: &[nested("metadata", &OBJECT_META)],
};

/// A status whose `conditions` merge by `type` (NamespaceStatus, the workload
/// statuses, HorizontalPodAutoscalerStatus, ServiceStatus's metav1.Condition).
pub(crate) static STATUS_WITH_CONDITIONS: StructPatchSchema = StructPatchSchema {
    fields: &[merge_by_key("conditions", "type", None)],
};

/// Namespace and HorizontalPodAutoscaler: metadata and status conditions.
pub(crate) static METADATA_AND_STATUS_CONDITIONS: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("status", &STATUS_WITH_CONDITIONS),
    ],
};

/// `Container` and `EphemeralContainerCommon`.
pub(crate) static CONTAINER: StructPatchSchema = StructPatchSchema {
    fields: &[
        merge_by_key("ports", "containerPort", None),
        merge_by_key("env", "name", None),
        merge_by_key("volumeMounts", "mountPath", None),
        merge_by_key("volumeDevices", "devicePath", None),
    ],
};

/// `PodSpec`. `tolerations`, `readinessGates` and the containers' `envFrom`
/// and `args` have no patch strategy and are replaced whole.
pub(crate) static POD_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[
        // Tagged "merge,retainKeys": retainKeys only shapes generated patches;
        // a `$retainKeys` directive is honoured wherever it appears.
        merge_by_key("volumes", "name", None),
        merge_by_key("initContainers", "name", Some(&CONTAINER)),
        merge_by_key("containers", "name", Some(&CONTAINER)),
        merge_by_key("ephemeralContainers", "name", Some(&CONTAINER)),
        merge_by_key("imagePullSecrets", "name", None),
        merge_by_key("hostAliases", "ip", None),
        merge_by_key("topologySpreadConstraints", "topologyKey", None),
        merge_by_key("schedulingGates", "name", None),
        merge_by_key("resourceClaims", "name", None),
    ],
};

/// `PodStatus`.
static POD_STATUS: StructPatchSchema = StructPatchSchema {
    fields: &[
        merge_by_key("conditions", "type", None),
        merge_by_key("podIPs", "ip", None),
        merge_by_key("hostIPs", "ip", None),
        merge_by_key("resourceClaimStatuses", "name", None),
    ],
};

pub(crate) static POD: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_SPEC),
        nested("status", &POD_STATUS),
    ],
};

/// `PodTemplateSpec`, the `template` of the workload kinds.
pub(crate) static POD_TEMPLATE_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC)],
};

static NODE_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[merge_primitives("podCIDRs")],
};

static NODE_STATUS: StructPatchSchema = StructPatchSchema {
    fields: &[
        merge_by_key("conditions", "type", None),
        merge_by_key("addresses", "type", None),
    ],
};

pub(crate) static NODE: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &NODE_SPEC),
        nested("status", &NODE_STATUS),
    ],
};

/// `ServiceSpec`: ports merge by `port` (not by name).
static SERVICE_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[merge_by_key("ports", "port", None)],
};

pub(crate) static SERVICE: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &SERVICE_SPEC),
        nested("status", &STATUS_WITH_CONDITIONS),
    ],
};

/// `ServiceAccount`: `secrets` merge by `name`; `imagePullSecrets` has no
/// patch strategy here (unlike in PodSpec).
pub(crate) static SERVICE_ACCOUNT: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        merge_by_key("secrets", "name", None),
    ],
};
