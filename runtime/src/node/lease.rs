//! The node's Lease in `kube-node-lease`: renewed every few seconds, it is how the
//! control plane knows the node is alive (a cheap write, unlike the whole Node status).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Kubernetes' default node lease duration.
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// Creates or renews the lease, owned by the Node so that it goes when the Node does.
pub async fn renew_lease(
    client: &kube::Client,
    node_name: &str,
    node_uid: Option<&str>,
) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let now = Timestamp::now().to_string();
    let spec = json!({
        "holderIdentity": node_name,
        "leaseDurationSeconds": LEASE_DURATION_SECONDS,
        "renewTime": now,
    });
    let patch = Patch::Merge(json!({"spec": spec}));
    match leases
        .patch(node_name, &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(response)) if response.code == 404 => {
            let owner = node_uid.map(
                |uid| json!([{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": uid}]),
            );
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": node_name, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": owner},
                "spec": spec,
            }))
            .map_err(kube::Error::SerdeError)?;
            leases
                .create(&PostParams::default(), &lease)
                .await
                .map(drop)
        }
        Err(error) => Err(error),
    }
}

/// How often the lease is renewed: a quarter of its duration would be the kubelet's
/// 10 s; a shorter interval lets a lost node be noticed sooner.
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(5);
