//! The API access volume end to end: admission adds it to a pod, the node requests a
//! token bound to the pod through TokenRequest and writes it with the cluster CA and the
//! namespace, a guest reads them at the well-known path, and the token it read
//! authenticates as the pod's ServiceAccount.

mod support;

use std::time::Duration;

use support::{NODE_NAME, TestCluster, phase, testbox};
use wasmkube_control_plane::auth::service_account_token::{
    NODE_NAME_EXTRA, POD_NAME_EXTRA, POD_UID_EXTRA, ServiceAccountTokenIssuer,
};

const TIMEOUT: Duration = Duration::from_secs(20);
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_reads_its_token_ca_and_namespace_and_the_token_authenticates() {
    let cluster = TestCluster::start().await;
    let image = testbox();
    // Created at once: until the controller has made the `default` account, the node's
    // token request fails and the volume is set up again later.
    let created = cluster
        .create_pod(&format!(
            r#"
metadata: {{name: reader}}
spec:
  restartPolicy: Never
  containers:
  - name: token
    image: {image}
    args: [cat, {MOUNT_PATH}/token]
  - name: ca
    image: {image}
    args: [cat, {MOUNT_PATH}/ca.crt]
  - name: namespace
    image: {image}
    args: [cat, {MOUNT_PATH}/namespace]
"#
        ))
        .await;
    let pod_uid = created.metadata.uid.clone().expect("a uid");
    cluster
        .wait_for("reader", TIMEOUT, |pod| phase(pod) == "Succeeded")
        .await;

    assert_eq!(cluster.logs("reader", "namespace").await, "default\n");
    assert_eq!(
        cluster.logs("reader", "ca").await,
        cluster.control_plane.authority.certificate_pem()
    );
    let token = cluster.logs("reader", "token").await;
    let token = token.trim_end();
    let issuer =
        ServiceAccountTokenIssuer::load_or_create(&cluster.data_dir().join("server").join("tls"))
            .expect("the server's signing key");
    let user = issuer
        .authenticate(token, &cluster.control_plane.storage)
        .expect("the token is accepted")
        .expect("the token is a ServiceAccount token");
    assert_eq!(user.username, "system:serviceaccount:default:default");
    assert!(user.in_group("system:serviceaccounts:default"));
    let extra = |key: &str| user.extra.get(key).cloned().unwrap_or_default();
    assert_eq!(extra(POD_NAME_EXTRA), ["reader"]);
    assert_eq!(extra(POD_UID_EXTRA), [pod_uid]);
    assert_eq!(extra(NODE_NAME_EXTRA), [NODE_NAME]);

    // Bound to the pod: once the pod is gone, so is the token's validity.
    cluster
        .pods()
        .delete("reader", &kube::api::DeleteParams::default())
        .await
        .expect("the pod is deleted");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match issuer.authenticate(token, &cluster.control_plane.storage) {
            Err(error) => {
                assert_eq!(
                    error.to_string(),
                    "service account token has been invalidated"
                );
                break;
            }
            Ok(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "the token still authenticates after its pod was deleted"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
