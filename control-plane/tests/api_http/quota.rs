//! LimitRange and ResourceQuota admission: defaults and limits applied to pods, quotas that
//! refuse what does not fit with Kubernetes' messages, and quota status that follows creates
//! and deletes.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::*;

/// How long the resource quota controller may take to recount after a deletion. Generous: it
/// only bounds a broken controller; no test depends on how fast it is.
const RECOUNT_PATIENCE: Duration = Duration::from_secs(30);

/// Creates a namespace of the test's own, so nothing else in the cluster counts, and waits
/// for the `kube-root-ca.crt` ConfigMap that every namespace holds: it is made before any
/// quota, so quotas count it from the start, as they would in Kubernetes.
async fn namespace(cluster: &Cluster, name: &str) -> String {
    cluster
        .create("/api/v1/namespaces", &json!({"metadata": {"name": name}}))
        .await;
    cluster.wait_for_root_ca(name).await;
    format!("/api/v1/namespaces/{name}")
}

fn resource_quota(name: &str, hard: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}})
}

fn pod_with_resources(name: &str, resources: Value) -> Value {
    let mut pod = pod(name);
    pod["spec"]["containers"][0]["resources"] = resources;
    pod
}

async fn quota_used(cluster: &Cluster, path: &str) -> Value {
    cluster.get(path).await.expect(200)["status"]["used"].clone()
}

/// Waits until the quota's `status.used` is `expected`.
async fn wait_for_used(cluster: &Cluster, path: &str, expected: &Value) {
    let deadline = tokio::time::Instant::now() + RECOUNT_PATIENCE;
    loop {
        let used = quota_used(cluster, path).await;
        if &used == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status.used stayed {used}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn limit_range_defaults_fill_a_pod_without_resources() {
    let cluster = start_cluster().await;
    let limits = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}
    ]}});
    cluster
        .create("/api/v1/namespaces/default/limitranges", &limits)
        .await;

    let created = cluster.create(PODS, &pod("web")).await;
    assert_eq!(
        created["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
    );
    assert_eq!(
        created["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"
    );
    // The QoS class is decided after LimitRanger has filled in the defaults.
    assert_eq!(created["status"]["qosClass"], "Burstable");

    // What a pod states itself is kept.
    let own = pod_with_resources("own", json!({"limits": {"cpu": "1", "memory": "128Mi"}}));
    let created = cluster.create(PODS, &own).await;
    assert_eq!(
        created["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "1", "memory": "128Mi"}})
    );
    assert_eq!(created["status"]["qosClass"], "Guaranteed");
}

#[tokio::test]
async fn a_pod_over_a_limit_range_maximum_is_refused_and_nothing_is_stored() {
    let cluster = start_cluster().await;
    let limits = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "caps"}, "spec": {"limits": [
        {"type": "Container", "max": {"memory": "1Gi"}},
        {"type": "Pod", "max": {"cpu": "2"}}
    ]}});
    cluster
        .create("/api/v1/namespaces/default/limitranges", &limits)
        .await;

    let big = pod_with_resources("big", json!({"limits": {"memory": "2Gi", "cpu": "1"}}));
    let status = cluster
        .post(PODS, &big)
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"big\" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi"
    );
    assert_eq!(status["details"], json!({"name": "big", "kind": "pods"}));
    cluster
        .get(&format!("{PODS}/big"))
        .await
        .expect_failure(404, "NotFound");

    let mut wide = pod_with_resources("wide", json!({"limits": {"memory": "1Gi", "cpu": "1500m"}}));
    wide["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "sidecar", "image": "registry.example/sidecar:1", "resources": {"limits": {"memory": "64Mi", "cpu": "1"}}}));
    let status = cluster
        .post(PODS, &wide)
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"wide\" is forbidden: maximum cpu usage per Pod is 2, but limit is 2500m"
    );

    // A Pod maximum needs every container to state a limit; the Container maximum became the
    // default memory limit (SetDefaults_LimitRangeItem), but nothing gives a cpu limit.
    let status = cluster
        .post(PODS, &pod("unlimited"))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"unlimited\" is forbidden: maximum cpu usage per Pod is 2.  No limit is specified"
    );

    let fitting = pod_with_resources("fitting", json!({"limits": {"memory": "1Gi", "cpu": "1"}}));
    cluster.create(PODS, &fitting).await;
    assert_eq!(cluster.list_names(PODS).await, ["fitting"]);
}

