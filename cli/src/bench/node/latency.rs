//! Pod start-up latencies and their percentiles: p50, p90 and p99, the ones Kubernetes'
//! pod start-up SLI is stated in.

use std::time::Instant;

use super::super::samples::{nanoseconds_between, percentile};

/// The distribution of a set of latencies in nanoseconds, by nearest rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: usize,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub max: i64,
}

impl LatencySummary {
    pub fn of(mut samples: Vec<i64>) -> LatencySummary {
        samples.sort_unstable();
        LatencySummary {
            count: samples.len(),
            p50: percentile(&samples, 50),
            p90: percentile(&samples, 90),
            p99: percentile(&samples, 99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// When one pod's creation was sent, answered, and its pod first seen Running.
#[derive(Clone, Copy, Debug)]
pub struct PodStartTimes {
    pub sent: Instant,
    pub acknowledged: Instant,
    pub running_seen: Instant,
}

impl PodStartTimes {
    /// From just before the create was sent until the watch delivered phase Running.
    pub fn until_running(&self) -> i64 {
        nanoseconds_between(self.sent, self.running_seen)
    }

    /// From just before the create was sent until its 201 was read.
    pub fn until_acknowledged(&self) -> i64 {
        nanoseconds_between(self.sent, self.acknowledged)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_include_p90() {
        let summary = LatencySummary::of((1..=200).rev().collect());
        assert_eq!(
            summary,
            LatencySummary {
                count: 200,
                p50: 100,
                p90: 180,
                p99: 198,
                max: 200
            }
        );
        let few = LatencySummary::of(vec![30, 10, 20]);
        assert_eq!((few.p50, few.p90, few.p99, few.max), (20, 30, 30, 30));
        assert_eq!(LatencySummary::of(Vec::new()).count, 0);
    }

    #[test]
    fn start_times_are_measured_from_the_create_being_sent() {
        let sent = Instant::now();
        let times = PodStartTimes {
            sent,
            acknowledged: sent + Duration::from_micros(700),
            running_seen: sent + Duration::from_micros(3200),
        };
        assert_eq!(times.until_acknowledged(), 700_000);
        assert_eq!(times.until_running(), 3_200_000);
    }
}
