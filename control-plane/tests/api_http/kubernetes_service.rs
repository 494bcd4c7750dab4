//! The `kubernetes` Service's endpoints over real HTTP: the API server writes an Endpoints
//! object and an EndpointSlice for `default/kubernetes` naming its own address and the
//! port it listens on, as kube-apiserver's endpoint reconciler does, puts them back when
//! they are deleted or changed, and leaves them alone when they are right.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Cluster, start_cluster, text};
use wasmkube_control_plane::api::ApiOptions;

const SERVICE: &str = "/api/v1/namespaces/default/services/kubernetes";
const ENDPOINTS: &str = "/api/v1/namespaces/default/endpoints/kubernetes";
const SLICE: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes";
/// How long the API server may take to repair its endpoints after a change.
const PATIENCE: Duration = Duration::from_secs(10);

/// Reads `path` until `check` accepts it.
async fn eventually(cluster: &Cluster, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = cluster.get(path).await;
        if reply.status.as_u16() == 200 {
            let object = reply.json();
            if check(&object) {
                return object;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{path} never became right: {}",
            String::from_utf8_lossy(&reply.body)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names_address(object: &Value, address: &str, port: u16) -> bool {
    object["subsets"]
        == json!([{
            "addresses": [{"ip": address}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }])
}

fn slice_names_address(object: &Value, address: &str, port: u16) -> bool {
    object["endpoints"] == json!([{"addresses": [address], "conditions": {"ready": true}}])
        && object["ports"] == json!([{"name": "https", "port": port, "protocol": "TCP"}])
}

#[tokio::test]
async fn the_api_server_keeps_the_kubernetes_services_endpoints() {
    let cluster = start_cluster().await;
    let port = cluster.plane.address.port();

    let service = cluster.get(SERVICE).await.expect(200);
    assert_eq!(service["spec"]["clusterIP"], "10.96.0.1", "{service}");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]),
        "the Service targets the port the API server really listens on"
    );
    assert!(service["spec"].get("selector").is_none(), "{service}");

    let endpoints = cluster.get(ENDPOINTS).await.expect(200);
    assert!(
        names_address(&endpoints, "127.0.0.1", port),
        "the listen address and port: {endpoints}"
    );
    assert_eq!(
        endpoints["metadata"]["labels"],
        json!({"endpointslice.kubernetes.io/skip-mirror": "true"})
    );

    let slice = cluster.get(SLICE).await.expect(200);
    assert_eq!(slice["addressType"], "IPv4", "{slice}");
    assert!(slice_names_address(&slice, "127.0.0.1", port), "{slice}");
    assert_eq!(
        slice["metadata"]["labels"],
        json!({"kubernetes.io/service-name": "kubernetes"}),
        "no managed-by label: the endpoints controllers' slices are not these"
    );

    // Right endpoints are left alone: checking them again writes nothing.
    let advertised = std::net::SocketAddr::new([127, 0, 0, 1].into(), port);
    wasmkube_control_plane::kubernetes_service::reconcile(&cluster.plane.client, advertised)
        .await
        .expect("a reconcile");
    assert_eq!(
        text(
            &cluster.get(ENDPOINTS).await.expect(200),
            "/metadata/resourceVersion"
        ),
        text(&endpoints, "/metadata/resourceVersion")
    );
    assert_eq!(
        text(
            &cluster.get(SLICE).await.expect(200),
            "/metadata/resourceVersion"
        ),
        text(&slice, "/metadata/resourceVersion")
    );

    // Deleted or changed, they come back.
    cluster.delete(SLICE).await.expect(200);
    eventually(&cluster, SLICE, |slice| {
        slice_names_address(slice, "127.0.0.1", port)
    })
    .await;
    let mut tampered = endpoints.clone();
    tampered["subsets"][0]["addresses"] = json!([{"ip": "192.0.2.1"}]);
    cluster.put(ENDPOINTS, &tampered).await.expect(200);
    eventually(&cluster, ENDPOINTS, |endpoints| {
        names_address(endpoints, "127.0.0.1", port)
    })
    .await;
}

#[tokio::test]
async fn the_advertise_address_is_what_the_endpoints_name() {
    let cluster = crate::support::start_cluster_with(ApiOptions {
        advertise_address: Some("192.0.2.10".parse().expect("an address")),
        ..ApiOptions::default()
    })
    .await;
    let port = cluster.plane.address.port();
    let endpoints = cluster.get(ENDPOINTS).await.expect(200);
    assert!(names_address(&endpoints, "192.0.2.10", port), "{endpoints}");
    let slice = cluster.get(SLICE).await.expect(200);
    assert!(slice_names_address(&slice, "192.0.2.10", port), "{slice}");
}
