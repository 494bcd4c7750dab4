//! The `kubernetes` Service's endpoints, kept by the API server itself as kube-apiserver's
//! endpoint reconciler does (`pkg/controlplane/reconcilers`): an Endpoints object and an
//! EndpointSlice, both named `kubernetes` in `default`, listing the address nodes reach
//! the API server at (its advertise address) with the port `https` it really listens on.
//! kube-proxy, here the node's pod network, routes the Service's cluster IP to them, so a
//! pod with its ServiceAccount token can call the API.
//!
//! The Service has no selector, so the endpoints controllers leave these objects alone;
//! the Endpoints carry `endpointslice.kubernetes.io/skip-mirror: "true"` and the slice only
//! `kubernetes.io/service-name: kubernetes`, exactly as Kubernetes writes them. Both are
//! reset whenever they change (a watch) and every ten seconds (kube-apiserver's endpoint
//! reconciler interval).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CoreEndpointPort, EndpointSubset, Endpoints, Service,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SliceEndpointPort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

/// The Service's namespace and name.
pub const NAMESPACE: &str = "default";
pub const NAME: &str = "kubernetes";
/// The name of the Service's (and its endpoints') only port.
pub const PORT_NAME: &str = "https";
/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label that keeps the EndpointSlice mirroring controller away from an Endpoints
/// object whose slice is written by its owner.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";

/// How often the endpoints are checked even when no change was seen (kube-apiserver's
/// `EndpointInterval`).
const RECONCILE_INTERVAL: Duration = Duration::from_secs(10);

/// The address nodes reach the API server at, as kube-apiserver's `--advertise-address`:
/// the one configured, else the listen address, else (listening on every address) the
/// address of the interface that holds the default route, else another non-loopback IPv4
/// address of the host, else loopback (a host without a network, where only `up`'s own
/// node can reach it anyway).
pub fn advertise_address(listen: IpAddr, configured: Option<IpAddr>) -> IpAddr {
    if let Some(address) = configured {
        return address;
    }
    if !listen.is_unspecified() {
        return listen;
    }
    host_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The host's address as kube-apiserver's `ChooseHostInterface` picks it: the default
/// route's interface first.
fn host_address() -> Option<IpAddr> {
    let networks = sysinfo::Networks::new_with_refreshed_list()
        .inspect_err(|error| tracing::warn!(%error, "cannot list the host's addresses"))
        .ok()?;
    let reachable = |address: &IpAddr| match address {
        IpAddr::V4(address) => {
            !address.is_loopback() && !address.is_link_local() && !address.is_unspecified()
        }
        IpAddr::V6(_) => false,
    };
    let default_interface = default_route_interface();
    let on_default_route = default_interface.as_deref().and_then(|interface| {
        networks
            .get(std::ffi::OsStr::new(interface))?
            .ip_networks()
            .iter()
            .map(|network| network.addr)
            .find(reachable)
    });
    on_default_route.or_else(|| {
        networks
            .values()
            .flat_map(|interface| interface.ip_networks().iter().map(|network| network.addr))
            .filter(reachable)
            .min()
    })
}

/// The interface of the IPv4 default route, from Linux's routing table (None elsewhere).
fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [interface, "00000000", _, _, _, _, _, "00000000", ..] => Some((*interface).to_owned()),
            _ => None,
        }
    })
}

/// Keeps the endpoints current until the process ends: on every change to the Service or
/// its endpoints, and every ten seconds.
pub async fn run(client: kube::Client, endpoint: SocketAddr) {
    let by_name = watcher::Config::default().fields(&format!("metadata.name={NAME}"));
    let services = watcher(
        Api::<Service>::namespaced(client.clone(), NAMESPACE),
        by_name.clone(),
    )
    .default_backoff()
    .map(|_| ())
    .boxed();
    let endpoints = watcher(
        Api::<Endpoints>::namespaced(client.clone(), NAMESPACE),
        by_name,
    )
    .default_backoff()
    .map(|_| ())
    .boxed();
    let slices = watcher(
        Api::<EndpointSlice>::namespaced(client.clone(), NAMESPACE),
        watcher::Config::default().labels(&format!("{SERVICE_NAME_LABEL}={NAME}")),
    )
    .default_backoff()
    .map(|_| ())
    .boxed();
    let mut changes = stream::select_all([services, endpoints, slices]);
    let mut ticker = tokio::time::interval(RECONCILE_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(()) = changes.next() => {}
        }
        if let Err(error) = reconcile(&client, endpoint).await {
            tracing::warn!(%error, "cannot update the endpoints of the kubernetes Service");
        }
    }
}

/// One pass: the Service's target port, its Endpoints and its EndpointSlice made to say
/// that the API server is at `endpoint`. A write that conflicts fails; the next change or
/// tick tries again from a fresh read.
pub async fn reconcile(client: &kube::Client, endpoint: SocketAddr) -> Result<(), kube::Error> {
    let port = i32::from(endpoint.port());
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    // Without the Service its endpoints would be leftovers, which the endpoints
    // controller deletes: they are written only while it exists.
    let Some(service) = services.get_opt(NAME).await? else {
        return Ok(());
    };
    reconcile_target_port(&services, service, port).await?;
    reconcile_endpoints(client, endpoint.ip(), port).await?;
    reconcile_endpoint_slices(client, endpoint.ip(), port).await
}

