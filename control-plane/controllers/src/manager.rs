//! Starting and stopping every controller together.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::task::JoinSet;

use crate::node_ipam::Ipv4Cidr;

/// The controller manager's settings, named after kube-controller-manager's flags.
#[derive(Clone, Debug)]
pub struct ControllerManagerOptions {
    /// How long a node's Lease may go unrenewed before the node is marked unreachable
    /// (`--node-monitor-grace-period`, 40 s in Kubernetes).
    pub node_monitor_grace_period: Duration,
    /// How often each HorizontalPodAutoscaler is evaluated
    /// (`--horizontal-pod-autoscaler-sync-period`, 15 s).
    pub horizontal_pod_autoscaler_sync_period: Duration,
    /// How far back the autoscaler looks for the highest recommendation before it scales
    /// down (`--horizontal-pod-autoscaler-downscale-stabilization`, 5 min), when the
    /// HorizontalPodAutoscaler's own `behavior` does not say.
    pub horizontal_pod_autoscaler_downscale_stabilization: Duration,
    /// The range the pod network's addresses come from, cut into one block per node
    /// (`--cluster-cidr`; Kubernetes has none by default, wasmkube's pod network uses
    /// 10.244.0.0/16).
    pub cluster_cidr: Ipv4Cidr,
    /// The prefix length of each node's block (`--node-cidr-mask-size`). Kubernetes'
    /// default is 24 (254 addresses, for its 110 pods per node); a wasmkube node runs up to
    /// 1,000 pods by default, so its blocks are /22 (1,022 addresses, 64 nodes in /16).
    pub node_cidr_mask_size: u8,
    /// The most endpoints one EndpointSlice holds (`--max-endpoints-per-slice`, 100).
    pub max_endpoints_per_slice: usize,
}

impl Default for ControllerManagerOptions {
    fn default() -> Self {
        ControllerManagerOptions {
            node_monitor_grace_period: Duration::from_secs(40),
            horizontal_pod_autoscaler_sync_period: Duration::from_secs(15),
            horizontal_pod_autoscaler_downscale_stabilization: Duration::from_secs(300),
            cluster_cidr: Ipv4Cidr::POD_NETWORK,
            node_cidr_mask_size: 22,
            max_endpoints_per_slice: 100,
        }
    }
}

/// The running controllers. Dropping it stops them all, which is how tests restart the
/// controller manager in the middle of a rollout.
pub struct ControllerManager {
    controllers: JoinSet<()>,
}

impl ControllerManager {
    pub fn start(client: Client, options: ControllerManagerOptions) -> ControllerManager {
        let options = Arc::new(options);
        let mut controllers = JoinSet::new();
        controllers.spawn(crate::replicaset::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::deployment::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::daemonset::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::statefulset::run(
            client.clone(),
            Arc::clone(&options),
        ));
        controllers.spawn(crate::job::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::cronjob::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::garbage_collector::run(
            client.clone(),
            Arc::clone(&options),
        ));
        controllers.spawn(crate::node_lifecycle::run(
            client.clone(),
            Arc::clone(&options),
        ));
        controllers.spawn(crate::endpoints::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::endpointslice::run(
            client.clone(),
            Arc::clone(&options),
        ));
        controllers.spawn(crate::node_ipam::run(client.clone(), Arc::clone(&options)));
        controllers.spawn(crate::service_load_balancer::run(
            client.clone(),
            Arc::clone(&options),
        ));
        controllers.spawn(crate::horizontal_pod_autoscaler::run(client, options));
        ControllerManager { controllers }
    }

    /// Stops every controller and waits until they have stopped.
    pub async fn stop(mut self) {
        self.controllers.abort_all();
        while self.controllers.join_next().await.is_some() {}
    }
}
