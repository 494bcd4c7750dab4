//! Pods reach the API server through the `kubernetes` Service, end to end with a real
//! `wasmkube up` (egress not allowed): a guest opens TLS 1.2 handshakes to 10.96.0.1:443
//! and to kubernetes.default.svc:443, and the certificate that comes back is the API
//! server's own (signed by the cluster CA, named kube-apiserver, naming the Service). The
//! guest's ClientHello is hand-made (testbox's `tls-hello`) and no key exchange follows:
//! this proves the route reaches the real API server, not a full TLS session. A Service of
//! the pod's own naming the same host address is not a way out: its connection fails.

mod support;

use std::time::Duration;

use support::{Cluster, ok};
use wasmkube_wasm_guests::{WasmTarget, guest};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The pod that asks for the API server both ways, and what it must get.
const CALLER: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: api-caller
spec:
  restartPolicy: Never
  containers:
  - name: by-ip
    image: testbox:1
    args: [tls-hello, "10.96.0.1:443", kubernetes.default.svc]
  - name: by-name
    image: testbox:1
    args: [tls-hello, "kubernetes.default.svc:443", kubernetes.default.svc]
"#;

/// A selector-less Service whose hand-written EndpointSlice names the API server's host
/// address: only the `kubernetes` Service's endpoints are dialled on the host.
fn sneaky_service(api_server_port: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata:
  name: sneaky
spec:
  ports:
  - {{name: https, port: 443, targetPort: {api_server_port}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sneaky
  labels: {{kubernetes.io/service-name: sneaky}}
addressType: IPv4
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {{ready: true}}
ports:
- {{name: https, port: {api_server_port}, protocol: TCP}}
---
apiVersion: v1
kind: Pod
metadata:
  name: sneaky-caller
spec:
  restartPolicy: Never
  containers:
  - name: sneaky
    image: testbox:1
    args: [tls-hello, "sneaky:443", kubernetes.default.svc]
"#
    )
}

fn wait_for_phase(cluster: &Cluster, pod: &str, phase: &str) {
    cluster.wait_for_jsonpath(
        &["pod", pod],
        "{.status.phase}",
        Duration::from_secs(60),
        |current| {
            assert!(
                current != "Failed" || phase == "Failed",
                "{pod} failed: {}",
                ok(cluster.kubectl("kubectl", &["logs", pod, "--all-containers"]))
            );
            current == phase
        },
    );
}

/// The certificate a container's `tls-hello` printed, after checking it connected where
/// it was told and was answered in TLS 1.2.
fn certificate_from_logs(cluster: &Cluster, container: &str, connected_to: &str) -> Vec<u8> {
    let logs = ok(cluster.kubectl("kubectl", &["logs", "api-caller", "-c", container]));
    assert!(
        logs.lines()
            .any(|line| line == format!("connected to {connected_to}")),
        "{container}: {logs}"
    );
    assert!(
        logs.lines()
            .any(|line| line.starts_with("server-hello version=0303 ")),
        "{container}: {logs}"
    );
    let hex = logs
        .lines()
        .find_map(|line| line.strip_prefix("certificate "))
        .unwrap_or_else(|| panic!("{container} printed no certificate: {logs}"));
    (0..hex.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&hex[index..index + 2], 16).expect("hex"))
        .collect()
}

fn check_is_the_api_servers(certificate_der: &[u8], authority_der: &[u8]) {
    let (_, certificate) = X509Certificate::from_der(certificate_der).expect("a certificate");
    let (_, authority) = X509Certificate::from_der(authority_der).expect("the CA");
    certificate
        .verify_signature(Some(authority.public_key()))
        .expect("signed by the cluster CA");
    let common_name = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|name| name.as_str().ok());
    assert_eq!(common_name, Some("kube-apiserver"));
    let names = certificate
        .subject_alternative_name()
        .expect("a valid extension")
        .expect("subject alternative names");
    assert!(
        names
            .value
            .general_names
            .contains(&GeneralName::DNSName("kubernetes.default.svc")),
        "{:?}",
        names.value.general_names
    );
    assert!(
        names
            .value
            .general_names
            .contains(&GeneralName::IPAddress(&[10, 96, 0, 1])),
        "{:?}",
        names.value.general_names
    );
}

#[test]
fn pods_reach_the_api_server_through_the_kubernetes_service() {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(data_dir.path());
    let testbox = guest("testbox", WasmTarget::P2).display().to_string();
    ok(cluster.wasmkube(&["image", "push", &testbox, "testbox:1"]));
    let api_server_port = cluster
        .address
        .rsplit_once(':')
        .map(|(_, port)| port.to_owned())
        .expect("host:port");
    let endpoint = cluster.wait_for_jsonpath(
        &["endpointslice", "kubernetes"],
        "{.endpoints[0].addresses[0]}:{.ports[0].port}",
        Duration::from_secs(10),
        |endpoint| !endpoint.is_empty(),
    );
    assert_eq!(endpoint, cluster.address, "the API server's own address");

    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(CALLER)));
    wait_for_phase(&cluster, "api-caller", "Succeeded");
    let authority_pem = std::fs::read(data_dir.path().join("tls").join("ca.crt")).expect("ca.crt");
    let authority = pem::parse(authority_pem).expect("the CA in PEM");
    for (container, connected_to) in [("by-ip", "10.96.0.1:443"), ("by-name", "10.96.0.1:443")] {
        let certificate = certificate_from_logs(&cluster, container, connected_to);
        check_is_the_api_servers(&certificate, authority.contents());
    }

    ok(cluster.kubectl_with_input(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&sneaky_service(&api_server_port)),
    ));
    wait_for_phase(&cluster, "sneaky-caller", "Failed");
    let logs = ok(cluster.kubectl("kubectl", &["logs", "sneaky-caller"]));
    assert!(
        logs.contains("cannot connect to 10.96."),
        "another Service's host endpoint is not dialled: {logs}"
    );
}
