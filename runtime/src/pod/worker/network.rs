//! Giving the pod its place on the pod network before anything of it starts: an IP from
//! the node's podCIDR (the one it had, for a pod adopted after an agent restart), which
//! its containers share, and through which probes reach it.

use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::PodIP;

use super::PodWorker;
use crate::network::{AttachError, PodIdentity, PodNetwork};
use crate::pod::probes::PodPortConnector;

impl PodWorker {
    /// Attaches the pod to the network; false (with the containers waiting in
    /// `ContainerCreating`) while the node has no podCIDR yet.
    pub(super) fn attach_network(&mut self) -> bool {
        if self.network.is_some() {
            return true;
        }
        let previous_ip = self
            .pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        let identity = PodIdentity {
            namespace: self.pod.metadata.namespace.clone().unwrap_or_default(),
            name: self.pod.metadata.name.clone().unwrap_or_default(),
            uid: self.uid.clone(),
        };
        match self.context.network.attach_pod(identity, previous_ip) {
            Ok(network) => {
                self.port_connector = Some(Arc::clone(&network) as Arc<dyn PodPortConnector>);
                self.network = Some(Arc::clone(&network));
                self.show_pod_ip(&network);
                true
            }
            Err(error) => {
                let message = match error {
                    AttachError::NoPodCidr => {
                        "network is not ready: the node has no podCIDR yet".to_owned()
                    }
                    AttachError::Exhausted(_) => format!("failed to assign a pod IP: {error}"),
                };
                for record in self.init.iter_mut().chain(self.app.iter_mut()) {
                    if !record.ever_started {
                        record.wait("ContainerCreating", Some(message.clone()));
                    }
                }
                false
            }
        }
    }

    /// The pod's network, for its containers' sockets.
    pub(super) fn pod_network(&self) -> Option<Arc<PodNetwork>> {
        self.network.clone()
    }

    /// Puts the IP in this worker's copy of the pod, so that the downward API
    /// (`status.podIP`) sees it before the status round-trips through the API.
    fn show_pod_ip(&mut self, network: &PodNetwork) {
        let ip = network.ip.to_string();
        let status = self.pod.status.get_or_insert_with(Default::default);
        status.pod_ip = Some(ip.clone());
        status.pod_ips = Some(vec![PodIP { ip }]);
    }
}
