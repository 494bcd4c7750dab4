//! NodePort and LoadBalancer Services on the host: for every such Service port the node
//! listens on its own address at the nodePort and forwards each connection to one of the
//! Service's ready endpoints, as kube-proxy does. These are the only host sockets the
//! pod network listens on (with the tunnel), and the node, not a guest, owns them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::NodeNetwork;
use super::cluster_view::ClusterSnapshot;

/// Where one host port forwards to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Forward {
    cluster_ip: std::net::Ipv4Addr,
    port: u16,
}

struct OpenPort {
    forward: Forward,
    task: JoinHandle<()>,
}

impl Drop for OpenPort {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct NodePorts {
    network: NodeNetwork,
    open: HashMap<u16, OpenPort>,
}

impl NodePorts {
    pub fn new(network: NodeNetwork) -> NodePorts {
        NodePorts {
            network,
            open: HashMap::new(),
        }
    }

    /// Opens the host ports the snapshot's Services need and closes the others.
    pub async fn reconcile(&mut self, snapshot: &ClusterSnapshot) {
        let mut wanted: HashMap<u16, Forward> = HashMap::new();
        for service in snapshot.services() {
            let Some(cluster_ip) = service.cluster_ip else {
                continue;
            };
            for port in &service.ports {
                if let Some(node_port) = port.node_port
                    && port.protocol == "TCP"
                {
                    wanted.insert(
                        node_port,
                        Forward {
                            cluster_ip,
                            port: port.port,
                        },
                    );
                }
            }
        }
        self.open
            .retain(|node_port, open| wanted.get(node_port) == Some(&open.forward));
        for (node_port, forward) in wanted {
            if self.open.contains_key(&node_port) {
                continue;
            }
            let address = SocketAddr::new(self.network.node_address(), node_port);
            match TcpListener::bind(address).await {
                Ok(listener) => {
                    let task =
                        tokio::spawn(forward_connections(listener, self.network.clone(), forward));
                    self.open.insert(node_port, OpenPort { forward, task });
                }
                Err(error) => {
                    tracing::warn!(%address, "cannot open the NodePort: {error}");
                }
            }
        }
    }
}

async fn forward_connections(listener: TcpListener, network: NodeNetwork, forward: Forward) {
    loop {
        let Ok((mut client, peer)) = listener.accept().await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let network = network.clone();
        tokio::spawn(async move {
            // kube-proxy masquerades NodePort traffic as the node's own (with
            // externalTrafficPolicy: Cluster): the endpoint sees the node's address.
            let source = SocketAddr::new(network.node_address(), peer.port());
            let destination = SocketAddr::new(IpAddr::V4(forward.cluster_ip), forward.port);
            match network.connect_from_node(destination, source).await {
                Ok(mut pod_end) => {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut pod_end).await;
                }
                Err(error) => {
                    tracing::debug!(%peer, %destination, "NodePort connection failed: {error}");
                }
            }
        });
    }
}
