//! ServiceAccounts over real HTTP: the TokenRequest API (serviceaccounts/token) with its
//! defaults, limits and bound objects, the ServiceAccount controller's `default` account
//! and `kube-root-ca.crt` in every namespace, and the API access volume that admission
//! adds to pods.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Cluster, PODS, pod, start_cluster, start_cluster_with, text};
use wasmkube_control_plane::api::ApiOptions;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const ACCOUNTS: &str = "/api/v1/namespaces/default/serviceaccounts";
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// How long the controller may take to make or repair what it keeps.
const PATIENCE: Duration = Duration::from_secs(10);

fn token_path(account: &str) -> String {
    format!("{ACCOUNTS}/{account}/token")
}

fn token_request(spec: Value) -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
}

fn account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
}

/// The token's claims, read without verifying (the unit tests verify).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A pod that runs as `account`, left unscheduled.
async fn create_pod(cluster: &Cluster, name: &str, account: &str) -> Value {
    let mut pod = pod(name);
    pod["spec"]["serviceAccountName"] = json!(account);
    pod["spec"]["schedulerName"] = json!("manual");
    cluster.create(PODS, &pod).await
}

/// Polls `path` until the object exists and `done` accepts it.
async fn eventually(cluster: &Cluster, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = cluster.get(path).await;
        let object = (reply.status.as_u16() == 200).then(|| reply.json());
        if let Some(object) = object.as_ref().filter(|object| done(object)) {
            return object.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never became as expected; last seen: {object:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_token_request_answers_a_signed_token_with_defaults_and_the_asked_audience() {
    let cluster = start_cluster_with(ApiOptions {
        service_account_max_token_expiration_seconds: Some(48 * 3600),
        ..ApiOptions::default()
    })
    .await;
    let builder = cluster.create(ACCOUNTS, &account("builder")).await;

    let before = jiff::Timestamp::now().as_second();
    let answer = cluster
        .post(&token_path("builder"), &token_request(json!({})))
        .await
        .expect(201);
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(answer["metadata"]["name"], "builder");
    assert_eq!(answer["metadata"]["namespace"], "default");
    assert_eq!(answer["spec"]["audiences"], json!([ISSUER]));
    assert_eq!(answer["spec"]["expirationSeconds"], 3600);
    let expires: jiff::Timestamp = text(&answer, "/status/expirationTimestamp")
        .parse()
        .expect("an RFC 3339 time");
    assert!((before + 3600..=before + 3602).contains(&expires.as_second()));
    let token = text(&answer, "/status/token");
    let default_claims = claims(&token);
    assert_eq!(default_claims["iss"], ISSUER);
    assert_eq!(
        default_claims["sub"],
        "system:serviceaccount:default:builder"
    );
    assert_eq!(default_claims["aud"], json!([ISSUER]));
    assert_eq!(
        default_claims["kubernetes.io"],
        json!({"namespace": "default", "serviceaccount": {"name": "builder", "uid": text(&builder, "/metadata/uid")}})
    );

    let answer = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"audiences": ["vault", "ci"], "expirationSeconds": 1200})),
        )
        .await
        .expect(201);
    assert_eq!(answer["spec"]["audiences"], json!(["vault", "ci"]));
    assert_eq!(
        claims(&text(&answer, "/status/token"))["aud"],
        json!(["vault", "ci"])
    );
    let token = claims(&text(&answer, "/status/token"));
    assert_eq!(
        token["exp"]
            .as_i64()
            .zip(token["iat"].as_i64())
            .map(|(exp, iat)| exp - iat),
        Some(1200)
    );

    // Longer than the server's maximum: shortened, with Kubernetes' warning.
    let reply = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"expirationSeconds": 3 * 24 * 3600})),
        )
        .await;
    let answer = reply.expect(201);
    assert_eq!(answer["spec"]["expirationSeconds"], 48 * 3600);
    let warning = reply
        .headers
        .get(http::header::WARNING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        warning,
        "299 - \"requested expiration of 259200 seconds shortened to 172800 seconds\""
    );
}

