//! The layouts of the Kubernetes messages wasmkube reads as protobuf.
//!
//! Each message lists its fields by the number Kubernetes' `generated.proto` gives them
//! and by their JSON name, which in Kubernetes' `.proto` files is the field's name. The
//! kinds covered are those kubectl's typed `create` verbs send; a body of another kind
//! is refused with a message that says to send JSON instead.

/// What a field holds and how it becomes JSON.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    String,
    /// A byte string, base64 in JSON.
    Bytes,
    Bool,
    /// A varint read as a signed 32- or 64-bit integer.
    Integer,
    Message(&'static MessageSchema),
    /// `meta.v1.Time`: a timestamp in whole seconds, an RFC 3339 string in JSON.
    Time,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// A map from strings to values of the given kind.
    MapOf(&'static FieldKind),
}

#[derive(Debug)]
pub struct FieldSchema {
    pub number: u32,
    pub name: &'static str,
    pub kind: FieldKind,
    pub repeated: bool,
}

#[derive(Debug)]
pub struct MessageSchema {
    pub name: &'static str,
    pub fields: &'static [FieldSchema],
}

impl MessageSchema {
    pub fn field(&self, number: u32) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|field| field.number == number)
    }
}

const fn one(number: u32, name: &'static str, kind: FieldKind) -> FieldSchema {
    FieldSchema {
        number,
        name,
        kind,
        repeated: false,
    }
}

const fn many(number: u32, name: &'static str, kind: FieldKind) -> FieldSchema {
    FieldSchema {
        number,
        name,
        kind,
        repeated: true,
    }
}

use FieldKind::{Bool, Bytes, Integer, Message, Quantity, String, Time};

const STRING_MAP: FieldKind = FieldKind::MapOf(&String);
const BYTES_MAP: FieldKind = FieldKind::MapOf(&Bytes);
const QUANTITY_MAP: FieldKind = FieldKind::MapOf(&Quantity);

pub static TYPE_META: MessageSchema = MessageSchema {
    name: "TypeMeta",
    fields: &[one(1, "apiVersion", String), one(2, "kind", String)],
};

static OWNER_REFERENCE: MessageSchema = MessageSchema {
    name: "OwnerReference",
    fields: &[
        one(1, "kind", String),
        one(3, "name", String),
        one(4, "uid", String),
        one(5, "apiVersion", String),
        one(6, "controller", Bool),
        one(7, "blockOwnerDeletion", Bool),
    ],
};

/// Object metadata without `managedFields`, which clients do not send on create.
static OBJECT_META: MessageSchema = MessageSchema {
    name: "ObjectMeta",
    fields: &[
        one(1, "name", String),
        one(2, "generateName", String),
        one(3, "namespace", String),
        one(4, "selfLink", String),
        one(5, "uid", String),
        one(6, "resourceVersion", String),
        one(7, "generation", Integer),
        one(8, "creationTimestamp", Time),
        one(9, "deletionTimestamp", Time),
        one(10, "deletionGracePeriodSeconds", Integer),
        one(11, "labels", STRING_MAP),
        one(12, "annotations", STRING_MAP),
        many(13, "ownerReferences", Message(&OWNER_REFERENCE)),
        many(14, "finalizers", String),
    ],
};

const METADATA: FieldSchema = one(1, "metadata", Message(&OBJECT_META));

static LABEL_SELECTOR_REQUIREMENT: MessageSchema = MessageSchema {
    name: "LabelSelectorRequirement",
    fields: &[
        one(1, "key", String),
        one(2, "operator", String),
        many(3, "values", String),
    ],
};

