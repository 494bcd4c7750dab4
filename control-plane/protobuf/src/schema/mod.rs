//! The layouts of the Kubernetes messages wasmkube reads as protobuf.
//!
//! Each message lists its fields by the number Kubernetes' `generated.proto` gives them
//! and by their JSON name, which in Kubernetes' `.proto` files is the field's name. The
//! kinds covered are those kubectl's typed `create` verbs send; a body of another kind
//! is refused with a message that says to send JSON instead. The layouts are grouped
//! by the area of the API they describe, one file each.

mod access_review;
mod autoscaling;
mod container;
mod core;
mod meta;
mod pod;
mod rbac;
mod scheduling;
mod security;
mod service;
mod token_request;
mod volumes;
mod volumes_in_tree;
mod workloads;

pub use meta::{INT_OR_STRING, TYPE_META};

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
    /// A Go struct embedded in its parent: a message of its own on the wire, whose
    /// fields JSON writes among the parent's.
    Inline(&'static MessageSchema),
    /// `meta.v1.Time`: a timestamp in whole seconds, an RFC 3339 string in JSON.
    Time,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `intstr.IntOrString`: a message on the wire, a number or a string in JSON.
    IntOrString,
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

const STRING_MAP: FieldKind = FieldKind::MapOf(&FieldKind::String);
const BYTES_MAP: FieldKind = FieldKind::MapOf(&FieldKind::Bytes);
const QUANTITY_MAP: FieldKind = FieldKind::MapOf(&FieldKind::Quantity);

/// The message that carries each (apiVersion, kind) this server reads as protobuf.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static MessageSchema> {
    let schema = match (api_version, kind) {
        // Kubernetes registers the options of a DELETE in every group version.
        (_, "DeleteOptions") => &meta::DELETE_OPTIONS,
        ("v1", "Namespace") => &core::NAMESPACE,
        ("v1", "ConfigMap") => &core::CONFIG_MAP,
        ("v1", "Secret") => &core::SECRET,
        ("v1", "ServiceAccount") => &core::SERVICE_ACCOUNT,
        ("v1", "ResourceQuota") => &core::RESOURCE_QUOTA,
        ("v1", "Service") => &service::SERVICE,
        ("scheduling.k8s.io/v1", "PriorityClass") => &core::PRIORITY_CLASS,
        ("apps/v1", "Deployment") => &workloads::DEPLOYMENT,
        ("batch/v1", "Job") => &workloads::JOB,
        ("batch/v1", "CronJob") => &workloads::CRON_JOB,
        ("autoscaling/v2", "HorizontalPodAutoscaler") => &autoscaling::HORIZONTAL_POD_AUTOSCALER,
        ("autoscaling/v1", "HorizontalPodAutoscaler") => &autoscaling::HORIZONTAL_POD_AUTOSCALER_V1,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            &access_review::SELF_SUBJECT_ACCESS_REVIEW
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            &access_review::SELF_SUBJECT_RULES_REVIEW
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => &access_review::SUBJECT_ACCESS_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &access_review::SELF_SUBJECT_REVIEW,
        ("authentication.k8s.io/v1", "TokenRequest") => &token_request::TOKEN_REQUEST,
        ("rbac.authorization.k8s.io/v1", "Role") => &rbac::ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &rbac::CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => {
            &rbac::ROLE_BINDING
        }
        _ => return None,
    };
    Some(schema)
}
