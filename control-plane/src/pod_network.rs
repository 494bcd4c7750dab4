//! The pod network's cluster-wide settings, which every node agent watches:
//! `kube-system/wasmkube-pod-network`, a ConfigMap with the egress policy (from the
//! server's `--allow-egress`, rewritten at every start) and a Secret with the token that
//! node agents' tunnels authenticate each other with (made once, at random).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "wasmkube-pod-network";
pub const EGRESS_KEY: &str = "egress";
pub const TUNNEL_TOKEN_KEY: &str = "tunnel-token";

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
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    if secrets.get_opt(NAME).await?.is_none() {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let secret = Secret {
            metadata: metadata(),
            data: Some(BTreeMap::from([(
                TUNNEL_TOKEN_KEY.to_owned(),
                ByteString(token.into_bytes()),
            )])),
            ..Secret::default()
        };
        match secrets.create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 409 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