static LABEL_SELECTOR: MessageSchema = MessageSchema {
    name: "LabelSelector",
    fields: &[
        one(1, "matchLabels", STRING_MAP),
        many(2, "matchExpressions", Message(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

static NAMESPACE_CONDITION: MessageSchema = MessageSchema {
    name: "NamespaceCondition",
    fields: &[
        one(1, "type", String),
        one(2, "status", String),
        one(4, "lastTransitionTime", Time),
        one(5, "reason", String),
        one(6, "message", String),
    ],
};

static NAMESPACE_SPEC: MessageSchema = MessageSchema {
    name: "NamespaceSpec",
    fields: &[many(1, "finalizers", String)],
};

static NAMESPACE_STATUS: MessageSchema = MessageSchema {
    name: "NamespaceStatus",
    fields: &[
        one(1, "phase", String),
        many(2, "conditions", Message(&NAMESPACE_CONDITION)),
    ],
};

pub static NAMESPACE: MessageSchema = MessageSchema {
    name: "Namespace",
    fields: &[
        METADATA,
        one(2, "spec", Message(&NAMESPACE_SPEC)),
        one(3, "status", Message(&NAMESPACE_STATUS)),
    ],
};

pub static CONFIG_MAP: MessageSchema = MessageSchema {
    name: "ConfigMap",
    fields: &[
        METADATA,
        one(2, "data", STRING_MAP),
        one(3, "binaryData", BYTES_MAP),
        one(4, "immutable", Bool),
    ],
};

pub static SECRET: MessageSchema = MessageSchema {
    name: "Secret",
    fields: &[
        METADATA,
        one(2, "data", BYTES_MAP),
        one(3, "type", String),
        one(4, "stringData", STRING_MAP),
        one(5, "immutable", Bool),
    ],
};

static OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "ObjectReference",
    fields: &[
        one(1, "kind", String),
        one(2, "namespace", String),
        one(3, "name", String),
        one(4, "uid", String),
        one(5, "apiVersion", String),
        one(6, "resourceVersion", String),
        one(7, "fieldPath", String),
    ],
};

static LOCAL_OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "LocalObjectReference",
    fields: &[one(1, "name", String)],
};

pub static SERVICE_ACCOUNT: MessageSchema = MessageSchema {
    name: "ServiceAccount",
    fields: &[
        METADATA,
        many(2, "secrets", Message(&OBJECT_REFERENCE)),
        many(3, "imagePullSecrets", Message(&LOCAL_OBJECT_REFERENCE)),
        one(4, "automountServiceAccountToken", Bool),
    ],
};

static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: MessageSchema = MessageSchema {
    name: "ScopedResourceSelectorRequirement",
    fields: &[
        one(1, "scopeName", String),
        one(2, "operator", String),
        many(3, "values", String),
    ],
};

static SCOPE_SELECTOR: MessageSchema = MessageSchema {
    name: "ScopeSelector",
    fields: &[many(
        1,
        "matchExpressions",
        Message(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
};

static RESOURCE_QUOTA_SPEC: MessageSchema = MessageSchema {
    name: "ResourceQuotaSpec",
    fields: &[
        one(1, "hard", QUANTITY_MAP),
        many(2, "scopes", String),
        one(3, "scopeSelector", Message(&SCOPE_SELECTOR)),
    ],
};

static RESOURCE_QUOTA_STATUS: MessageSchema = MessageSchema {
    name: "ResourceQuotaStatus",
    fields: &[one(1, "hard", QUANTITY_MAP), one(2, "used", QUANTITY_MAP)],
};

pub static RESOURCE_QUOTA: MessageSchema = MessageSchema {
    name: "ResourceQuota",
    fields: &[
        METADATA,
        one(2, "spec", Message(&RESOURCE_QUOTA_SPEC)),
        one(3, "status", Message(&RESOURCE_QUOTA_STATUS)),
    ],
};

pub static PRIORITY_CLASS: MessageSchema = MessageSchema {
    name: "PriorityClass",
    fields: &[
        METADATA,
        one(2, "value", Integer),
        one(3, "globalDefault", Bool),
        one(4, "description", String),
        one(5, "preemptionPolicy", String),
    ],
};

static POLICY_RULE: MessageSchema = MessageSchema {
    name: "PolicyRule",
    fields: &[
        many(1, "verbs", String),
        many(2, "apiGroups", String),
        many(3, "resources", String),
        many(4, "resourceNames", String),
        many(5, "nonResourceURLs", String),
    ],
};

static AGGREGATION_RULE: MessageSchema = MessageSchema {
    name: "AggregationRule",
    fields: &[many(1, "clusterRoleSelectors", Message(&LABEL_SELECTOR))],
};

pub static ROLE: MessageSchema = MessageSchema {
    name: "Role",
    fields: &[METADATA, many(2, "rules", Message(&POLICY_RULE))],
};

pub static CLUSTER_ROLE: MessageSchema = MessageSchema {
    name: "ClusterRole",
    fields: &[
        METADATA,
        many(2, "rules", Message(&POLICY_RULE)),
        one(3, "aggregationRule", Message(&AGGREGATION_RULE)),
    ],
};

static SUBJECT: MessageSchema = MessageSchema {
    name: "Subject",
    fields: &[
        one(1, "kind", String),
        one(2, "apiGroup", String),
        one(3, "name", String),
        one(4, "namespace", String),
    ],
};

static ROLE_REF: MessageSchema = MessageSchema {
    name: "RoleRef",
    fields: &[
        one(1, "apiGroup", String),
        one(2, "kind", String),
        one(3, "name", String),
    ],
};

/// RoleBinding and ClusterRoleBinding share their layout.
pub static ROLE_BINDING: MessageSchema = MessageSchema {
    name: "RoleBinding",
    fields: &[
        METADATA,
        many(2, "subjects", Message(&SUBJECT)),
        one(3, "roleRef", Message(&ROLE_REF)),
    ],
};

static PRECONDITIONS: MessageSchema = MessageSchema {
    name: "Preconditions",
    fields: &[one(1, "uid", String), one(2, "resourceVersion", String)],
};

pub static DELETE_OPTIONS: MessageSchema = MessageSchema {
    name: "DeleteOptions",
    fields: &[
        one(1, "gracePeriodSeconds", Integer),
        one(2, "preconditions", Message(&PRECONDITIONS)),
        one(3, "orphanDependents", Bool),
        one(4, "propagationPolicy", String),
        many(5, "dryRun", String),
        one(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool),
    ],
};

/// The message that carries each (apiVersion, kind) this server reads as protobuf.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static MessageSchema> {
    let schema = match (api_version, kind) {
        // Kubernetes registers the options of a DELETE in every group version.
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Secret") => &SECRET,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "ResourceQuota") => &RESOURCE_QUOTA,
        ("scheduling.k8s.io/v1", "PriorityClass") => &PRIORITY_CLASS,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        _ => return None,
    };
    Some(schema)
}
