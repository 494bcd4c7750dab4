//! Cluster DNS, answered by the node itself inside wasi:sockets' name lookup: the names a
//! pod's resolv.conf would resolve through CoreDNS in Kubernetes (search path
//! `<ns>.svc.cluster.local svc.cluster.local cluster.local`, `ndots:5`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::cluster_view::ClusterSnapshot;

pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// `ndots` of a pod's resolv.conf: a name with fewer dots is tried with the search
/// domains first.
const NDOTS: usize = 5;

/// What the cluster's DNS says about a name.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Addresses(Vec<IpAddr>),
    /// Not a cluster name: the outside world's DNS would be asked.
    External(String),
    /// A cluster name that does not exist (NXDOMAIN).
    NotFound,
}

/// The pod asking, for its search path and its own names.
pub struct Asker<'a> {
    pub namespace: &'a str,
    pub pod_name: &'a str,
    pub pod_ip: Ipv4Addr,
}

pub fn resolve(name: &str, asker: &Asker<'_>, cluster: &ClusterSnapshot) -> Resolution {
    let name = name.to_ascii_lowercase();
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Resolution::Addresses(vec![ip]);
    }
    if name == "localhost" || name == "localhost." {
        return Resolution::Addresses(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    // The pod's /etc/hosts in Kubernetes names the pod itself.
    if name == asker.pod_name {
        return Resolution::Addresses(vec![IpAddr::V4(asker.pod_ip)]);
    }
    let (name, absolute) = match name.strip_suffix('.') {
        Some(stripped) => (stripped.to_owned(), true),
        None => (name, false),
    };
    for candidate in candidates(&name, absolute, asker.namespace) {
        match lookup_cluster_name(&candidate, cluster) {
            Some(Resolution::NotFound) | None => continue,
            Some(found) => return found,
        }
    }
    if in_cluster_domain(&name) {
        Resolution::NotFound
    } else {
        Resolution::External(name)
    }
}

/// The fully qualified names tried in order, as a stub resolver with the pod's search
/// path does.
fn candidates(name: &str, absolute: bool, namespace: &str) -> Vec<String> {
    if absolute {
        return vec![name.to_owned()];
    }
    let search = [
        format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
        format!("svc.{CLUSTER_DOMAIN}"),
        CLUSTER_DOMAIN.to_owned(),
    ];
    let with_search = search.iter().map(|domain| format!("{name}.{domain}"));
    if name.matches('.').count() >= NDOTS {
        std::iter::once(name.to_owned())
            .chain(with_search)
            .collect()
    } else {
        with_search
            .chain(std::iter::once(name.to_owned()))
            .collect()
    }
}

fn in_cluster_domain(name: &str) -> bool {
    name == CLUSTER_DOMAIN || name.ends_with(&format!(".{CLUSTER_DOMAIN}"))
}

/// A fully qualified name inside the cluster domain: `svc.ns.svc.cluster.local`,
/// `host.svc.ns.svc.cluster.local` (a headless Service's pod), `a-b-c-d.ns.pod.cluster.local`.
/// None when the name is outside the cluster domain.
fn lookup_cluster_name(name: &str, cluster: &ClusterSnapshot) -> Option<Resolution> {
    let relative = name.strip_suffix(&format!(".{CLUSTER_DOMAIN}"))?;
    let labels: Vec<&str> = relative.split('.').collect();
    let found = match labels.as_slice() {
        [service, namespace, "svc"] => service_addresses(cluster, namespace, service),
        [hostname, service, namespace, "svc"] => cluster
            .service(namespace, service)
            .and_then(|service| {
                service
                    .endpoints
                    .iter()
                    .find(|endpoint| endpoint.hostname.as_deref() == Some(*hostname))
            })
            .map(|endpoint| vec![IpAddr::V4(endpoint.ip)]),
        [dashed, _namespace, "pod"] => dashed
            .replace('-', ".")
            .parse::<Ipv4Addr>()
            .ok()
            .map(|ip| vec![IpAddr::V4(ip)]),
        _ => None,
    };
    Some(match found {
        Some(addresses) if !addresses.is_empty() => Resolution::Addresses(addresses),
        _ => Resolution::NotFound,
    })
}

/// A Service's cluster IP, or a headless Service's ready endpoints.
fn service_addresses(
    cluster: &ClusterSnapshot,
    namespace: &str,
    name: &str,
) -> Option<Vec<IpAddr>> {
    let service = cluster.service(namespace, name)?;
    if let Some(ip) = service.cluster_ip {
        return Some(vec![IpAddr::V4(ip)]);
    }
    let mut addresses: Vec<IpAddr> = service
        .endpoints
        .iter()
        .filter(|endpoint| endpoint.ready)
        .map(|endpoint| IpAddr::V4(endpoint.ip))
        .collect();
    addresses.sort();
    addresses.dedup();
    Some(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::cluster_view::{
        EgressPolicy, EndpointEntry, ServiceEntry, ServicePortEntry,
    };
    use std::collections::HashMap;

    fn cluster() -> ClusterSnapshot {
        let endpoint = |last: u8, hostname: Option<&str>| EndpointEntry {
            ip: Ipv4Addr::new(10, 244, 0, last),
            ready: true,
            hostname: hostname.map(str::to_owned),
            ports: HashMap::from([(String::new(), 8080)]),
        };
        let port = ServicePortEntry {
            name: String::new(),
            port: 80,
            protocol: "TCP".to_owned(),
            node_port: None,
        };
        ClusterSnapshot::new(
            vec![
                ServiceEntry {
                    namespace: "shop".to_owned(),
                    name: "echo".to_owned(),
                    cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 20)),
                    ports: vec![port.clone()],
                    client_ip_affinity: None,
                    endpoints: vec![endpoint(5, None)],
                },
                ServiceEntry {
                    namespace: "shop".to_owned(),
                    name: "db".to_owned(),
                    cluster_ip: None,
                    ports: vec![port],
                    client_ip_affinity: None,
                    endpoints: vec![endpoint(7, Some("db-0")), endpoint(6, Some("db-1"))],
                },
            ],
            Vec::new(),
            EgressPolicy::default(),
        )
    }

    fn asker(namespace: &str) -> Asker<'_> {
        Asker {
            namespace,
            pod_name: "client",
            pod_ip: Ipv4Addr::new(10, 244, 0, 9),
        }
    }

    fn addresses(list: &[&str]) -> Resolution {
        Resolution::Addresses(list.iter().map(|ip| ip.parse().expect("an IP")).collect())
    }

    #[test]
    fn a_service_resolves_by_every_name_a_pod_may_use() {
        let cluster = cluster();
        let same_namespace = asker("shop");
        let other_namespace = asker("default");
        assert_eq!(
            resolve("echo", &same_namespace, &cluster),
            addresses(&["10.96.0.20"])
        );
        assert_eq!(
            resolve("echo", &other_namespace, &cluster),
            Resolution::External("echo".to_owned())
        );
        for name in [
            "echo.shop",
            "echo.shop.svc",
            "echo.shop.svc.cluster.local",
            "ECHO.shop.svc.cluster.local.",
        ] {
            assert_eq!(
                resolve(name, &other_namespace, &cluster),
                addresses(&["10.96.0.20"]),
                "{name}"
            );
        }
        assert_eq!(
            resolve("nothing.shop.svc.cluster.local", &other_namespace, &cluster),
            Resolution::NotFound
        );
    }

    #[test]
    fn headless_services_resolve_to_their_pods_and_pods_by_hostname() {
        let cluster = cluster();
        let asker = asker("shop");
        assert_eq!(
            resolve("db", &asker, &cluster),
            addresses(&["10.244.0.6", "10.244.0.7"])
        );
        assert_eq!(
            resolve("db-0.db", &asker, &cluster),
            addresses(&["10.244.0.7"])
        );
        assert_eq!(
            resolve("db-1.db.shop.svc.cluster.local", &asker, &cluster),
            addresses(&["10.244.0.6"])
        );
        assert_eq!(
            resolve("10-244-0-3.shop.pod.cluster.local", &asker, &cluster),
            addresses(&["10.244.0.3"])
        );
    }

    #[test]
    fn localhost_literals_and_the_pods_own_name() {
        let cluster = cluster();
        let asker = asker("shop");
        assert_eq!(
            resolve("localhost", &asker, &cluster),
            addresses(&["127.0.0.1", "::1"])
        );
        assert_eq!(
            resolve("10.1.2.3", &asker, &cluster),
            addresses(&["10.1.2.3"])
        );
        assert_eq!(
            resolve("client", &asker, &cluster),
            addresses(&["10.244.0.9"])
        );
        assert_eq!(
            resolve("example.com", &asker, &cluster),
            Resolution::External("example.com".to_owned())
        );
    }
}
