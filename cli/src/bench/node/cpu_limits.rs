//! The CPU limit's accuracy: a CPU-bound guest (`testbox spin-for SECONDS`) alone under
//! each limit, and the share of a core it got (its CPU time over the wall time).

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use wasmkube_runtime::limits::cpu::CpuQuota;
use wasmkube_runtime::limits::{NodeDefaultLimits, container_limits};

use super::direct::DirectRuntime;

pub struct CpuLimitReport {
    pub millicores: u64,
    /// What the node enforces for that limit: none at a whole core or more, since a
    /// single-threaded guest cannot use more.
    pub quota: Option<CpuQuota>,
    pub wall: Duration,
    pub cpu: Duration,
    pub throttled_periods: u64,
}

impl CpuLimitReport {
    /// The share of one core the guest got.
    pub fn share(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    /// How far the share is from the limit, as a fraction of the limit.
    pub fn error(&self) -> f64 {
        let limit = self.millicores as f64 / 1000.0;
        self.share() / limit.min(1.0) - 1.0
    }
}

/// The quota the node agent gives a container whose `limits.cpu` is `millicores`: the
/// very mapping pods go through.
fn quota_for(millicores: u64) -> anyhow::Result<Option<CpuQuota>> {
    let container = Container {
        name: "spin".to_owned(),
        resources: Some(ResourceRequirements {
            limits: Some(
                [
                    ("cpu".to_owned(), Quantity(format!("{millicores}m"))),
                    ("memory".to_owned(), Quantity("64Mi".to_owned())),
                ]
                .into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let limits = container_limits(&container, &NodeDefaultLimits::default())
        .with_context(|| format!("the node refuses a CPU limit of {millicores}m"))?;
    Ok(limits.cpu)
}

pub async fn run(
    runtime: &DirectRuntime,
    millicores: u64,
    duration: Duration,
) -> anyhow::Result<CpuLimitReport> {
    anyhow::ensure!(millicores > 0, "a CPU limit must be at least 1m");
    let quota = quota_for(millicores)?;
    let argv: Vec<String> = [
        "testbox".to_owned(),
        "spin-for".to_owned(),
        duration.as_secs_f64().to_string(),
    ]
    .to_vec();
    let run = runtime.run(&argv, quota).await?;
    Ok(CpuLimitReport {
        millicores,
        quota,
        wall: run.wall,
        cpu: run.cpu,
        throttled_periods: run.throttled_periods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_map_to_the_nodes_quota_and_a_whole_core_is_not_throttled() {
        assert_eq!(quota_for(250).unwrap(), Some(CpuQuota { millicores: 250 }));
        assert_eq!(quota_for(500).unwrap(), Some(CpuQuota { millicores: 500 }));
        assert_eq!(quota_for(1000).unwrap(), None);
    }

    #[test]
    fn the_share_is_compared_with_at_most_one_core() {
        let report = |millicores, cpu_ms| CpuLimitReport {
            millicores,
            quota: None,
            wall: Duration::from_millis(1000),
            cpu: Duration::from_millis(cpu_ms),
            throttled_periods: 0,
        };
        assert!((report(500, 520).error() - 0.04).abs() < 1e-9);
        assert!((report(2000, 990).error() + 0.01).abs() < 1e-9);
        assert!((report(250, 250).share() - 0.25).abs() < 1e-9);
    }
}
