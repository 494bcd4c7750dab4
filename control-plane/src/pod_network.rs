//! The pod network's cluster-wide settings, which every node agent watches:
//! `kube-system/wasmkube-pod-network`, a ConfigMap with the egress policy (from the
//! server's `--allow-egress`, rewritten at every start). Node agents' tunnels need no
//! shared secret: they authenticate each other with their certificates from the
//! cluster CA.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "wasmkube-pod-network";
pub const EGRESS_KEY: &str = "egress";

fn metadata() -> ObjectMeta {
    ObjectMeta {
        name: Some(NAME.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        ..ObjectMeta::default()
    }
}

pub async fn bootstrap(client: &kube::Client, allow_egress: bool) -> Result<(), kube::Error> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let egress = if allow_egress { "allow" } else { "deny" };
    let config = ConfigMap {
        metadata: metadata(),
        data: Some(BTreeMap::from([(EGRESS_KEY.to_owned(), egress.to_owned())])),
        ..ConfigMap::default()
    };
    if config_maps.get_opt(NAME).await?.is_some() {
        config_maps
            .patch(NAME, &PatchParams::default(), &Patch::Merge(&config))
            .await?;
    } else {
        config_maps.create(&PostParams::default(), &config).await?;
    }
    Ok(())
}
