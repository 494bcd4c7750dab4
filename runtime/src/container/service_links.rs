//! The Service environment variables every container gets, as the kubelet makes them
//! (pkg/kubelet/envvars): `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`, one
//! `{SVC}_SERVICE_PORT_{NAME}` per named port, and the Docker-links style `{SVC}_PORT…`
//! variables, for the Services of the pod's namespace (unless `enableServiceLinks` is
//! false) and the `kubernetes` Service of `default`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::network::cluster_view::{ClusterSnapshot, ServiceEntry};

/// The variables for the pod, in a stable order.
pub fn service_link_variables(pod: &Pod, cluster: &ClusterSnapshot) -> Vec<(String, String)> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links_enabled = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.enable_service_links)
        .unwrap_or(true);
    // Services of the pod's namespace win over the master services of the same name.
    let mut chosen: BTreeMap<&str, &ServiceEntry> = BTreeMap::new();
    for service in cluster.services() {
        let is_master = service.namespace == "default" && service.name == "kubernetes";
        if is_master && !chosen.contains_key(service.name.as_str()) {
            chosen.insert(&service.name, service);
        }
    }
    if links_enabled {
        for service in cluster
            .services()
            .filter(|service| service.namespace == namespace)
        {
            chosen.insert(&service.name, service);
        }
    }
    chosen
        .values()
        .filter(|service| service.cluster_ip.is_some() && !service.ports.is_empty())
        .flat_map(|service| variables_of(service))
        .collect()
}

fn environment_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn variables_of(service: &ServiceEntry) -> Vec<(String, String)> {
    let Some(ip) = service.cluster_ip else {
        return Vec::new();
    };
    let name = environment_name(&service.name);
    let mut variables = vec![(format!("{name}_SERVICE_HOST"), ip.to_string())];
    let Some(first) = service.ports.first() else {
        return variables;
    };
    variables.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
    for port in service.ports.iter().filter(|port| !port.name.is_empty()) {
        variables.push((
            format!("{name}_SERVICE_PORT_{}", environment_name(&port.name)),
            port.port.to_string(),
        ));
    }
    let url = |port: &crate::network::cluster_view::ServicePortEntry| {
        format!(
            "{}://{ip}:{}",
            port.protocol.to_ascii_lowercase(),
            port.port
        )
    };
    variables.push((format!("{name}_PORT"), url(first)));
    for port in &service.ports {
        let prefix = format!(
            "{name}_PORT_{}_{}",
            port.port,
            port.protocol.to_ascii_uppercase()
        );
        variables.push((prefix.clone(), url(port)));
        variables.push((
            format!("{prefix}_PROTO"),
            port.protocol.to_ascii_lowercase(),
        ));
        variables.push((format!("{prefix}_PORT"), port.port.to_string()));
        variables.push((format!("{prefix}_ADDR"), ip.to_string()));
    }
    variables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::cluster_view::{EgressPolicy, ServicePortEntry};
    use std::net::Ipv4Addr;

    fn service(
        namespace: &str,
        name: &str,
        ip: Option<[u8; 4]>,
        ports: &[(&str, u16)],
    ) -> ServiceEntry {
        ServiceEntry {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            cluster_ip: ip.map(Ipv4Addr::from),
            ports: ports
                .iter()
                .map(|(name, port)| ServicePortEntry {
                    name: (*name).to_owned(),
                    port: *port,
                    protocol: "TCP".to_owned(),
                    node_port: None,
                })
                .collect(),
            client_ip_affinity: None,
            endpoints: Vec::new(),
        }
    }

    fn pod(namespace: &str, links: Option<bool>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [], "enableServiceLinks": links},
        }))
        .expect("a pod")
    }

    #[test]
    fn the_kubelets_variables_for_the_namespaces_services_and_the_master_service() {
        let cluster = ClusterSnapshot::new(
            vec![
                service(
                    "default",
                    "kubernetes",
                    Some([10, 96, 0, 1]),
                    &[("https", 443)],
                ),
                service(
                    "shop",
                    "echo-api",
                    Some([10, 96, 0, 20]),
                    &[("http", 80), ("", 9090)],
                ),
                service("shop", "headless", None, &[("http", 80)]),
                service("other", "elsewhere", Some([10, 96, 0, 30]), &[("http", 80)]),
            ],
            Vec::new(),
            EgressPolicy::default(),
        );
        let variables: BTreeMap<String, String> =
            service_link_variables(&pod("shop", None), &cluster)
                .into_iter()
                .collect();
        assert_eq!(variables["ECHO_API_SERVICE_HOST"], "10.96.0.20");
        assert_eq!(variables["ECHO_API_SERVICE_PORT"], "80");
        assert_eq!(variables["ECHO_API_SERVICE_PORT_HTTP"], "80");
        assert_eq!(variables["ECHO_API_PORT"], "tcp://10.96.0.20:80");
        assert_eq!(variables["ECHO_API_PORT_9090_TCP"], "tcp://10.96.0.20:9090");
        assert_eq!(variables["ECHO_API_PORT_9090_TCP_PROTO"], "tcp");
        assert_eq!(variables["ECHO_API_PORT_9090_TCP_PORT"], "9090");
        assert_eq!(variables["ECHO_API_PORT_9090_TCP_ADDR"], "10.96.0.20");
        assert_eq!(variables["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
        assert_eq!(variables["KUBERNETES_SERVICE_PORT_HTTPS"], "443");
        assert!(!variables.keys().any(|name| name.starts_with("HEADLESS_")));
        assert!(!variables.keys().any(|name| name.starts_with("ELSEWHERE_")));

        let without_links: BTreeMap<String, String> =
            service_link_variables(&pod("shop", Some(false)), &cluster)
                .into_iter()
                .collect();
        assert!(without_links.contains_key("KUBERNETES_SERVICE_HOST"));
        assert!(
            !without_links
                .keys()
                .any(|name| name.starts_with("ECHO_API"))
        );
    }
}