#[tokio::test]
async fn a_pod_bound_token_names_the_pod_and_an_automounted_one_is_extended() {
    let cluster = start_cluster().await;
    cluster.create(ACCOUNTS, &account("builder")).await;
    let web = create_pod(&cluster, "web", "builder").await;
    let pod_uid = text(&web, "/metadata/uid");
    let bound = json!({"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": pod_uid});

    let answer = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"boundObjectRef": bound, "expirationSeconds": 3607})),
        )
        .await
        .expect(201);
    assert_eq!(answer["spec"]["boundObjectRef"], bound);
    assert_eq!(answer["spec"]["expirationSeconds"], 3607);
    let token = claims(&text(&answer, "/status/token"));
    assert_eq!(
        token["kubernetes.io"]["pod"],
        json!({"name": "web", "uid": pod_uid})
    );
    assert!(
        token["kubernetes.io"].get("node").is_none(),
        "an unscheduled pod has no node"
    );
    // The marker lifetime of an automounted token: valid for a year, warned after the hour.
    let iat = token["iat"].as_i64().expect("iat");
    assert_eq!(token["exp"].as_i64(), Some(iat + 365 * 24 * 3600));
    assert_eq!(
        token["kubernetes.io"]["warnafter"].as_i64(),
        Some(iat + 3607)
    );

    let error = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "0000"}})),
        )
        .await
        .expect_failure(409, "Conflict");
    assert_eq!(
        error["message"],
        "Operation cannot be fulfilled on Pod \"web\": the UID in the bound object reference (0000) does not match the UID in record. The object might have been deleted and then recreated"
    );

    cluster.create(ACCOUNTS, &account("other")).await;
    let error = cluster
        .post(
            &token_path("other"),
            &token_request(json!({"boundObjectRef": bound})),
        )
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        error["message"],
        "cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name."
    );

    let error = cluster
        .post(
            &token_path("builder"),
            &token_request(
                json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "ghost"}}),
            ),
        )
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(error["message"], "pods \"ghost\" not found");

    let error = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"boundObjectRef": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "web"}})),
        )
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        error["message"],
        "cannot bind token to object of type apps/v1, Kind=Deployment"
    );
}

#[tokio::test]
async fn bad_token_requests_are_refused_as_kubernetes_refuses_them() {
    let cluster = start_cluster().await;
    cluster.create(ACCOUNTS, &account("builder")).await;

    let error = cluster
        .post(&token_path("ghost"), &token_request(json!({})))
        .await
        .expect_failure(404, "NotFound");
    assert_eq!(error["message"], "serviceaccounts \"ghost\" not found");

    let error = cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"expirationSeconds": 60})),
        )
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        error["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );

    let mut renamed = token_request(json!({}));
    renamed["metadata"] = json!({"name": "someone-else"});
    let error = cluster
        .post(&token_path("builder"), &renamed)
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        error["message"],
        "TokenRequest.authentication.k8s.io \"builder\" is invalid: metadata.name: Invalid value: \"someone-else\": must match the service account name if specified"
    );

    let error = cluster
        .post(&token_path("builder"), &account("builder"))
        .await
        .expect_failure(400, "BadRequest");
    assert_eq!(
        error["message"],
        "the API version in the data (v1) does not match the expected API version (authentication.k8s.io/v1)"
    );
    cluster
        .post(
            &token_path("builder"),
            &token_request(json!({"audiences": "vault"})),
        )
        .await
        .expect_failure(400, "BadRequest");
    cluster
        .get(&token_path("builder"))
        .await
        .expect_failure(405, "MethodNotAllowed");
    cluster
        .post(
            "/api/v1/namespaces/default/configmaps/settings/token",
            &token_request(json!({})),
        )
        .await
        .expect_failure(404, "NotFound");
}

