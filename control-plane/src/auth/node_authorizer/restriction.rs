//! The part of Kubernetes' NodeRestriction admission plugin that the node authorizer
//! cannot decide: on create, the object's name is in the body rather than the path, so
//! the authorizer allows a node to create Nodes and node Leases and this check, run on
//! the decoded body, holds it to its own. It also refuses a node every pod it would
//! create, whoever authorized it: Kubernetes lets nodes create only mirror pods, which
//! wasmkube does not have.

use serde_json::Value;

use super::NODE_LEASE_NAMESPACE;
use crate::auth::UserInfo;

/// Why a node may not create an object, in NodeRestriction's words.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NodeRestrictionError {
    #[error("node {node:?} is not allowed to modify node {requested:?}")]
    OtherNode { node: String, requested: String },
    #[error("can only access leases in the \"kube-node-lease\" system namespace")]
    LeaseNamespace,
    #[error("can only access node lease with the same name as the requesting node")]
    OtherLease,
    #[error(
        "pod does not have \"{MIRROR_POD_ANNOTATION}\" annotation, node {node:?} can only create mirror pods"
    )]
    NotMirrorPod { node: String },
    #[error("node {node:?} cannot create mirror pods: wasmkube does not support them")]
    MirrorPodsUnsupported { node: String },
}

/// The annotation that marks a kubelet's mirror of a static pod.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Admits the creation of `object` (a resource of `api_group`, in `namespace`; not a
/// subresource such as pods/binding) by `user`. Only nodes are restricted, and only for
/// Nodes, Leases and Pods; everything else a node may create was decided by the
/// authorizer.
pub fn admit_create(
    user: &UserInfo,
    api_group: &str,
    resource: &str,
    namespace: &str,
    object: &Value,
) -> Result<(), NodeRestrictionError> {
    let Some(node) = user.node_name() else {
        return Ok(());
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (api_group, resource) {
        ("", "nodes") if name != node => Err(NodeRestrictionError::OtherNode {
            node: node.to_owned(),
            requested: name.to_owned(),
        }),
        ("coordination.k8s.io", "leases") if namespace != NODE_LEASE_NAMESPACE => {
            Err(NodeRestrictionError::LeaseNamespace)
        }
        ("coordination.k8s.io", "leases") if name != node => Err(NodeRestrictionError::OtherLease),
        ("", "pods")
            if object
                .pointer("/metadata/annotations")
                .and_then(|annotations| annotations.get(MIRROR_POD_ANNOTATION))
                .is_some() =>
        {
            Err(NodeRestrictionError::MirrorPodsUnsupported {
                node: node.to_owned(),
            })
        }
        ("", "pods") => Err(NodeRestrictionError::NotMirrorPod {
            node: node.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Admits an update or patch of the named object (or its subresource) by `user`, as
/// NodeRestriction does: a node may modify only its own Node. The authorizer lets nodes
/// update and patch Nodes, as Kubernetes' does, so that this check answers with
/// Kubernetes' own message.
pub fn admit_modification(
    user: &UserInfo,
    api_group: &str,
    resource: &str,
    name: &str,
) -> Result<(), NodeRestrictionError> {
    match (user.node_name(), api_group, resource) {
        (Some(node), "", "nodes") if name != node => Err(NodeRestrictionError::OtherNode {
            node: node.to_owned(),
            requested: name.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_node_modifies_only_its_own_node() {
        let node = UserInfo::node("n1");
        assert_eq!(admit_modification(&node, "", "nodes", "n1"), Ok(()));
        assert_eq!(
            admit_modification(&node, "", "nodes", "n2")
                .expect_err("another node")
                .to_string(),
            "node \"n1\" is not allowed to modify node \"n2\""
        );
        let admin = UserInfo::api_server();
        assert_eq!(admit_modification(&admin, "", "nodes", "n2"), Ok(()));
        assert_eq!(admit_modification(&node, "", "pods", "p"), Ok(()));
    }

    use super::*;

    #[test]
    fn a_node_creates_only_its_own_node_and_lease() {
        let node = UserInfo::node("n1");
        let named = |name: &str| json!({"metadata": {"name": name}});
        assert_eq!(admit_create(&node, "", "nodes", "", &named("n1")), Ok(()));
        assert_eq!(
            admit_create(&node, "", "nodes", "", &named("n2"))
                .unwrap_err()
                .to_string(),
            "node \"n1\" is not allowed to modify node \"n2\""
        );
        assert!(
            admit_create(
                &node,
                "",
                "nodes",
                "",
                &json!({"metadata": {"generateName": "n"}})
            )
            .is_err()
        );
        assert_eq!(
            admit_create(
                &node,
                "coordination.k8s.io",
                "leases",
                "kube-node-lease",
                &named("n1")
            ),
            Ok(())
        );
        assert_eq!(
            admit_create(
                &node,
                "coordination.k8s.io",
                "leases",
                "kube-node-lease",
                &named("n2")
            ),
            Err(NodeRestrictionError::OtherLease)
        );
        assert_eq!(
            admit_create(
                &node,
                "coordination.k8s.io",
                "leases",
                "default",
                &named("n1")
            )
            .unwrap_err()
            .to_string(),
            "can only access leases in the \"kube-node-lease\" system namespace"
        );
        assert_eq!(
            admit_create(&node, "", "events", "default", &named("x")),
            Ok(())
        );
    }

    #[test]
    fn a_node_creates_no_pods() {
        let node = UserInfo::node("n1");
        let plain = json!({"metadata": {"name": "p", "namespace": "default"}});
        assert_eq!(
            admit_create(&node, "", "pods", "default", &plain)
                .unwrap_err()
                .to_string(),
            "pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods"
        );
        let mirror =
            json!({"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}}});
        assert_eq!(
            admit_create(&node, "", "pods", "default", &mirror),
            Err(NodeRestrictionError::MirrorPodsUnsupported {
                node: "n1".to_owned()
            })
        );
        assert_eq!(
            admit_create(&UserInfo::api_server(), "", "pods", "default", &plain),
            Ok(())
        );
    }

    #[test]
    fn other_users_are_not_restricted() {
        let admin = UserInfo::api_server();
        let named = json!({"metadata": {"name": "n2"}});
        assert_eq!(admit_create(&admin, "", "nodes", "", &named), Ok(()));
        let alice = UserInfo::authenticated("alice", &[]);
        assert_eq!(
            admit_create(
                &alice,
                "coordination.k8s.io",
                "leases",
                "kube-node-lease",
                &named
            ),
            Ok(())
        );
    }
}
