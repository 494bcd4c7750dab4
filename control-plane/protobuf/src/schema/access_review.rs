//! Layouts of the access reviews kubectl's `auth` verbs send: SelfSubjectAccessReview
//! (`can-i`), SelfSubjectRulesReview (`can-i --list`), SubjectAccessReview from
//! `authorization.k8s.io/v1`, and SelfSubjectReview (`whoami`) from
//! `authentication.k8s.io/v1`. The `extra` maps (user.Info's extra attributes) are not
//! laid out: kubectl never sends them, and one sent is refused rather than dropped.

use super::FieldKind::{Bool, Message, String};
use super::meta::METADATA;
use super::{MessageSchema, many, one};

/// A field or label selector requirement: both share this layout.
static SELECTOR_REQUIREMENT: MessageSchema = MessageSchema {
    name: "SelectorRequirement",
    fields: &[
        one(1, "key", String),
        one(2, "operator", String),
        many(3, "values", String),
    ],
};

static FIELD_SELECTOR_ATTRIBUTES: MessageSchema = MessageSchema {
    name: "FieldSelectorAttributes",
    fields: &[
        one(1, "rawSelector", String),
        many(2, "requirements", Message(&SELECTOR_REQUIREMENT)),
    ],
};

static LABEL_SELECTOR_ATTRIBUTES: MessageSchema = MessageSchema {
    name: "LabelSelectorAttributes",
    fields: &[
        one(1, "rawSelector", String),
        many(2, "requirements", Message(&SELECTOR_REQUIREMENT)),
    ],
};

static RESOURCE_ATTRIBUTES: MessageSchema = MessageSchema {
    name: "ResourceAttributes",
    fields: &[
        one(1, "namespace", String),
        one(2, "verb", String),
        one(3, "group", String),
        one(4, "version", String),
        one(5, "resource", String),
        one(6, "subresource", String),
        one(7, "name", String),
        one(8, "fieldSelector", Message(&FIELD_SELECTOR_ATTRIBUTES)),
        one(9, "labelSelector", Message(&LABEL_SELECTOR_ATTRIBUTES)),
    ],
};

static NON_RESOURCE_ATTRIBUTES: MessageSchema = MessageSchema {
    name: "NonResourceAttributes",
    fields: &[one(1, "path", String), one(2, "verb", String)],
};

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: MessageSchema = MessageSchema {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        one(1, "resourceAttributes", Message(&RESOURCE_ATTRIBUTES)),
        one(
            2,
            "nonResourceAttributes",
            Message(&NON_RESOURCE_ATTRIBUTES),
        ),
    ],
};

static SUBJECT_ACCESS_REVIEW_SPEC: MessageSchema = MessageSchema {
    name: "SubjectAccessReviewSpec",
    fields: &[
        one(1, "resourceAttributes", Message(&RESOURCE_ATTRIBUTES)),
        one(
            2,
            "nonResourceAttributes",
            Message(&NON_RESOURCE_ATTRIBUTES),
        ),
        one(3, "user", String),
        many(4, "groups", String),
        one(6, "uid", String),
    ],
};

static SUBJECT_ACCESS_REVIEW_STATUS: MessageSchema = MessageSchema {
    name: "SubjectAccessReviewStatus",
    fields: &[
        one(1, "allowed", Bool),
        one(2, "reason", String),
        one(3, "evaluationError", String),
        one(4, "denied", Bool),
    ],
};

pub static SELF_SUBJECT_ACCESS_REVIEW: MessageSchema = MessageSchema {
    name: "SelfSubjectAccessReview",
    fields: &[
        METADATA,
        one(2, "spec", Message(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)),
        one(3, "status", Message(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};

pub static SUBJECT_ACCESS_REVIEW: MessageSchema = MessageSchema {
    name: "SubjectAccessReview",
    fields: &[
        METADATA,
        one(2, "spec", Message(&SUBJECT_ACCESS_REVIEW_SPEC)),
        one(3, "status", Message(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};

static SELF_SUBJECT_RULES_REVIEW_SPEC: MessageSchema = MessageSchema {
    name: "SelfSubjectRulesReviewSpec",
    fields: &[one(1, "namespace", String)],
};

static RESOURCE_RULE: MessageSchema = MessageSchema {
    name: "ResourceRule",
    fields: &[
        many(1, "verbs", String),
        many(2, "apiGroups", String),
        many(3, "resources", String),
        many(4, "resourceNames", String),
    ],
};

static NON_RESOURCE_RULE: MessageSchema = MessageSchema {
    name: "NonResourceRule",
    fields: &[many(1, "verbs", String), many(2, "nonResourceURLs", String)],
};

static SUBJECT_RULES_REVIEW_STATUS: MessageSchema = MessageSchema {
    name: "SubjectRulesReviewStatus",
    fields: &[
        many(1, "resourceRules", Message(&RESOURCE_RULE)),
        many(2, "nonResourceRules", Message(&NON_RESOURCE_RULE)),
        one(3, "incomplete", Bool),
        one(4, "evaluationError", String),
    ],
};

pub static SELF_SUBJECT_RULES_REVIEW: MessageSchema = MessageSchema {
    name: "SelfSubjectRulesReview",
    fields: &[
        METADATA,
        one(2, "spec", Message(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
        one(3, "status", Message(&SUBJECT_RULES_REVIEW_STATUS)),
    ],
};

static USER_INFO: MessageSchema = MessageSchema {
    name: "UserInfo",
    fields: &[
        one(1, "username", String),
        one(2, "uid", String),
        many(3, "groups", String),
    ],
};

static SELF_SUBJECT_REVIEW_STATUS: MessageSchema = MessageSchema {
    name: "SelfSubjectReviewStatus",
    fields: &[one(1, "userInfo", Message(&USER_INFO))],
};

pub static SELF_SUBJECT_REVIEW: MessageSchema = MessageSchema {
    name: "SelfSubjectReview",
    fields: &[
        METADATA,
        one(2, "status", Message(&SELF_SUBJECT_REVIEW_STATUS)),
    ],
};