#[tokio::test]
async fn a_pod_count_quota_admits_two_pods_and_refuses_the_third() {
    let cluster = start_cluster().await;
    let pods = format!("{}/pods", namespace(&cluster, "counted").await);
    let quotas = "/api/v1/namespaces/counted/resourcequotas";
    let created = cluster
        .create(quotas, &resource_quota("pods", json!({"pods": "2"})))
        .await;
    // The quota's status is computed when it is created, so it is usable at once.
    assert_eq!(
        created["status"],
        json!({"hard": {"pods": "2"}, "used": {"pods": "0"}})
    );

    cluster.create(&pods, &pod("web-1")).await;
    cluster.create(&pods, &pod("web-2")).await;
    let status = cluster
        .post(&pods, &pod("web-3"))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"web-3\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2"
    );
    assert_eq!(cluster.list_names(&pods).await, ["web-1", "web-2"]);
    assert_eq!(
        quota_used(&cluster, &format!("{quotas}/pods")).await,
        json!({"pods": "2"})
    );
}

#[tokio::test]
async fn object_count_quotas_limit_config_maps() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "objects").await;
    let config_maps = format!("{base}/configmaps");
    // The namespace's kube-root-ca.crt takes one of the two, so one more fits.
    cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota("objects", json!({"count/configmaps": "2", "secrets": "5"})),
        )
        .await;

    cluster
        .create(&config_maps, &config_map("first", json!({})))
        .await;
    let status = cluster
        .post(&config_maps, &config_map("second", json!({})))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "configmaps \"second\" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2"
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "stringData": {"key": "value"}});
    cluster.create(&format!("{base}/secrets"), &secret).await;
    assert_eq!(
        quota_used(&cluster, &format!("{base}/resourcequotas/objects")).await,
        json!({"count/configmaps": "2", "secrets": "1"})
    );
}

#[tokio::test]
async fn a_compute_quota_requires_limits_and_refuses_what_does_not_fit() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "compute").await;
    let pods = format!("{base}/pods");
    let quota_path = format!("{base}/resourcequotas/compute");
    cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota(
                "compute",
                json!({"limits.memory": "1Gi", "requests.cpu": "1"}),
            ),
        )
        .await;

    let status = cluster
        .post(&pods, &pod("web"))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"web\" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app"
    );

    let too_big = pod_with_resources(
        "web",
        json!({"limits": {"memory": "2Gi"}, "requests": {"cpu": "500m"}}),
    );
    let status = cluster
        .post(&pods, &too_big)
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"web\" is forbidden: exceeded quota: compute, requested: limits.memory=2Gi, used: limits.memory=0, limited: limits.memory=1Gi"
    );

    let fitting = pod_with_resources(
        "web",
        json!({"limits": {"memory": "512Mi"}, "requests": {"cpu": "500m"}}),
    );
    cluster.create(&pods, &fitting).await;
    assert_eq!(
        quota_used(&cluster, &quota_path).await,
        json!({"limits.memory": "512Mi", "requests.cpu": "500m"})
    );
    let second = pod_with_resources(
        "web-2",
        json!({"limits": {"memory": "768Mi"}, "requests": {"cpu": "250m"}}),
    );
    let status = cluster
        .post(&pods, &second)
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"web-2\" is forbidden: exceeded quota: compute, requested: limits.memory=768Mi, used: limits.memory=512Mi, limited: limits.memory=1Gi"
    );
}

