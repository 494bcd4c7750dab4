//! Layouts of where a pod may run: node and pod (anti-)affinity, tolerations and
//! topology spread constraints.

use super::FieldKind::{Integer, Message, String};
use super::meta::LABEL_SELECTOR;
use super::{MessageSchema, many, one};

static NODE_SELECTOR_REQUIREMENT: MessageSchema = MessageSchema {
    name: "NodeSelectorRequirement",
    fields: &[
        one(1, "key", String),
        one(2, "operator", String),
        many(3, "values", String),
    ],
};

static NODE_SELECTOR_TERM: MessageSchema = MessageSchema {
    name: "NodeSelectorTerm",
    fields: &[
        many(1, "matchExpressions", Message(&NODE_SELECTOR_REQUIREMENT)),
        many(2, "matchFields", Message(&NODE_SELECTOR_REQUIREMENT)),
    ],
};

static NODE_SELECTOR: MessageSchema = MessageSchema {
    name: "NodeSelector",
    fields: &[many(1, "nodeSelectorTerms", Message(&NODE_SELECTOR_TERM))],
};

static PREFERRED_SCHEDULING_TERM: MessageSchema = MessageSchema {
    name: "PreferredSchedulingTerm",
    fields: &[
        one(1, "weight", Integer),
        one(2, "preference", Message(&NODE_SELECTOR_TERM)),
    ],
};

static NODE_AFFINITY: MessageSchema = MessageSchema {
    name: "NodeAffinity",
    fields: &[
        one(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Message(&NODE_SELECTOR),
        ),
        many(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Message(&PREFERRED_SCHEDULING_TERM),
        ),
    ],
};

static POD_AFFINITY_TERM: MessageSchema = MessageSchema {
    name: "PodAffinityTerm",
    fields: &[
        one(1, "labelSelector", Message(&LABEL_SELECTOR)),
        many(2, "namespaces", String),
        one(3, "topologyKey", String),
        one(4, "namespaceSelector", Message(&LABEL_SELECTOR)),
        many(5, "matchLabelKeys", String),
        many(6, "mismatchLabelKeys", String),
    ],
};

static WEIGHTED_POD_AFFINITY_TERM: MessageSchema = MessageSchema {
    name: "WeightedPodAffinityTerm",
    fields: &[
        one(1, "weight", Integer),
        one(2, "podAffinityTerm", Message(&POD_AFFINITY_TERM)),
    ],
};

static POD_AFFINITY: MessageSchema = MessageSchema {
    name: "PodAffinity",
    fields: &[
        many(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Message(&POD_AFFINITY_TERM),
        ),
        many(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Message(&WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
};

/// PodAntiAffinity has PodAffinity's fields under its own name.
static POD_ANTI_AFFINITY: MessageSchema = MessageSchema {
    name: "PodAntiAffinity",
    fields: POD_AFFINITY.fields,
};

pub static AFFINITY: MessageSchema = MessageSchema {
    name: "Affinity",
    fields: &[
        one(1, "nodeAffinity", Message(&NODE_AFFINITY)),
        one(2, "podAffinity", Message(&POD_AFFINITY)),
        one(3, "podAntiAffinity", Message(&POD_ANTI_AFFINITY)),
    ],
};

pub static TOLERATION: MessageSchema = MessageSchema {
    name: "Toleration",
    fields: &[
        one(1, "key", String),
        one(2, "operator", String),
        one(3, "value", String),
        one(4, "effect", String),
        one(5, "tolerationSeconds", Integer),
    ],
};

pub static TOPOLOGY_SPREAD_CONSTRAINT: MessageSchema = MessageSchema {
    name: "TopologySpreadConstraint",
    fields: &[
        one(1, "maxSkew", Integer),
        one(2, "topologyKey", String),
        one(3, "whenUnsatisfiable", String),
        one(4, "labelSelector", Message(&LABEL_SELECTOR)),
        one(5, "minDomains", Integer),
        one(6, "nodeAffinityPolicy", String),
        one(7, "nodeTaintsPolicy", String),
        many(8, "matchLabelKeys", String),
    ],
};
