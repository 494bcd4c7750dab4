//! The controller manager's flags, named and defaulted as kube-controller-manager's, with
//! durations written as Kubernetes writes them ("40s", "5m", "1h30m").

use std::time::Duration;

use wasmkube_controllers::ControllerManagerOptions;
use wasmkube_controllers::node_ipam::Ipv4Cidr;

#[derive(clap::Args)]
pub struct ControllerManagerArgs {
    /// How long a node's Lease may go unrenewed before the node is marked unreachable and
    /// its pods are evicted.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// How often each HorizontalPodAutoscaler is evaluated.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    horizontal_pod_autoscaler_sync_period: Duration,
    /// How far back the autoscaler looks before it scales down, when an autoscaler's own
    /// behavior does not say.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    horizontal_pod_autoscaler_downscale_stabilization: Duration,
    /// The range pod IPs come from, cut into one podCIDR per node.
    #[arg(long, default_value = "10.244.0.0/16")]
    cluster_cidr: Ipv4Cidr,
    /// The prefix length of each node's podCIDR (22: room for the default 1,000 pods).
    #[arg(long, default_value_t = 22)]
    node_cidr_mask_size: u8,
    /// The most endpoints one EndpointSlice holds.
    #[arg(long, default_value_t = 100)]
    max_endpoints_per_slice: usize,
}

impl ControllerManagerArgs {
    pub fn options(&self) -> ControllerManagerOptions {
        ControllerManagerOptions {
            node_monitor_grace_period: self.node_monitor_grace_period,
            horizontal_pod_autoscaler_sync_period: self.horizontal_pod_autoscaler_sync_period,
            horizontal_pod_autoscaler_downscale_stabilization: self
                .horizontal_pod_autoscaler_downscale_stabilization,
            cluster_cidr: self.cluster_cidr,
            node_cidr_mask_size: self.node_cidr_mask_size,
            max_endpoints_per_slice: self.max_endpoints_per_slice,
        }
    }
}

/// A duration as Go's time.ParseDuration reads the common cases ("40s", "5m0s", "1h30m",
/// "250ms"), and never negative.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|error| format!("invalid duration {text:?}: {error}"))?;
    Duration::try_from(signed).map_err(|_| format!("invalid duration {text:?}: it is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubernetes_writes_them() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(
            parse_duration("-5s")
                .expect_err("negative")
                .contains("negative")
        );
        assert!(
            parse_duration("soon")
                .expect_err("not a duration")
                .contains("\"soon\"")
        );
    }
}
