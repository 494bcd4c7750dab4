//! Layouts of the core kinds kubectl's metadata-only `create` verbs send: Namespace,
//! ConfigMap, Secret, ServiceAccount, ResourceQuota, and PriorityClass from
//! `scheduling.k8s.io`, along with the object references other layouts share.

use super::FieldKind::{Bool, Integer, Message, String, Time};
use super::meta::METADATA;
use super::{BYTES_MAP, MessageSchema, QUANTITY_MAP, STRING_MAP, many, one};

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

pub static OBJECT_REFERENCE: MessageSchema = MessageSchema {
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

pub static LOCAL_OBJECT_REFERENCE: MessageSchema = MessageSchema {
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
