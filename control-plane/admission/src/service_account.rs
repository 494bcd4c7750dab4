//! The ServiceAccount admission plugin's changes to a new pod, given its ServiceAccount:
//! the API access volume (a projected ServiceAccount token, the cluster CA and the
//! namespace) mounted read-only into every container at the well-known path, unless
//! the pod or its account opts out, and the account's image pull secrets when the pod
//! names none. The default account name is set earlier, with the create-time defaults.

use serde_json::{Map, Value, json};

/// The prefix of the API access volume's name; five random characters follow.
pub const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";
/// Where every container finds `token`, `ca.crt` and `namespace`.
pub const DEFAULT_API_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The ConfigMap, published in every namespace, that holds the cluster CA.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// The lifetime the volume's token asks for: an hour and seven seconds, the marker the
/// API server recognizes as an automounted token.
pub const AUTOMOUNTED_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
/// Mirror pods (static pods' reflections) are never changed.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The alphabet of generated name suffixes (apimachinery's `utilrand`): no vowels and no
/// look-alike digits, so no words and no confusion.
const NAME_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The five-character suffix of a generated name, from five random bytes.
pub fn name_suffix(random: [u8; 5]) -> String {
    random
        .iter()
        .map(|byte| NAME_SUFFIX_ALPHABET[usize::from(*byte) % NAME_SUFFIX_ALPHABET.len()] as char)
        .collect()
}

/// The projected volume source of the API access volume (`TokenVolumeSource`).
pub fn token_volume_source() -> Value {
    json!({
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": AUTOMOUNTED_TOKEN_EXPIRATION_SECONDS}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    })
}

fn is_mirror_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|annotations| annotations.contains_key(MIRROR_POD_ANNOTATION))
}

