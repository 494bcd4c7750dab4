//! The pod network end to end, with a real `wasmkube up` and a second `wasmkube node`:
//! a client pod in one namespace reaches a 3-replica Deployment in another through the
//! Service's short and full DNS names, spread over every ready replica and never to a pod
//! failing its readiness probe; pods on the two nodes reach each other; and the Service's
//! NodePort answers from the host.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::{Cluster, http_get, ok};
use wasmkube_wasm_guests::WasmTarget;

const SHOP: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: echo:1
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: echo-unready
  namespace: shop
  labels: {app: echo}
spec:
  containers:
  - name: echo
    image: echo:1
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /status/503, port: http}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: shop
spec:
  type: NodePort
  selector: {app: echo}
  ports:
  - {name: web, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: echo-lb
  namespace: shop
spec:
  type: LoadBalancer
  selector: {app: echo}
  ports:
  - {name: web, port: 8000, targetPort: http}
"#;

fn client_pod(name: &str, url: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: echo-client:1
    args: ["{url}", "--count", "24", "--interval-ms", "20"]
"#
    )
}

/// The pods that answered, from echo-client's lines (`200 <first line naming the pod>`).
fn answering_pods(logs: &str, candidates: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in logs.lines().filter(|line| line.starts_with("200 ")) {
        for pod in candidates.iter().filter(|pod| line.contains(pod.as_str())) {
            *counts.entry(pod.clone()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn services_dns_readiness_node_ports_and_pods_across_two_nodes() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster =
        Cluster::start_with_arguments(&directory.path().join("server"), &["--node-name", "first"]);
    let _second = cluster.start_node_with_arguments(
        "second",
        &directory.path().join("second"),
        &["--node-endpoint", "127.0.0.2:0"],
    );
    for (name, image) in [("echo", "echo:1"), ("echo-client", "echo-client:1")] {
        cluster.push_guest(name, WasmTarget::P2, image);
    }
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(SHOP)));
    cluster.wait_for_jsonpath(
        &["deployment", "echo", "-n", "shop"],
        "{.status.readyReplicas}",
        Duration::from_secs(90),
        |ready| ready == "3",
    );
    let placements = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{\"\\n\"}{end}",
        ],
    ));
    let node_of: BTreeMap<String, String> = placements
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(pod, node)| (pod.to_owned(), node.to_owned()))
        .collect();
    let replicas: BTreeSet<String> = node_of
        .keys()
        .filter(|pod| pod.as_str() != "echo-unready")
        .cloned()
        .collect();
    assert_eq!(replicas.len(), 3, "{placements}");
    let nodes: BTreeSet<&String> = node_of.values().collect();
    assert_eq!(
        nodes.len(),
        2,
        "the pods spread over both nodes: {placements}"
    );

    // kubectl shows what the endpoints controllers keep: the ready replicas only.
    let ready_ips = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "endpoints",
            "echo",
            "-n",
            "shop",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ],
    ));
    assert_eq!(ready_ips.split_whitespace().count(), 3, "{ready_ips}");
    let slices = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "endpointslices",
            "-n",
            "shop",
            "-l",
            "kubernetes.io/service-name=echo",
        ],
    ));
    assert!(
        slices.contains("IPv4") && slices.contains("8080"),
        "{slices}"
    );

    let everyone: BTreeSet<String> = node_of.keys().cloned().collect();
    for (client, url) in [
        ("by-namespace", "http://echo.shop/"),
        ("by-fqdn", "http://echo.shop.svc.cluster.local/"),
    ] {
        ok(cluster.kubectl_with_input(
            "kubectl",
            &["apply", "-f", "-"],
            Some(&client_pod(client, url)),
        ));
        cluster.wait_for_jsonpath(
            &["pod", client],
            "{.status.phase}",
            Duration::from_secs(60),
            |phase| phase == "Succeeded" || phase == "Failed",
        );
        let logs = ok(cluster.kubectl("kubectl", &["logs", client]));
        let answered = answering_pods(&logs, &everyone);
        assert_eq!(
            answered.keys().cloned().collect::<BTreeSet<_>>(),
            replicas,
            "{client}: every ready replica answers, the unready pod never:\n{logs}"
        );
        assert_eq!(answered.values().sum::<usize>(), 24, "{client}:\n{logs}");
        let client_node = ok(cluster.kubectl(
            "kubectl",
            &["get", "pod", client, "-o", "jsonpath={.spec.nodeName}"],
        ));
        assert!(
            answered.keys().any(|pod| node_of[pod] != client_node),
            "{client} on {client_node} reached a pod of the other node: {node_of:?}"
        );
    }

    let node_port = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "service",
            "echo",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    ));
    let answer = http_get(&format!("127.0.0.1:{node_port}"), "/from-the-host");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        replicas.iter().any(|pod| answer.contains(pod.as_str())),
        "a ready replica answered the NodePort: {answer}"
    );

    // A LoadBalancer Service: its ingress lists the nodes, and it is served like a
    // NodePort on each node's address.
    let ingress = cluster.wait_for_jsonpath(
        &["service", "echo-lb", "-n", "shop"],
        "{.status.loadBalancer.ingress[*].ip}",
        Duration::from_secs(30),
        |ips| ips.split_whitespace().count() == 2,
    );
    assert_eq!(ingress.trim(), "127.0.0.1 127.0.0.2");
    let balancer_port = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "service",
            "echo-lb",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    ));
    for node_address in ["127.0.0.1", "127.0.0.2"] {
        let answer = http_get(
            &format!("{node_address}:{balancer_port}"),
            "/through-the-balancer",
        );
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{node_address}: {answer}"
        );
    }
}

/// An echo pod listening on a port nothing else on the host uses.
const LONE_ECHO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: lone
spec:
  containers:
  - name: echo
    image: echo:1
    args: ["--port", "18437"]
"#;

#[test]
fn a_pods_port_is_reached_from_the_host_only_through_port_forward() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(&directory.path().join("server"));
    cluster.push_guest("echo", WasmTarget::P2, "echo:1");
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(LONE_ECHO)));
    cluster.wait_for_jsonpath(
        &["pod", "lone"],
        "{.status.phase}",
        Duration::from_secs(60),
        |phase| phase == "Running",
    );
    // The guest listens on its pod's network, not on any of the host's addresses.
    for host in ["127.0.0.1", "0.0.0.0"] {
        let refused = std::net::TcpStream::connect(format!("{host}:18437"));
        assert!(
            refused.is_err(),
            "the host must not listen on 18437 ({host})"
        );
    }

    let (mut forward, local) = cluster.port_forward(&["pod/lone", ":18437"]);
    let answer = http_get(&format!("127.0.0.1:{local}"), "/through-port-forward");
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("lone"), "{answer}");
}
