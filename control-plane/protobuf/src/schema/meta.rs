//! Layouts from apimachinery: object metadata, label selectors, conditions, the options
//! of a DELETE, and `intstr.IntOrString`.

use super::FieldKind::{Bool, Integer, Message, String, Time};
use super::{FieldSchema, MessageSchema, STRING_MAP, many, one};

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
pub static OBJECT_META: MessageSchema = MessageSchema {
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

/// Every object kind carries its metadata in field 1.
pub const METADATA: FieldSchema = one(1, "metadata", Message(&OBJECT_META));

static LABEL_SELECTOR_REQUIREMENT: MessageSchema = MessageSchema {
    name: "LabelSelectorRequirement",
    fields: &[
        one(1, "key", String),
        one(2, "operator", String),
        many(3, "values", String),
    ],
};

pub static LABEL_SELECTOR: MessageSchema = MessageSchema {
    name: "LabelSelector",
    fields: &[
        one(1, "matchLabels", STRING_MAP),
        many(2, "matchExpressions", Message(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

/// `meta.v1.Condition`, the shape newer APIs use for their status conditions.
pub static CONDITION: MessageSchema = MessageSchema {
    name: "Condition",
    fields: &[
        one(1, "type", String),
        one(2, "status", String),
        one(3, "observedGeneration", Integer),
        one(4, "lastTransitionTime", Time),
        one(5, "reason", String),
        one(6, "message", String),
    ],
};

/// The parts of an `intstr.IntOrString`; `decode` turns them into a number, or into a
/// string when `type` is 1.
pub static INT_OR_STRING: MessageSchema = MessageSchema {
    name: "IntOrString",
    fields: &[
        one(1, "type", Integer),
        one(2, "intVal", Integer),
        one(3, "strVal", String),
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