/// The pod's preference wins, then the account's; both unset means mount.
fn should_automount(spec: &Map<String, Value>, service_account: Option<&Value>) -> bool {
    if let Some(pod_choice) = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
    {
        return pod_choice;
    }
    service_account
        .and_then(|account| account.get("automountServiceAccountToken"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// Changes a new pod as the ServiceAccount plugin does. `service_account` is the pod's
/// account as stored, `None` when it does not exist (then only the pod's own choice
/// decides); `volume_name_suffix` makes the volume's name when the pod has no API access
/// volume yet.
pub fn admit_pod(pod: &mut Value, service_account: Option<&Value>, volume_name_suffix: &str) {
    if is_mirror_pod(pod) {
        return;
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if should_automount(spec, service_account) {
        mount_service_account_token(spec, volume_name_suffix);
    }
    let pod_has_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|secrets| !secrets.is_empty());
    let account_pull_secrets: Vec<Value> = service_account
        .and_then(|account| account.get("imagePullSecrets"))
        .and_then(Value::as_array)
        .map(|secrets| {
            secrets
                .iter()
                .filter_map(|secret| secret.get("name").cloned())
                .map(|name| json!({"name": name}))
                .collect()
        })
        .unwrap_or_default();
    if !pod_has_pull_secrets && !account_pull_secrets.is_empty() {
        spec.insert(
            "imagePullSecrets".to_owned(),
            Value::Array(account_pull_secrets),
        );
    }
}

/// Adds the read-only mount to every init and app container that has nothing mounted
/// at the path, and the volume if one of them needed it and the pod has none yet.
fn mount_service_account_token(spec: &mut Map<String, Value>, volume_name_suffix: &str) {
    let existing_volume = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|volume| volume.get("name").and_then(Value::as_str))
        .find(|name| name.starts_with(TOKEN_VOLUME_PREFIX))
        .map(str::to_owned);
    let volume_name = existing_volume
        .clone()
        .unwrap_or_else(|| format!("{TOKEN_VOLUME_PREFIX}{volume_name_suffix}"));
    let mount =
        json!({"name": volume_name, "readOnly": true, "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH});
    let mut needs_volume = false;
    for containers_key in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(containers_key).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            if matches!(container.get("volumeMounts"), Some(Value::Null)) {
                container.remove("volumeMounts");
            }
            let Some(mounts) = container
                .entry("volumeMounts")
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
            else {
                continue;
            };
            let already_mounted = mounts.iter().any(|existing| {
                existing.get("mountPath").and_then(Value::as_str)
                    == Some(DEFAULT_API_TOKEN_MOUNT_PATH)
            });
            if !already_mounted {
                mounts.push(mount.clone());
                needs_volume = true;
            }
        }
    }
    if existing_volume.is_none() && needs_volume {
        if matches!(spec.get("volumes"), Some(Value::Null)) {
            spec.remove("volumes");
        }
        if let Some(volumes) = spec
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            volumes.push(json!({"name": volume_name, "projected": token_volume_source()}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "apps"}, "spec": spec})
    }

    #[test]
    fn every_container_mounts_one_new_api_access_volume() {
        let mut pod = pod(json!({
            "initContainers": [{"name": "setup", "image": "setup"}],
            "containers": [
                {"name": "web", "image": "web", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "side", "image": "side"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }));
        admit_pod(
            &mut pod,
            Some(&json!({"metadata": {"name": "default"}})),
            "x7k2p",
        );
        let mount = json!({"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH});
        assert_eq!(
            pod["spec"]["initContainers"][0]["volumeMounts"],
            json!([mount])
        );
        assert_eq!(
            pod["spec"]["containers"][0]["volumeMounts"],
            json!([{"name": "data", "mountPath": "/data"}, mount])
        );
        assert_eq!(pod["spec"]["containers"][1]["volumeMounts"], json!([mount]));
        assert_eq!(
            pod["spec"]["volumes"],
            json!([
                {"name": "data", "emptyDir": {}},
                {"name": "kube-api-access-x7k2p", "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                    ],
                }},
            ])
        );
    }

    #[test]
    fn automount_false_on_the_pod_or_its_account_is_honoured_and_the_pod_wins() {
        let opted_out_account = json!({"automountServiceAccountToken": false});
        let mut pod_following_account =
            pod(json!({"containers": [{"name": "web", "image": "web"}]}));
        admit_pod(
            &mut pod_following_account,
            Some(&opted_out_account),
            "abcde",
        );
        assert!(pod_following_account["spec"].get("volumes").is_none());
        assert!(
            pod_following_account["spec"]["containers"][0]
                .get("volumeMounts")
                .is_none()
        );

        let mut pod_opting_in = pod(
            json!({"automountServiceAccountToken": true, "containers": [{"name": "web", "image": "web"}]}),
        );
        admit_pod(&mut pod_opting_in, Some(&opted_out_account), "abcde");
        assert_eq!(
            pod_opting_in["spec"]["volumes"][0]["name"],
            "kube-api-access-abcde"
        );

        let mut pod_opting_out = pod(
            json!({"automountServiceAccountToken": false, "containers": [{"name": "web", "image": "web"}]}),
        );
        admit_pod(&mut pod_opting_out, None, "abcde");
        assert!(pod_opting_out["spec"].get("volumes").is_none());
    }

    #[test]
    fn existing_mounts_and_volumes_are_kept() {
        let mut pod = pod(json!({
            "containers": [
                {"name": "own", "image": "web", "volumeMounts": [{"name": "mine", "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}]},
                {"name": "plain", "image": "web"},
            ],
            "volumes": [{"name": "mine", "emptyDir": {}}, {"name": "kube-api-access-old00", "projected": {"sources": []}}],
        }));
        admit_pod(&mut pod, None, "new00");
        assert_eq!(
            pod["spec"]["containers"][0]["volumeMounts"],
            json!([{"name": "mine", "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}])
        );
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"][0]["name"],
            "kube-api-access-old00"
        );
        assert_eq!(pod["spec"]["volumes"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn mirror_pods_are_left_alone_and_pull_secrets_come_from_the_account() {
        let mut mirror = pod(json!({"containers": [{"name": "web", "image": "web"}]}));
        mirror["metadata"]["annotations"] = json!({MIRROR_POD_ANNOTATION: "hash"});
        let before = mirror.clone();
        admit_pod(&mut mirror, None, "abcde");
        assert_eq!(mirror, before);

        let account = json!({"automountServiceAccountToken": false, "imagePullSecrets": [{"name": "registry"}]});
        let mut plain = pod(json!({"containers": [{"name": "web", "image": "web"}]}));
        admit_pod(&mut plain, Some(&account), "abcde");
        assert_eq!(
            plain["spec"]["imagePullSecrets"],
            json!([{"name": "registry"}])
        );
        let mut own = pod(
            json!({"imagePullSecrets": [{"name": "mine"}], "containers": [{"name": "web", "image": "web"}]}),
        );
        admit_pod(&mut own, Some(&account), "abcde");
        assert_eq!(own["spec"]["imagePullSecrets"], json!([{"name": "mine"}]));
    }

    #[test]
    fn name_suffixes_use_kubernetes_alphabet() {
        assert_eq!(name_suffix([0, 1, 2, 26, 27]), "bcd9b");
    }
}
