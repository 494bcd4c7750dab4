//! wasi:http components: a component exporting `wasi:http/incoming-handler@0.2.x` runs as
//! a container that serves HTTP/1.1 on the pod network, one fresh instance per request
//! (as `wasmtime serve` does), and any guest's outgoing wasi:http requests go through the
//! pod network: cluster DNS, Services, other pods, and the outside only where egress is
//! allowed.
//!
//! - `linking.rs`: which exports make a component servable, and the wasi:http imports.
//! - `serving.rs`: the container's listener and its connections.
//! - `request.rs`: one request, one instance: its store, the handler's call, its answer.
//! - `outgoing.rs`: `wasi:http/outgoing-handler` over the pod network (plain HTTP only).

mod linking;
mod outgoing;
mod request;
mod serving;

use k8s_openapi::api::core::v1::Container;

pub use linking::{add_to_linker, is_served_handler};
pub use outgoing::PodHttpHooks;
pub(super) use serving::serve;

/// The port an HTTP component is served on when its container declares none, the port
/// most HTTP examples and images default to (and `examples/http`'s manifests use).
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// The port a container's HTTP component is served on: its TCP `containerPort` named
/// `http`, else its first TCP `containerPort`, else [`DEFAULT_HTTP_PORT`]. Kubernetes'
/// `ports` are informational, but they are where a pod says where it listens, and a
/// wasi:http component has no `bind` of its own to say it.
pub fn container_http_port(container: &Container) -> u16 {
    let tcp_ports: Vec<(Option<&str>, u16)> = container
        .ports
        .iter()
        .flatten()
        .filter(|port| {
            port.protocol
                .as_deref()
                .is_none_or(|protocol| protocol == "TCP")
        })
        .filter_map(|port| {
            let number = u16::try_from(port.container_port)
                .ok()
                .filter(|number| *number != 0)?;
            Some((port.name.as_deref(), number))
        })
        .collect();
    tcp_ports
        .iter()
        .find(|(name, _)| *name == Some("http"))
        .or_else(|| tcp_ports.first())
        .map_or(DEFAULT_HTTP_PORT, |(_, number)| *number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerPort;

    fn port(number: i32, protocol: Option<&str>, name: Option<&str>) -> ContainerPort {
        ContainerPort {
            container_port: number,
            protocol: protocol.map(str::to_owned),
            name: name.map(str::to_owned),
            ..ContainerPort::default()
        }
    }

    #[test]
    fn the_port_named_http_is_served_else_the_first_tcp_one_else_8080() {
        let mut container = Container::default();
        assert_eq!(container_http_port(&container), 8080);
        container.ports = Some(vec![
            port(53, Some("UDP"), None),
            port(9000, None, None),
            port(9001, Some("TCP"), None),
        ]);
        assert_eq!(container_http_port(&container), 9000);
        container.ports = Some(vec![
            port(70000, Some("TCP"), None),
            port(8443, Some("TCP"), None),
        ]);
        assert_eq!(
            container_http_port(&container),
            8443,
            "an impossible port is skipped"
        );
        container.ports = Some(vec![
            port(9090, None, Some("metrics")),
            port(8081, None, Some("http")),
        ]);
        assert_eq!(container_http_port(&container), 8081);
    }
}
