//! The node authorizer's rules, one function per family of resources. Every refusal is
//! a `NoOpinion` whose reason says why, so that RBAC may still allow the request and a
//! final 403 explains itself; the node authorizer never denies outright.

use super::NODE_LEASE_NAMESPACE;
use super::feed::SharedGraph;
use super::references::ReferencedKind;
use super::selectors::{required_values, requires};
use crate::auth::Decision;
use crate::pod_network;

/// A resource request from the node `node`.
pub struct NodeRequest<'a> {
    pub node: &'a str,
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub field_selector: Option<&'a str>,
}

impl NodeRequest<'_> {
    fn resource_text(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

fn refuse(reason: impl Into<String>) -> Decision {
    Decision::NoOpinion(reason.into())
}

fn no_relationship(node: &str) -> Decision {
    refuse(format!(
        "no relationship found between node '{node}' and this object"
    ))
}

fn no_object_name() -> Decision {
    refuse("No Object name found")
}

pub fn decide(request: &NodeRequest<'_>, graph: &SharedGraph) -> Decision {
    match (request.api_group, request.resource) {
        ("", "pods") => pods(request, graph),
        ("", "secrets") => read_referenced(request, graph, ReferencedKind::Secret),
        ("", "configmaps") if reads_pod_network_settings(request) => Decision::Allow,
        ("", "configmaps") => read_referenced(request, graph, ReferencedKind::ConfigMap),
        ("", "persistentvolumeclaims") => {
            read_referenced(request, graph, ReferencedKind::PersistentVolumeClaim)
        }
        ("", "serviceaccounts") => service_accounts(request, graph),
        ("", "nodes") => nodes(request),
        ("coordination.k8s.io", "leases") => leases(request),
        ("" | "events.k8s.io", "events") => events(request),
        ("", "services" | "endpoints" | "namespaces") | ("discovery.k8s.io", "endpointslices") => {
            read_only(request)
        }
        ("certificates.k8s.io", "certificatesigningrequests") => signing_requests(request),
        _ => refuse(format!(
            "no rule of the node authorizer lets node '{}' {} {} in API group \"{}\"",
            request.node,
            request.verb,
            request.resource_text(),
            request.api_group
        )),
    }
}

/// Pods bound to the node: read one, list and watch them all by `spec.nodeName`,
/// report their status, and remove them once their containers stopped.
fn pods(request: &NodeRequest<'_>, graph: &SharedGraph) -> Decision {
    let node = request.node;
    match (request.subresource, request.verb) {
        ("", "get" | "delete") | ("status", "update" | "patch") => {
            if request.name.is_empty() {
                return no_object_name();
            }
            if graph.holds(|graph| graph.is_bound(request.namespace, request.name, node)) {
                Decision::Allow
            } else {
                no_relationship(node)
            }
        }
        ("", "list" | "watch") if requires(request.field_selector, "spec.nodeName", node) => {
            Decision::Allow
        }
        ("", "list" | "watch") => {
            refuse("can only list/watch pods with spec.nodeName field selector")
        }
        ("", "create") => refuse(format!(
            "node '{node}' cannot create pods: mirror pods are not supported"
        )),
        _ => refuse(format!(
            "node '{node}' can only get, list, watch and delete pods bound to it and update their status, not {} {}",
            request.verb,
            request.resource_text()
        )),
    }
}

/// The pod network's settings ConfigMap, which every node agent reflects with a
/// `metadata.name` field selector (`runtime/src/network/watch.rs`).
fn reads_pod_network_settings(request: &NodeRequest<'_>) -> bool {
    request.namespace == pod_network::NAMESPACE
        && request.subresource.is_empty()
        && match request.verb {
            "get" => request.name == pod_network::NAME,
            "list" | "watch" => {
                requires(request.field_selector, "metadata.name", pod_network::NAME)
            }
            _ => false,
        }
}

/// Secrets, configmaps and claims that a pod bound to the node references: read one by
/// name, or list and watch it alone with a `metadata.name` field selector.
fn read_referenced(
    request: &NodeRequest<'_>,
    graph: &SharedGraph,
    kind: ReferencedKind,
) -> Decision {
    if !matches!(request.verb, "get" | "list" | "watch") {
        return refuse("can only read resources of this type");
    }
    if !request.subresource.is_empty() {
        return refuse("cannot read subresource");
    }
    if request.namespace.is_empty() {
        return refuse("can only read namespaced object of this type");
    }
    let names = if request.verb == "get" {
        if request.name.is_empty() {
            return no_object_name();
        }
        vec![request.name]
    } else {
        required_values(request.field_selector, "metadata.name")
    };
    if names.is_empty() {
        return refuse(
            "can only list/watch individual objects of this type with a metadata.name field selector",
        );
    }
    // With several required names nothing matches; any one of them bounds the answer.
    let referenced = graph.holds(|graph| {
        names
            .iter()
            .any(|name| graph.is_referenced(kind, request.namespace, name, request.node))
    });
    if referenced {
        Decision::Allow
    } else {
        no_relationship(request.node)
    }
}

/// The ServiceAccount of a pod bound to the node: read it, and request its tokens.
fn service_accounts(request: &NodeRequest<'_>, graph: &SharedGraph) -> Decision {
    match (request.subresource, request.verb) {
        ("", "get") | ("token", "create") => {
            if request.name.is_empty() {
                return no_object_name();
            }
            let used = graph.holds(|graph| {
                graph.is_referenced(
                    ReferencedKind::ServiceAccount,
                    request.namespace,
                    request.name,
                    request.node,
                )
            });
            if used {
                Decision::Allow
            } else {
                no_relationship(request.node)
            }
        }
        ("token", _) => refuse("can only create tokens for individual service accounts"),
        _ => refuse("can only get service accounts and create their tokens"),
    }
}

/// Every Node may be read (the pod network routes to each); only its own may be
/// written. A create carries its name in the body: `restriction::admit_create` checks it.
fn nodes(request: &NodeRequest<'_>) -> Decision {
    let node = request.node;
    let own = request.name == node;
    match (request.subresource, request.verb) {
        ("", "get" | "list" | "watch") => Decision::Allow,
        ("", "create") if own || request.name.is_empty() => Decision::Allow,
        // Whose Node is checked by `restriction::admit_modification`, with Kubernetes'
        // NodeRestriction message.
        ("" | "status", "update" | "patch") => Decision::Allow,
        ("", "create") => refuse(format!(
            "node '{node}' is not allowed to modify node '{}'",
            request.name
        )),
        _ => refuse(format!(
            "node '{node}' can only read nodes and create, update or patch its own Node and its status"
        )),
    }
}

/// The node's own Lease in `kube-node-lease`, its heartbeat. As for Nodes, a create's
/// name is checked by `restriction::admit_create`.
fn leases(request: &NodeRequest<'_>) -> Decision {
    if request.namespace != NODE_LEASE_NAMESPACE {
        return refuse(format!(
            "can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"
        ));
    }
    if !request.subresource.is_empty() {
        return refuse("cannot access lease subresources");
    }
    let own = request.name == request.node;
    let other_lease =
        || refuse("can only access node lease with the same name as the requesting node");
    match request.verb {
        "get" | "update" | "patch" if own => Decision::Allow,
        "create" if own || request.name.is_empty() => Decision::Allow,
        "get" | "update" | "patch" | "create" => other_lease(),
        "list" | "watch" if requires(request.field_selector, "metadata.name", request.node) => {
            Decision::Allow
        }
        "list" | "watch" => {
            refuse("can only list/watch the node's own lease with a metadata.name field selector")
        }
        _ => refuse("can only get, create, update, patch, list or watch a node lease"),
    }
}

fn events(request: &NodeRequest<'_>) -> Decision {
    if request.subresource.is_empty() && matches!(request.verb, "create" | "update" | "patch") {
        Decision::Allow
    } else {
        refuse("can only create, update or patch events")
    }
}

/// What kube-proxy and cluster DNS read: services, endpoints, endpointslices and
/// namespaces.
fn read_only(request: &NodeRequest<'_>) -> Decision {
    if request.subresource.is_empty() && matches!(request.verb, "get" | "list" | "watch") {
        Decision::Allow
    } else {
        refuse(format!("can only get, list or watch {}", request.resource))
    }
}

/// A node renewing its own client certificate.
fn signing_requests(request: &NodeRequest<'_>) -> Decision {
    match (request.subresource, request.verb) {
        ("", "create" | "get" | "list" | "watch") | ("selfnodeclient", "create") => Decision::Allow,
        _ => refuse("can only create, get, list or watch certificate signing requests"),
    }
}
