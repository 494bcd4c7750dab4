use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn service(spec: Value, status: Value) -> Value {
    json!({
        "kind": "Service",
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T07:00:00Z"},
        "spec": spec,
        "status": status
    })
}

#[test]
fn cluster_ip_service() {
    let web = service(
        json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
               "selector": {"app": "web"}}),
        json!({"loadBalancer": {}}),
    );
    assert_eq!(
        service_cells(&web, now()),
        [
            json!("web"),
            json!("ClusterIP"),
            json!("10.96.0.10"),
            json!("<none>"),
            json!("80/TCP"),
            json!("3h"),
            json!("app=web")
        ]
    );
}

#[test]
fn node_port_service_shows_node_ports() {
    let web = service(
        json!({"type": "NodePort", "clusterIPs": ["10.96.3.4"],
               "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080},
                         {"port": 53, "protocol": "UDP", "nodePort": 30053}]}),
        json!({}),
    );
    let cells = service_cells(&web, now());
    assert_eq!(
        cells[1..5],
        [
            json!("NodePort"),
            json!("10.96.3.4"),
            json!("<none>"),
            json!("80:30080/TCP,53:30053/UDP")
        ]
    );
    assert_eq!(cells[6], json!("<none>"));
}

#[test]
fn load_balancer_service_pending_then_assigned() {
    let pending = service(
        json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.7"], "ports": [{"port": 443, "protocol": "TCP", "nodePort": 31443}]}),
        json!({"loadBalancer": {}}),
    );
    assert_eq!(service_cells(&pending, now())[3], json!("<pending>"));
    let assigned = service(
        json!({"type": "LoadBalancer", "externalIPs": ["203.0.113.9"]}),
        json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.2"}, {"hostname": "lb.example.com"}, {"ip": "198.51.100.2"}]}}),
    );
    assert_eq!(
        service_cells(&assigned, now())[3],
        json!("198.51.100.2,lb.example.com,203.0.113.9")
    );
}

#[test]
fn external_name_and_headless_services() {
    let external = service(
        json!({"type": "ExternalName", "externalName": "db.example.com"}),
        json!({}),
    );
    assert_eq!(
        service_cells(&external, now())[1..5],
        [
            json!("ExternalName"),
            json!("<none>"),
            json!("db.example.com"),
            json!("<none>")
        ]
    );
    let headless = service(
        json!({"type": "ClusterIP", "clusterIP": "None", "ports": [{"port": 5432, "protocol": "TCP"}]}),
        json!({}),
    );
    assert_eq!(
        service_cells(&headless, now())[1..4],
        [json!("ClusterIP"), json!("None"), json!("<none>")]
    );
    assert_eq!(
        service_cells(&json!({}), now())[1..5],
        [
            json!(""),
            json!("<none>"),
            json!("<unknown>"),
            json!("<none>")
        ]
    );
    let odd_type = service(json!({"type": "Weird"}), json!({}));
    assert_eq!(service_cells(&odd_type, now())[3], json!("<unknown>"));
}

#[test]
fn endpoints_list_ip_port_pairs_with_more() {
    let endpoints = json!({
        "metadata": {"name": "web"},
        "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090}]},
            {"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 8080}]}
        ]
    });
    assert_eq!(
        endpoints_cells(&endpoints, now()),
        [
            json!("web"),
            json!("10.0.0.1:8080,10.0.0.2:8080,10.0.0.1:9090 + 2 more..."),
            json!("<unknown>")
        ]
    );
    let small = json!({"subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]},
                                   {"addresses": [{"ip": "10.1.1.1"}]}]});
    assert_eq!(
        endpoints_cells(&small, now())[1],
        json!("[fd00::5]:80,10.1.1.1")
    );
    assert_eq!(endpoints_cells(&json!({}), now())[1], json!("<none>"));
}

#[test]
fn endpoint_slice_lists_ports_and_addresses() {
    let slice = json!({
        "metadata": {"name": "web-abc12", "creationTimestamp": "2024-05-01T09:59:00Z"},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "grpc"}, {}],
        "endpoints": [
            {"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
            {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}
        ]
    });
    assert_eq!(
        endpoint_slice_cells(&slice, now()),
        [
            json!("web-abc12"),
            json!("IPv4"),
            json!("80,grpc,*"),
            json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
            json!("60s")
        ]
    );
    assert_eq!(
        endpoint_slice_cells(&json!({}), now())[1..4],
        [json!(""), json!("<unset>"), json!("<unset>")]
    );
}

#[test]
fn service_columns_match_kubernetes() {
    let summary: Vec<(&str, i32)> = service_columns()
        .iter()
        .map(|column| (column.name, column.priority))
        .collect();
    assert_eq!(
        summary,
        [
            ("Name", 0),
            ("Type", 0),
            ("Cluster-IP", 0),
            ("External-IP", 0),
            ("Port(s)", 0),
            ("Age", 0),
            ("Selector", 1)
        ]
    );
}
