//! The table of built-in resources, in discovery order.

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
    autoscaling::v1 as autoscaling_v1, autoscaling::v2 as autoscaling, batch::v1 as batch,
    certificates::v1 as certificates, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, rbac::v1 as rbac, scheduling::v1 as scheduling,
};

use super::ResourceType;
use super::codec::decode_typed;

const ALL: &[&str] = &["all"];
const STATUS: &[&str] = &["status"];
const NONE: &[&str] = &[];

macro_rules! resource {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, $namespaced:literal, $type:ty,
     short: $short:expr, categories: $categories:expr, sub: $sub:expr, generation: $generation:literal) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            namespaced: $namespaced,
            short_names: $short,
            categories: $categories,
            subresources: $sub,
            tracks_generation: $generation,
            create_only: false,
            codec: decode_typed::<$type>,
        }
    };
}

/// A cluster-scoped kind that is only ever created and never stored: an access review.
macro_rules! review {
    ($group:literal, $version:literal, $kind:literal, $plural:literal, decoded_as: $type:ty) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            namespaced: false,
            short_names: NONE,
            categories: NONE,
            subresources: NONE,
            tracks_generation: false,
            create_only: true,
            codec: decode_typed::<$type>,
        }
    };
}

pub static ALL_RESOURCES: &[ResourceType] = &[
    resource!("", "v1", "Namespace", "namespaces", false, core::Namespace, short: &["ns"], categories: NONE, sub: &["status", "finalize"], generation: false),
    resource!("", "v1", "Pod", "pods", true, core::Pod, short: &["po"], categories: ALL, sub: &["status", "binding", "log", "eviction", "portforward", "attach", "exec"], generation: false),
    resource!("", "v1", "Node", "nodes", false, core::Node, short: &["no"], categories: NONE, sub: STATUS, generation: false),
    resource!("", "v1", "Service", "services", true, core::Service, short: &["svc"], categories: ALL, sub: STATUS, generation: false),
    resource!("", "v1", "Endpoints", "endpoints", true, core::Endpoints, short: &["ep"], categories: NONE, sub: NONE, generation: false),
    resource!("", "v1", "ConfigMap", "configmaps", true, core::ConfigMap, short: &["cm"], categories: NONE, sub: NONE, generation: false),
    resource!("", "v1", "Secret", "secrets", true, core::Secret, short: NONE, categories: NONE, sub: NONE, generation: false),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", true, core::ServiceAccount, short: &["sa"], categories: NONE, sub: &["token"], generation: false),
    resource!("", "v1", "Event", "events", true, core::Event, short: &["ev"], categories: NONE, sub: NONE, generation: false),
    resource!("", "v1", "LimitRange", "limitranges", true, core::LimitRange, short: &["limits"], categories: NONE, sub: NONE, generation: false),
    resource!("", "v1", "ResourceQuota", "resourcequotas", true, core::ResourceQuota, short: &["quota"], categories: NONE, sub: STATUS, generation: false),
    resource!("apps", "v1", "Deployment", "deployments", true, apps::Deployment, short: &["deploy"], categories: ALL, sub: &["status", "scale"], generation: true),
    resource!("apps", "v1", "ReplicaSet", "replicasets", true, apps::ReplicaSet, short: &["rs"], categories: ALL, sub: &["status", "scale"], generation: true),
    resource!("apps", "v1", "DaemonSet", "daemonsets", true, apps::DaemonSet, short: &["ds"], categories: ALL, sub: STATUS, generation: true),
    resource!("apps", "v1", "StatefulSet", "statefulsets", true, apps::StatefulSet, short: &["sts"], categories: ALL, sub: &["status", "scale"], generation: true),
    review!("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", decoded_as: authentication::SelfSubjectReview),
    review!("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", decoded_as: authorization::SelfSubjectAccessReview),
    review!("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", decoded_as: authorization::SelfSubjectRulesReview),
    review!("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", decoded_as: authorization::SubjectAccessReview),
    resource!("batch", "v1", "Job", "jobs", true, batch::Job, short: NONE, categories: ALL, sub: STATUS, generation: true),
    resource!("batch", "v1", "CronJob", "cronjobs", true, batch::CronJob, short: &["cj"], categories: ALL, sub: STATUS, generation: true),
    resource!("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, autoscaling::HorizontalPodAutoscaler, short: &["hpa"], categories: ALL, sub: STATUS, generation: true),
    // Stored as autoscaling/v2 and converted (resources::conversion).
    resource!("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, autoscaling_v1::HorizontalPodAutoscaler, short: &["hpa"], categories: ALL, sub: STATUS, generation: true),
    resource!("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false, certificates::CertificateSigningRequest, short: &["csr"], categories: NONE, sub: &["status", "approval"], generation: false),
    resource!("coordination.k8s.io", "v1", "Lease", "leases", true, coordination::Lease, short: NONE, categories: NONE, sub: NONE, generation: false),
    resource!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, discovery::EndpointSlice, short: NONE, categories: NONE, sub: NONE, generation: true),
    resource!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, scheduling::PriorityClass, short: &["pc"], categories: NONE, sub: NONE, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "Role", "roles", true, rbac::Role, short: NONE, categories: NONE, sub: NONE, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, rbac::RoleBinding, short: NONE, categories: NONE, sub: NONE, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, rbac::ClusterRole, short: NONE, categories: NONE, sub: NONE, generation: false),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, rbac::ClusterRoleBinding, short: NONE, categories: NONE, sub: NONE, generation: false),
];

pub fn find_by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    ALL_RESOURCES.iter().find(|resource| {
        resource.group == group && resource.version == version && resource.plural == plural
    })
}

pub fn find_by_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceType> {
    ALL_RESOURCES.iter().find(|resource| {
        resource.group == group && resource.version == version && resource.kind == kind
    })
}

/// The (group, version) pairs served, core first, in discovery order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for resource in ALL_RESOURCES {
        if !pairs.contains(&(resource.group, resource.version)) {
            pairs.push((resource.group, resource.version));
        }
    }
    pairs
}