#[tokio::test]
async fn quota_usage_goes_up_on_create_and_down_on_delete() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "usage").await;
    let pods = format!("{base}/pods");
    let quota_path = format!("{base}/resourcequotas/usage");
    cluster.create(&pods, &pod("early")).await;
    // A quota created after the pod counts it from the start.
    let created = cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota(
                "usage",
                json!({"pods": "5", "count/pods": "5", "configmaps": "5"}),
            ),
        )
        .await;
    // The namespace's kube-root-ca.crt is counted from the start too.
    assert_eq!(
        created["status"]["used"],
        json!({"configmaps": "1", "count/pods": "1", "pods": "1"})
    );

    cluster.create(&pods, &pod("late")).await;
    cluster
        .create(
            &format!("{base}/configmaps"),
            &config_map("settings", json!({})),
        )
        .await;
    assert_eq!(
        quota_used(&cluster, &quota_path).await,
        json!({"configmaps": "2", "count/pods": "2", "pods": "2"})
    );

    cluster.delete(&format!("{pods}/early")).await.expect(200);
    cluster
        .delete(&format!("{base}/configmaps/settings"))
        .await
        .expect(200);
    wait_for_used(
        &cluster,
        &quota_path,
        &json!({"configmaps": "1", "count/pods": "1", "pods": "1"}),
    )
    .await;

    // A pod that has finished no longer counts as a pod, but is still a stored object.
    cluster
        .merge_patch(
            &format!("{pods}/late/status"),
            &json!({"status": {"phase": "Succeeded"}}),
        )
        .await
        .expect(200);
    wait_for_used(
        &cluster,
        &quota_path,
        &json!({"configmaps": "1", "count/pods": "1", "pods": "0"}),
    )
    .await;

    // Raising the limit shows in the status at once.
    cluster
        .merge_patch(&quota_path, &json!({"spec": {"hard": {"pods": "10"}}}))
        .await
        .expect(200);
    assert_eq!(
        cluster.get(&quota_path).await.expect(200)["status"]["hard"],
        json!({"configmaps": "5", "count/pods": "5", "pods": "10"})
    );
}

#[tokio::test]
async fn dry_run_checks_quota_but_does_not_charge_it() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "dry").await;
    let pods = format!("{base}/pods");
    let quota_path = format!("{base}/resourcequotas/one");
    cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota("one", json!({"pods": "1"})),
        )
        .await;

    let dry_run = format!("{pods}?dryRun=All");
    cluster.post(&dry_run, &pod("first")).await.expect(201);
    assert_eq!(
        quota_used(&cluster, &quota_path).await,
        json!({"pods": "0"})
    );
    assert!(cluster.list_names(&pods).await.is_empty());

    cluster.create(&pods, &pod("first")).await;
    let status = cluster
        .post(&dry_run, &pod("second"))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"second\" is forbidden: exceeded quota: one, requested: pods=1, used: pods=1, limited: pods=1"
    );
}

#[tokio::test]
async fn concurrent_creates_never_overrun_a_quota() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "race").await;
    let pods = format!("{base}/pods");
    cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota("three", json!({"pods": "3"})),
        )
        .await;

    let creates = (0..10).map(|index| {
        let pods = pods.clone();
        let cluster = &cluster;
        async move { cluster.post(&pods, &pod(&format!("web-{index}"))).await }
    });
    let replies = futures::future::join_all(creates).await;
    let admitted = replies
        .iter()
        .filter(|reply| reply.status.as_u16() == 201)
        .count();
    for refused in replies.iter().filter(|reply| reply.status.as_u16() != 201) {
        refused.expect_failure(403, "Forbidden");
    }
    assert_eq!(admitted, 3);
    assert_eq!(cluster.list_names(&pods).await.len(), 3);
    assert_eq!(
        quota_used(&cluster, &format!("{base}/resourcequotas/three")).await,
        json!({"pods": "3"})
    );
}

#[tokio::test]
async fn node_port_quotas_count_ports_and_follow_type_changes() {
    let cluster = start_cluster().await;
    let base = namespace(&cluster, "ports").await;
    let services = format!("{base}/services");
    cluster
        .create(
            &format!("{base}/resourcequotas"),
            &resource_quota("ports", json!({"services.nodeports": "1"})),
        )
        .await;
    let service = |name: &str, service_type: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {
            "type": service_type, "selector": {"app": name},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
        }})
    };
    let status = cluster
        .post(&services, &service("wide", "NodePort"))
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "services \"wide\" is forbidden: exceeded quota: ports, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"
    );
    cluster
        .create(&services, &service("internal", "ClusterIP"))
        .await;
    // Turning it into a NodePort service is an update that asks for two node ports.
    let status = cluster
        .merge_patch(
            &format!("{services}/internal"),
            &json!({"spec": {"type": "NodePort"}}),
        )
        .await
        .expect_failure(403, "Forbidden");
    assert_eq!(
        status["message"],
        "services \"internal\" is forbidden: exceeded quota: ports, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"
    );
}
