//! The default policy (Kubernetes' plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the
//! ClusterRoles every cluster starts with and the ClusterRoleBindings that give them to
//! the system groups, created and reconciled when the API server starts.
//!
//! Rules are written as kube-apiserver stores them (its rule builder sorts verbs,
//! resources and URLs). Kinds wasmkube does not serve stay in the roles, as they are in
//! Kubernetes, so a role reads the same on both.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::index::RBAC_GROUP;
use super::reconcile::AUTO_UPDATE_ANNOTATION;
use crate::auth::user::{
    AUTHENTICATED_GROUP, BOOTSTRAPPERS_GROUP, MASTERS_GROUP, NODES_GROUP, UNAUTHENTICATED_GROUP,
};

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EVENTS: &str = "events.k8s.io";
const EXTENSIONS: &str = "extensions";
const METRICS: &str = "metrics.k8s.io";
const NETWORKING: &str = "networking.k8s.io";
const POLICY: &str = "policy";
const RESOURCE: &str = "resource.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// The group of clients allowed to read the API server's metrics.
const MONITORING_GROUP: &str = "system:monitoring";

/// The ClusterRole that lets nodes pull images from the built-in image store.
pub const IMAGE_READER_ROLE: &str = "system:wasmkube:image-reader";
/// A ClusterRole for pushing images (`wasmkube image push`), bound to nobody by default:
/// cluster administrators may push anyway.
pub const IMAGE_PUSHER_ROLE: &str = "system:wasmkube:image-pusher";

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

fn sorted(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|&item| item.to_owned()).collect();
    items.sort();
    items
}

/// A resource rule, as `rbacv1helpers.NewRule(verbs).Groups(groups).Resources(resources)`.
fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: sorted(verbs),
        api_groups: Some(groups.iter().map(|&group| group.to_owned()).collect()),
        resources: Some(sorted(resources)),
        ..PolicyRule::default()
    }
}

/// A non-resource rule, as `NewRule(verbs).URLs(urls)`.
fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: sorted(verbs),
        non_resource_urls: Some(sorted(urls)),
        ..PolicyRule::default()
    }
}

/// The default labels and annotation, and any more labels.
fn metadata(name: &str, extra_labels: &[(&str, &str)]) -> ObjectMeta {
    let mut labels = BTreeMap::from([(
        "kubernetes.io/bootstrapping".to_owned(),
        "rbac-defaults".to_owned(),
    )]);
    for (key, value) in extra_labels {
        labels.insert((*key).to_owned(), (*value).to_owned());
    }
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            AUTO_UPDATE_ANNOTATION.to_owned(),
            "true".to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

fn role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    labelled_role(name, &[], rules)
}

fn labelled_role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, labels),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// A role whose rules are those of the roles labelled `aggregate_label: "true"`.
fn aggregated_role(name: &str, labels: &[(&str, &str)], aggregate_label: &str) -> ClusterRole {
    ClusterRole {
        metadata: metadata(name, labels),
        rules: None,
        aggregation_rule: Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    aggregate_label.to_owned(),
                    "true".to_owned(),
                )])),
                match_expressions: None,
            }]),
        }),
    }
}

fn aggregate_to_edit_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            READ,
            &[CORE],
            &[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[CORE], &["serviceaccounts"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ],
        ),
        rule(&["create"], &[CORE], &["pods/eviction"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
            ],
        ),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        rule(WRITE, &[CORE, EVENTS], &["events"]),
        rule(
            WRITE,
            &[APPS],
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, &[AUTOSCALING], &["horizontalpodautoscalers"]),
        rule(WRITE, &[BATCH], &["jobs", "cronjobs"]),
        rule(
            WRITE,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(WRITE, &[POLICY], &["poddisruptionbudgets"]),
        rule(WRITE, &[NETWORKING], &["networkpolicies", "ingresses"]),
        rule(READ_WRITE, &[COORDINATION], &["leases"]),
        rule(
            WRITE,
            &[RESOURCE],
            &["resourceclaims", "resourceclaimtemplates"],
        ),
    ]
}