/// The Service's `https` port targets the port the API server listens on, as
/// kube-apiserver's kubernetes-service controller keeps it.
async fn reconcile_target_port(
    services: &Api<Service>,
    mut service: Service,
    port: i32,
) -> Result<(), kube::Error> {
    let Some(service_port) = service
        .spec
        .as_mut()
        .and_then(|spec| spec.ports.as_mut())
        .and_then(|ports| {
            ports
                .iter_mut()
                .find(|service_port| service_port.name.as_deref() == Some(PORT_NAME))
        })
    else {
        return Ok(());
    };
    if service_port.target_port == Some(IntOrString::Int(port)) {
        return Ok(());
    }
    service_port.target_port = Some(IntOrString::Int(port));
    services
        .replace(NAME, &PostParams::default(), &service)
        .await?;
    Ok(())
}

fn endpoints_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(SKIP_MIRROR_LABEL.to_owned(), "true".to_owned())])
}

fn endpoints_subsets(address: IpAddr, port: i32) -> Vec<EndpointSubset> {
    vec![EndpointSubset {
        addresses: Some(vec![EndpointAddress {
            ip: address.to_string(),
            ..EndpointAddress::default()
        }]),
        ports: Some(vec![CoreEndpointPort {
            name: Some(PORT_NAME.to_owned()),
            port,
            protocol: Some("TCP".to_owned()),
            app_protocol: None,
        }]),
        not_ready_addresses: None,
    }]
}

async fn reconcile_endpoints(
    client: &kube::Client,
    address: IpAddr,
    port: i32,
) -> Result<(), kube::Error> {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), NAMESPACE);
    let labels = endpoints_labels();
    let subsets = endpoints_subsets(address, port);
    match api.get_opt(NAME).await? {
        None => {
            let endpoints = Endpoints {
                metadata: ObjectMeta {
                    name: Some(NAME.to_owned()),
                    namespace: Some(NAMESPACE.to_owned()),
                    labels: Some(labels),
                    ..ObjectMeta::default()
                },
                subsets: Some(subsets),
            };
            api.create(&PostParams::default(), &endpoints).await?;
        }
        Some(mut current) => {
            if current.subsets.as_ref() == Some(&subsets)
                && current.metadata.labels.as_ref() == Some(&labels)
            {
                return Ok(());
            }
            tracing::warn!(%address, port, "resetting the endpoints of the kubernetes Service");
            current.metadata.labels = Some(labels);
            current.subsets = Some(subsets);
            api.replace(NAME, &PostParams::default(), &current).await?;
        }
    }
    Ok(())
}

fn address_type(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

fn slice_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(SERVICE_NAME_LABEL.to_owned(), NAME.to_owned())])
}

fn slice_endpoints(address: IpAddr) -> Vec<Endpoint> {
    vec![Endpoint {
        addresses: vec![address.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(true),
            ..EndpointConditions::default()
        }),
        ..Endpoint::default()
    }]
}

fn slice_ports(port: i32) -> Vec<SliceEndpointPort> {
    vec![SliceEndpointPort {
        name: Some(PORT_NAME.to_owned()),
        port: Some(port),
        protocol: Some("TCP".to_owned()),
        app_protocol: None,
    }]
}

/// The slice named `kubernetes` of the advertise address's family; any other slice of
/// the Service is deleted, as Kubernetes deletes a stale slice of the other family.
async fn reconcile_endpoint_slices(
    client: &kube::Client,
    address: IpAddr,
    port: i32,
) -> Result<(), kube::Error> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let listing = ListParams::default().labels(&format!("{SERVICE_NAME_LABEL}={NAME}"));
    let family = address_type(address);
    let (mut primary, others): (Vec<EndpointSlice>, Vec<EndpointSlice>) = api
        .list(&listing)
        .await?
        .items
        .into_iter()
        .partition(|slice| {
            slice.metadata.name.as_deref() == Some(NAME) && slice.address_type == family
        });
    for other in others {
        let Some(name) = other.metadata.name.as_deref() else {
            continue;
        };
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let labels = slice_labels();
    let endpoints = slice_endpoints(address);
    let ports = slice_ports(port);
    match primary.pop() {
        None => {
            let slice = EndpointSlice {
                metadata: ObjectMeta {
                    name: Some(NAME.to_owned()),
                    namespace: Some(NAMESPACE.to_owned()),
                    labels: Some(labels),
                    ..ObjectMeta::default()
                },
                address_type: family.to_owned(),
                endpoints,
                ports: Some(ports),
            };
            api.create(&PostParams::default(), &slice).await?;
        }
        Some(mut current) => {
            if current.endpoints == endpoints
                && current.ports.as_ref() == Some(&ports)
                && current.metadata.labels.as_ref() == Some(&labels)
            {
                return Ok(());
            }
            tracing::warn!(%address, port, "resetting the EndpointSlice of the kubernetes Service");
            current.metadata.labels = Some(labels);
            current.endpoints = endpoints;
            current.ports = Some(ports);
            api.replace(NAME, &PostParams::default(), &current).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertise_address_is_the_configured_one_then_the_listen_address() {
        let configured: IpAddr = "192.0.2.7".parse().expect("an address");
        let listen: IpAddr = "198.51.100.1".parse().expect("an address");
        assert_eq!(advertise_address(listen, Some(configured)), configured);
        assert_eq!(advertise_address(listen, None), listen);
        assert_eq!(
            advertise_address(IpAddr::V4(Ipv4Addr::LOCALHOST), None),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "up's default listen address is what its own node dials"
        );
        let chosen = advertise_address(IpAddr::V4(Ipv4Addr::UNSPECIFIED), None);
        assert!(
            !chosen.is_unspecified(),
            "listening everywhere advertises one real address: {chosen}"
        );
    }
}
