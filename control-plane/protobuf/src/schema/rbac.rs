//! Layouts of `rbac.authorization.k8s.io/v1`: roles, cluster roles and their bindings.

use super::FieldKind::{Message, String};
use super::meta::{LABEL_SELECTOR, METADATA};
use super::{MessageSchema, many, one};

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