fn aggregate_to_view_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            READ,
            &[CORE],
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        rule(
            READ,
            &[CORE],
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        // Reading namespaces at the namespace scope reads *this* namespace: a way to
        // tell which namespaces one has access to.
        rule(READ, &[CORE], &["namespaces"]),
        rule(READ, &[CORE, EVENTS], &["events"]),
        rule(READ, &[DISCOVERY], &["endpointslices"]),
        rule(
            READ,
            &[APPS],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        rule(
            READ,
            &[AUTOSCALING],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &[BATCH],
            &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
        ),
        rule(
            READ,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(
            READ,
            &[POLICY],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &[NETWORKING],
            &["networkpolicies", "ingresses", "ingresses/status"],
        ),
        rule(
            READ,
            &[RESOURCE],
            &[
                "resourceclaims",
                "resourceclaims/status",
                "resourceclaimtemplates",
            ],
        ),
    ]
}

/// The default ClusterRoles.
pub fn bootstrap_cluster_roles() -> Vec<ClusterRole> {
    vec![
        // A "root" role that can do anything.
        role(
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])],
        ),
        // Just enough to tell whether the server is ready and to discover its API.
        role(
            "system:discovery",
            vec![url_rule(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        role(
            "system:monitoring",
            vec![url_rule(
                &["get"],
                &[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                    "/statusz",
                ],
            )],
        ),
        // What a user needs to learn about themselves.
        role(
            "system:basic-user",
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(&["create"], &[AUTHENTICATION], &["selfsubjectreviews"]),
            ],
        ),
        // Cluster information that is not sensitive, for everyone.
        role(
            "system:public-info-viewer",
            vec![url_rule(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        // A namespace administrator: edit, and granting permissions to others.
        aggregated_role("admin", &[], AGGREGATE_TO_ADMIN),
        // Everything a user does in a namespace, without the system's `/status`
        // subresources or the quota and limits that control namespaces.
        aggregated_role("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        // Reading what is not an escalation in a namespace (secrets are not read).
        aggregated_role("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        labelled_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["localsubjectaccessreviews"],
                ),
                rule(READ_WRITE, &[RBAC_GROUP], &["roles", "rolebindings"]),
            ],
        ),
        labelled_role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            aggregate_to_edit_rules(),
        ),
        labelled_role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            aggregate_to_view_rules(),
        ),
        // metrics-server's role for `kubectl top`, which wasmkube serves itself.
        labelled_role(
            "system:aggregated-metrics-reader",
            &[
                ("k8s-app", "metrics-server"),
                (AGGREGATE_TO_ADMIN, "true"),
                (AGGREGATE_TO_EDIT, "true"),
                (AGGREGATE_TO_VIEW, "true"),
            ],
            vec![rule(READ, &[METRICS], &["pods", "nodes"])],
        ),
        // A node's client certificate: request it and wait for it to be signed.
        role(
            "system:node-bootstrapper",
            vec![rule(
                &["create", "get", "list", "watch"],
                &[CERTIFICATES],
                &["certificatesigningrequests"],
            )],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![rule(
                &["create"],
                &[CERTIFICATES],
                &["certificatesigningrequests/nodeclient"],
            )],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![rule(
                &["create"],
                &[CERTIFICATES],
                &["certificatesigningrequests/selfnodeclient"],
            )],
        ),
        role(
            IMAGE_READER_ROLE,
            vec![url_rule(&["get"], &["/wasmkube/v1/*"])],
        ),
        role(
            IMAGE_PUSHER_ROLE,
            vec![url_rule(
                &["get", "head", "post", "put"],
                &["/wasmkube/v1/*"],
            )],
        ),
    ]
}

fn group(name: &str) -> Subject {
    Subject {
        kind: "Group".to_owned(),
        api_group: Some(RBAC_GROUP.to_owned()),
        name: name.to_owned(),
        namespace: None,
    }
}

/// A binding named like its ClusterRole, as `NewClusterBinding(role).Groups(groups)`.
fn binding(role: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: metadata(role, &[]),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.to_owned(),
            kind: "ClusterRole".to_owned(),
            name: role.to_owned(),
        },
        subjects: Some(groups.iter().map(|name| group(name)).collect()),
    }
}

/// The default ClusterRoleBindings.
pub fn bootstrap_cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        binding("cluster-admin", &[MASTERS_GROUP]),
        binding("system:monitoring", &[MONITORING_GROUP]),
        binding("system:discovery", &[AUTHENTICATED_GROUP]),
        binding("system:basic-user", &[AUTHENTICATED_GROUP]),
        binding(
            "system:public-info-viewer",
            &[AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP],
        ),
        // What kubeadm binds for TLS bootstrapping: a bootstrap token may ask for a
        // node client certificate, and a node may renew its own.
        binding("system:node-bootstrapper", &[BOOTSTRAPPERS_GROUP]),
        binding(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            &[BOOTSTRAPPERS_GROUP],
        ),
        binding(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            &[NODES_GROUP],
        ),
        binding(IMAGE_READER_ROLE, &[NODES_GROUP]),
    ]
}