#[tokio::test]
async fn discovery_lists_the_token_subresource() {
    let cluster = start_cluster().await;
    let resources = cluster.get("/api/v1").await.expect(200);
    let token = resources["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|resource| resource["name"] == "serviceaccounts/token")
        .cloned()
        .expect("serviceaccounts/token is listed");
    assert_eq!(token["kind"], "TokenRequest");
    assert_eq!(token["group"], "authentication.k8s.io");
    assert_eq!(token["version"], "v1");
    assert_eq!(token["verbs"], json!(["create"]));
}

#[tokio::test]
async fn every_namespace_gets_a_default_account_and_the_cluster_ca_which_are_kept() {
    let cluster = start_cluster().await;
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    cluster.create("/api/v1/namespaces", &namespace).await;
    let account_path = "/api/v1/namespaces/team/serviceaccounts/default";
    let ca_path = "/api/v1/namespaces/team/configmaps/kube-root-ca.crt";
    let ca_pem = cluster.plane.authority.certificate_pem().to_owned();

    let first = eventually(&cluster, account_path, |_| true).await;
    let published = eventually(&cluster, ca_path, |_| true).await;
    assert_eq!(published["data"], json!({"ca.crt": ca_pem}));
    assert!(
        text(
            &published,
            "/metadata/annotations/kubernetes.io~1description"
        )
        .starts_with("Contains a CA bundle that can be used to verify the kube-apiserver")
    );

    cluster.delete(account_path).await.expect(200);
    let uid = text(&first, "/metadata/uid");
    eventually(&cluster, account_path, |account| {
        text(account, "/metadata/uid") != uid
    })
    .await;

    cluster
        .merge_patch(ca_path, &json!({"data": {"ca.crt": "not the CA"}}))
        .await
        .expect(200);
    eventually(&cluster, ca_path, |config_map| {
        config_map["data"] == json!({"ca.crt": ca_pem})
    })
    .await;
    cluster.delete(ca_path).await.expect(200);
    eventually(&cluster, ca_path, |config_map| {
        config_map["data"] == json!({"ca.crt": ca_pem})
    })
    .await;
}

#[tokio::test]
async fn pods_get_the_api_access_volume_unless_they_or_their_account_opt_out() {
    let cluster = start_cluster().await;
    cluster.create(ACCOUNTS, &account("builder")).await;
    let mut quiet = account("quiet");
    quiet["automountServiceAccountToken"] = json!(false);
    cluster.create(ACCOUNTS, &quiet).await;

    let mut with_init = pod("web");
    with_init["spec"]["serviceAccountName"] = json!("builder");
    with_init["spec"]["schedulerName"] = json!("manual");
    with_init["spec"]["initContainers"] =
        json!([{"name": "setup", "image": "registry.example/setup:1"}]);
    let web = cluster.create(PODS, &with_init).await;
    let volume = &web["spec"]["volumes"][0];
    let volume_name = text(volume, "/name");
    let suffix = volume_name
        .strip_prefix("kube-api-access-")
        .expect("the volume's prefix");
    assert!(
        suffix.len() == 5
            && suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{volume_name}"
    );
    assert_eq!(
        volume["projected"],
        json!({"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]})
    );
    let mount = json!([{"name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH}]);
    assert_eq!(web["spec"]["containers"][0]["volumeMounts"], mount);
    assert_eq!(web["spec"]["initContainers"][0]["volumeMounts"], mount);

    let quiet_pod = create_pod(&cluster, "quiet", "quiet").await;
    assert!(quiet_pod["spec"].get("volumes").is_none(), "{quiet_pod}");

    let mut opted_out = pod("opted-out");
    opted_out["spec"]["serviceAccountName"] = json!("builder");
    opted_out["spec"]["automountServiceAccountToken"] = json!(false);
    let opted_out = cluster.create(PODS, &opted_out).await;
    assert!(opted_out["spec"].get("volumes").is_none(), "{opted_out}");

    // No such account: admitted all the same, with the volume (Kubernetes would refuse).
    let orphan = create_pod(&cluster, "orphan", "not-yet").await;
    assert_eq!(
        orphan["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
        MOUNT_PATH
    );
}

/// POSTs `body` to `path` as the node `node` (its client certificate), answering the
/// status and the body.
async fn post_as_node(cluster: &Cluster, node: &str, path: &str, body: &Value) -> (u16, Value) {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use wasmkube_pki::{Subject, Usage};
    let identity = crate::tls::identity(
        &cluster.plane,
        &Subject::new(format!("system:node:{node}"), &["system:nodes"]),
        Usage::Client,
        &[],
    );
    let client = crate::tls::https_client_as::<Full<Bytes>>(&cluster.plane, Some(&identity));
    let request = http::Request::post(cluster.uri(path))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a well-formed request");
    let response = client.request(request).await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).expect("a JSON answer"),
    )
}

#[tokio::test]
async fn a_node_gets_tokens_only_bound_to_a_pod_that_runs_on_it() {
    let cluster = start_cluster().await;
    cluster.create(ACCOUNTS, &account("builder")).await;
    let mut bound_pods = Vec::new();
    for (name, node) in [("here", "n1"), ("there", "n2")] {
        let mut object = pod(name);
        object["spec"]["serviceAccountName"] = json!("builder");
        object["spec"]["nodeName"] = json!(node);
        let created = cluster.create(PODS, &object).await;
        bound_pods.push(json!({
            "kind": "Pod", "apiVersion": "v1", "name": name, "uid": text(&created, "/metadata/uid"),
        }));
    }
    let path = token_path("builder");

    let (status, answer) = post_as_node(&cluster, "n1", &path, &token_request(json!({}))).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(
        answer["message"],
        "serviceaccounts \"builder\" is forbidden: node requested token not bound to a pod"
    );
    let there = token_request(json!({"boundObjectRef": bound_pods[1]}));
    let (status, answer) = post_as_node(&cluster, "n1", &path, &there).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(
        answer["message"],
        "serviceaccounts \"builder\" is forbidden: node requested token bound to a pod scheduled on a different node"
    );
    let here = token_request(json!({"boundObjectRef": bound_pods[0]}));
    let (status, answer) = post_as_node(&cluster, "n1", &path, &here).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        claims(&text(&answer, "/status/token"))["kubernetes.io"]["node"]["name"],
        "n1"
    );
}
